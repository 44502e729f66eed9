"""What the report needs from optional packages, and the one line it says without them.

A plain `pip install esper` runs the audit and writes report.json, report.md and
results.csv; the PNG charts need matplotlib (`pip install "esper[report]"`).
"""

from __future__ import annotations

import importlib.util

PLOTS_MISSING = 'charts not drawn: matplotlib is not installed (pip install "esper[report]")'


def plots_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None
