"""pytest-benchmark suite options: ``pytest benchmarks/pytest-suite/ [--bench-device D]
[--bench-size S]``.

Left out of the default test run (testpaths is tests/), and out of the wheel: this folder's
name is no module name. The suite's clock drains CUDA
work before each reading (benchmarks.timers.synchronized_clock), once per block of loops.
"""

import pytest
import torch


def pytest_addoption(parser):
    group = parser.getgroup("esper benchmarks")
    group.addoption(
        "--bench-device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="device for the benchmark suite (default: cuda when available, else cpu)",
    )
    group.addoption(
        "--bench-size",
        default="small",
        help="size preset of the workloads, e.g. tiny, small, gpt2-small (default: small)",
    )


@pytest.fixture(scope="session")
def bench_device(request):
    choice = request.config.getoption("--bench-device")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        pytest.skip("--bench-device cuda, but torch sees no CUDA device")
    return choice


@pytest.fixture(scope="session")
def bench_size(request):
    return request.config.getoption("--bench-size")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
