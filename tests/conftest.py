"""Shared fixtures: dynamo is reset around every test so compile counts start at zero."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
