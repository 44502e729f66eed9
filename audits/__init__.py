"""The torch.compile compatibility audit: `python -m audits.run`.

Data flows one way: targets (what to audit) -> checks -> typed results
(audits.results) -> console summary and JSON. esper is imported only by
audits.builtin_targets.
"""
