"""report.json: one run's environment, its audit and/or benchmark run, as versioned JSON.

It is the only record a run leaves: every other file of its folder is rendered from it,
and a committed baseline is this document too. Loading accepts this version and the
earlier one (reporting.schema.legacy) and refuses anything else with a one-line
`ReportFormatError`, which `--baseline` prints before it exits 2.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.codec import from_jsonable, to_jsonable
from foundation.environment import EnvironmentRecord
from reporting.schema.audit import AuditRun
from reporting.schema.benchmark import BenchmarkRun

REPORT_SCHEMA = "esper.report"
REPORT_SCHEMA_VERSION = 2
REPORT_JSON = "report.json"
LATEST = "latest"  # the symlink (or pointer file) naming the newest run directory

# What decoding a malformed document can raise: missing keys, wrong types, bad enum values.
_DECODE_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


class ReportFormatError(ValueError):
    """A report or baseline that is missing, unreadable, corrupt or of another schema."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunReport:
    """Everything one run of audits.run or benchmarks.run leaves behind."""

    environment: EnvironmentRecord
    audit: AuditRun | None = None
    benchmarks: BenchmarkRun | None = None

    def __post_init__(self) -> None:
        if self.audit is None and self.benchmarks is None:
            raise ValueError(
                "a report needs an audit result, a benchmark run, or both; got neither"
            )

    @property
    def label(self) -> str:
        env = self.environment
        return f"{env.short_sha} ({env.device_kind}, torch {env.torch_version}, {env.time_utc})"


def report_to_dict(report: RunReport) -> dict[str, Any]:
    """The report as the JSON object report.json holds."""
    return {"schema": REPORT_SCHEMA, "schema_version": REPORT_SCHEMA_VERSION, **to_jsonable(report)}


def report_to_json(report: RunReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, allow_nan=False) + "\n"


def without_checkout_paths(text: str, checkout: Path | None = None) -> str:
    """`text` with absolute paths under `checkout` (default: the working directory) made
    relative to it, whether written plainly or escaped inside JSON strings.

    torch quotes the files of a traceback or an error with their absolute paths; a report
    that is committed (the baseline, the version matrix) must read the same on every machine.
    """
    prefix = str((checkout or Path.cwd()).resolve()) + os.sep
    return text.replace(json.dumps(prefix)[1:-1], "").replace(prefix, "")


def report_from_dict(document: Any) -> RunReport:
    """Rebuild a RunReport; ReportFormatError for another schema or malformed content."""
    from reporting.schema.legacy import LEGACY_VERSION, upgrade_v1

    if not isinstance(document, dict):
        raise ReportFormatError(f"expected a JSON object, got {type(document).__name__}")
    schema, version = document.get("schema"), document.get("schema_version")
    if schema != REPORT_SCHEMA or version not in (LEGACY_VERSION, REPORT_SCHEMA_VERSION):
        raise ReportFormatError(
            f"schema {schema!r} version {version!r} is not {REPORT_SCHEMA!r} "
            f"version {REPORT_SCHEMA_VERSION} (or {LEGACY_VERSION})"
        )
    try:
        if version == LEGACY_VERSION:
            document = upgrade_v1(document)
        body = {k: v for k, v in document.items() if k not in ("schema", "schema_version")}
        return from_jsonable(RunReport, body)
    except _DECODE_ERRORS as error:
        raise ReportFormatError(f"malformed report: {_one_line(error)}") from None


def report_from_json(text: str) -> RunReport:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFormatError(f"not valid JSON ({error.msg} at line {error.lineno})") from None
    return report_from_dict(document)


def load_report(path: Path) -> RunReport:
    """Read the report.json that `path` names (the file, its run directory, or `latest`);
    every failure is a one-line ReportFormatError naming the path. Nothing is ever written.
    """
    try:
        resolved = path
        if path.is_file() and path.name == LATEST and path.stat().st_size < 4096:
            # `latest` is a pointer file where the file system refused a symlink.
            resolved = path.parent / path.read_text(encoding="utf-8").strip()
        if resolved.is_dir():
            resolved = resolved / REPORT_JSON
        text = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFormatError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFormatError(f"{path}: cannot be read ({_one_line(error)})") from None
    try:
        return report_from_json(text)
    except ReportFormatError as error:
        raise ReportFormatError(f"{path}: {error}") from None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
