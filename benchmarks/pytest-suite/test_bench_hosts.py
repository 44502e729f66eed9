"""pytest-benchmark view of the hosts: eager and compiled steps side by side per workload.

``python -m benchmarks.run`` is the measurement of record (interleaved rounds, CIs, goals);
this suite is for quick local comparisons with pytest-benchmark's tooling
(--benchmark-compare, --benchmark-histogram). The compiling first call runs before timing.
"""

import pytest

from benchmarks.specs import SIZES, Topology, Variant, WorkloadSpec
from benchmarks.timers import synchronized_clock
from benchmarks.workloads import host_workload
from reporting.schema.benchmark_settings import MeasureConfig
from reporting.schema.vocabulary import CompileMode, Task

VARIANTS = (Variant.BARE, Variant.DORMANT, Variant.SEED_TRAINING)
MODES = (CompileMode.EAGER, CompileMode.DEFAULT)


@pytest.mark.benchmark(timer=synchronized_clock, warmup=True, warmup_iterations=3)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.value)
@pytest.mark.parametrize("task", tuple(Task), ids=lambda t: t.value)
@pytest.mark.parametrize("topology", tuple(Topology), ids=lambda t: t.value)
def test_step_throughput(benchmark, bench_device, bench_size, topology, task, variant, mode):
    """One step of a host workload; grouped by workload so eager and compiled sit together."""
    if (topology, bench_size) not in SIZES:
        pytest.skip(f"no {bench_size!r} preset for {topology.value}")
    spec = WorkloadSpec(topology=topology, size=bench_size, task=task, variant=variant)
    config = MeasureConfig(device=bench_device)
    step = host_workload(spec, config.seed).step(mode, config)
    step()  # compiles, for a compiled mode; never part of the timing
    benchmark.group = spec.name
    benchmark.extra_info["items_per_call"] = spec.config.items_per_call
    benchmark.extra_info["unit"] = spec.unit
    benchmark(step)
