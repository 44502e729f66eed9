"""Reading reports written before schema version 2, so that baselines, matrix reports and
a history over git keep working.

Version 1 stored the audit's own environment and resolved settings inside the audit
block, and the benchmarks' environment inside theirs, beside the report's environment;
it named the parity modes "train"/"eval" and their dtypes "float32"/"bfloat16", and its
earliest files kept a target's one benchmark result under `benchmark`. `upgrade_v1` turns such a
document into version 2, as plain JSON values, and the ordinary decoder does the rest.
"""

from __future__ import annotations

from typing import Any

LEGACY_VERSION = 1

_MODE = {"train": "train", "eval": "infer"}
_DTYPE = {"float32": "fp32", "bfloat16": "bf16", "fp32": "fp32", "bf16": "bf16"}
# Version 1's AuditConfig fields that AuditConfig keeps under the same name.
_SETTINGS = (
    "backend device dtype quick bench hazards timeout_s jobs threads_per_job start_method "
    "fail_on target_globs user_targets"
).split()


def upgrade_v1(document: dict[str, Any]) -> dict[str, Any]:
    """A version 1 report as a version 2 document (KeyError/TypeError when malformed)."""
    audit, benchmarks = document.get("audit"), document.get("benchmarks")
    return {
        "schema": document["schema"],
        "schema_version": 2,
        "environment": document["environment"],
        "audit": None if audit is None else _audit(audit),
        "benchmarks": None if benchmarks is None else _without(benchmarks, "environment"),
    }


def _without(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in keys}


def _audit(audit: dict[str, Any]) -> dict[str, Any]:
    settings = audit["settings"]
    config = {k: settings[k] for k in _SETTINGS if k in settings}
    config["dtype"] = _DTYPE[config.get("dtype", "fp32")]
    return {
        "config": config,
        "targets": [_target(t) for t in audit.get("targets", [])],
        "duration_s": audit.get("duration_s", 0.0),
    }


def _target(target: dict[str, Any]) -> dict[str, Any]:
    target = dict(target)
    parity = target.get("parity")
    if parity is not None:
        modes = [
            {**m, "mode": _MODE[m["mode"]], "dtype": _DTYPE[m["dtype"]]}
            for m in parity.get("modes", [])
        ]
        target["parity"] = {**parity, "modes": modes}
    # The earliest version 1 files held at most one result, under `benchmark`.
    single = target.pop("benchmark", None)
    found = target.get("benchmarks") or ([single] if single is not None else [])
    target["benchmarks"] = [_without(b, "environment") for b in found]
    return target
