"""Eager vs compiled throughput, compile time and memory of esper's hosts.

``python -m benchmarks.run`` measures the built-in workloads; ``benchmark_module`` measures
any module the same way, and is what the audit calls for its host targets.
"""

from benchmarks.api import benchmark_module
from benchmarks.config import MeasureConfig
from benchmarks.results import BenchmarkResult
from benchmarks.specs import Task

__all__ = ["BenchmarkResult", "MeasureConfig", "Task", "benchmark_module"]
