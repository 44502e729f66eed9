"""report.json: the versioned document round-trips, and anything else is refused on one line."""

import json

import pytest
from support.synthetic_reports import (
    benchmark,
    breaks,
    environment,
    graph_break,
    report,
    target,
    with_audit_benchmark,
)

from reporting.schema.report import (
    REPORT_SCHEMA,
    REPORT_SCHEMA_VERSION,
    ReportFormatError,
    RunReport,
    load_report,
    report_from_json,
    report_to_dict,
    report_to_json,
)
from reporting.speedups import report_benchmarks


def _rich_report() -> RunReport:
    hazard = target("hazard/item", breaks=breaks(graph_break()), parity=None)
    host = with_audit_benchmark(target("host/cnn"), benchmark("host/cnn", 1.8, 1.7, 1.9))
    return report(hazard, host, speedups=(benchmark(),), env=environment(dirty=True))


def test_report_survives_a_json_round_trip_unchanged():
    """Writing and reading report.json gives an equal RunReport: audit, benchmarks, environment."""
    original = _rich_report()
    assert report_from_json(report_to_json(original)) == original


def test_report_json_names_its_schema_and_the_full_environment():
    """The document is versioned and records CUDA, driver, CPU model, threads, git and time."""
    document = json.loads(report_to_json(_rich_report()))
    assert (document["schema"], document["schema_version"]) == (
        REPORT_SCHEMA,
        REPORT_SCHEMA_VERSION,
    )
    for key in (
        "torch_version",
        "python_version",
        "cuda_version",
        "cuda_driver",
        "device_kind",
        "device_name",
        "cpu_model",
        "threads",
        "git_sha",
        "git_dirty",
        "time_utc",
    ):
        assert key in document["environment"], key
    assert document["environment"]["git_dirty"] is True


def test_audit_benchmarks_are_read_back_as_typed_results():
    """A host target's benchmark result comes back from report.json as a BenchmarkResult."""
    found = report_benchmarks(report_from_json(report_to_json(_rich_report())))
    assert [r.name for r in found] == ["cnn-small/infer/bare", "host/cnn"]
    assert found[1].speedup.point == pytest.approx(1.8)


def test_a_malformed_audit_benchmark_makes_the_report_unreadable():
    """A benchmark entry that does not decode is a ReportFormatError, not dropped silently."""
    document = report_to_dict(_rich_report())
    document["audit"]["targets"][1]["benchmarks"][0].pop("speedup")
    with pytest.raises(ReportFormatError, match="malformed report"):
        report_from_json(json.dumps(document))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=REPORT_SCHEMA_VERSION + 1), "version 2"),
        (lambda d: d.update(schema="esper.benchmarks"), "esper.benchmarks"),
        (lambda d: d["audit"].update(schema_version=99), "unknown fields for AuditRun"),
        (lambda d: d["environment"].pop("threads"), "malformed report"),
    ],
)
def test_other_schemas_and_malformed_documents_are_refused(mutate, message):
    """Another schema, version or a missing field raises ReportFormatError, never half-reads."""
    document = report_to_dict(_rich_report())
    mutate(document)
    with pytest.raises(ReportFormatError, match=message) as caught:
        report_from_json(json.dumps(document))
    assert "\n" not in str(caught.value)


def test_load_report_errors_are_one_line_and_name_the_file(tmp_path):
    """Missing, corrupt and non-object files each give one line with the path."""
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"schema": "esper.report", "schema_ver')
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    for path, why in (
        (tmp_path / "missing.json", "not found"),
        (corrupt, "not valid JSON"),
        (listing, "expected a JSON object"),
    ):
        with pytest.raises(ReportFormatError, match=why) as caught:
            load_report(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_report_needs_some_results():
    """An environment alone is not a report."""
    with pytest.raises(ValueError, match="neither"):
        RunReport(environment=environment())


def _version_1_document() -> dict:
    """A report as schema 1 wrote it: the audit's own environment and settings, parity
    modes "eval"/"float32", and the earliest files' single `benchmark` key."""
    document = report_to_dict(report(target("host/cnn")))
    audit = document["audit"]
    config = audit.pop("config")
    audit["schema_version"] = 1
    audit["environment"] = {"torch_version": "2.13.0", "device": "cpu", "started_at": ""}
    audit["settings"] = {k: config[k] for k in ("backend", "device", "dtype", "fail_on")}
    (only,) = audit["targets"]
    only["parity"]["modes"][0].update(mode="eval", dtype="float32")
    only["benchmark"] = None
    only.pop("shapes"), only.pop("export")
    return {**document, "schema_version": 1}


def test_a_version_1_report_is_read_into_the_current_types():
    """Baselines and matrix reports written before version 2 still load, with the words
    of today's vocabulary (eval -> infer, float32 -> fp32)."""
    loaded = report_from_json(json.dumps(_version_1_document()))
    (only,) = loaded.audit.targets
    assert only.parity.modes[0].mode.value == "infer"
    assert only.parity.modes[0].dtype.value == "fp32"
    assert only.benchmarks == () and loaded.audit.config.backend == "inductor"
