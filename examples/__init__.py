"""Worked examples: your own modules audited with `python -m audits.run --target`.

examples/README.md gives each command and what it prints.
"""
