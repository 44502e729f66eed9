"""Eager vs compiled throughput, compile time and memory of esper's hosts.

``python -m benchmarks.run`` measures the built-in workloads; ``benchmark_module`` measures
any module the same way, and is what the audit calls for its host targets. CnnSize and
TransformerSize are the host sizes both tools build their hosts at.
"""

from benchmarks.api import benchmark_module
from benchmarks.specs import CnnSize, TransformerSize
from reporting.schema.benchmark import BenchmarkResult
from reporting.schema.benchmark_settings import MeasureConfig
from reporting.schema.vocabulary import Task

__all__ = [
    "BenchmarkResult",
    "CnnSize",
    "MeasureConfig",
    "Task",
    "TransformerSize",
    "benchmark_module",
]
