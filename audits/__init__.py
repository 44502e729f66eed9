"""The torch.compile compatibility audit: `python -m audits.run`.

Data flows one way: targets (what to audit) -> checks -> typed results
(reporting.schema.audit) -> the run's report (reporting). esper is imported only by
the files that declare targets (audits.builtin_targets, audits.hazards).
"""
