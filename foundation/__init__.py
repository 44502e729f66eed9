"""What both tools stand on: the run's environment, one JSON codec, atomic files, CLI
usage errors, device resolution and CPU counts, child processes, scoped torch settings.

It imports torch and nothing of esper, audits, benchmarks or reporting.
"""
