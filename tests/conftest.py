"""Shared fixtures: dynamo is reset around every test so compile counts start at zero.

Tests marked `expensive` (minutes of fresh-interpreter compiles or multi-process launches)
run only with `--run-expensive` (`tox -e expensive`, and the CI workflow): without it
they are skipped with that reason, so the default run stays a few minutes on 2 cores.
"""

import pytest
import torch


def pytest_addoption(parser):
    parser.addoption(
        "--run-expensive",
        action="store_true",
        help="also run the tests marked expensive (minutes each on 2 cores)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-expensive"):
        return
    skip = pytest.mark.skip(reason="expensive: minutes on 2 cores; run with --run-expensive")
    for item in items:
        if "expensive" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
