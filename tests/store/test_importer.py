from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slo_analysis import frames
from slo_analysis.cli import app
from slo_analysis.exceptions import MissingKeyError, TruncatedInputError
from slo_analysis.store import Snapshot, import_files, snapshot_summary
from tests.conftest import AWS_FIXTURES

CLI = AWS_FIXTURES / "cli-examples"


def _state(snap_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(snap_dir)): p.read_bytes() for p in sorted(snap_dir.rglob("*")) if p.is_file()}


def test_fixtures_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    # Copy under meaningless names: recognition must not depend on them.
    src = tmp_path / "in"
    src.mkdir()
    picks = {
        "a": CLI / "cloudwatch" / "describe-alarms.output1.json",
        "b": CLI / "cloudwatch" / "describe-alarm-history.output1.json",
        "c": CLI / "deploy" / "batch-get-deployments.output1.json",
        "d": CLI / "ecs" / "describe-services.output1.json",
        "e": AWS_FIXTURES / "xray-devguide" / "BatchGetTraces.output.json",
        "f": CLI / "cloudwatch" / "get-metric-data.output1.json",
        "g": CLI / "logs" / "describe-log-groups.output1.json",
    }
    for name, path in picks.items():
        shutil.copy(path, src / f"{name}.dat")
    result = import_files([src], tmp_path / "snap")
    kinds = {Path(f).stem: k for f, k in result.imported}
    assert kinds == {"a": "alarm-definitions", "b": "alarm-history", "c": "deployments-codedeploy",
                     "d": "deployments-ecs", "e": "xray-traces"}
    skipped = dict(result.skipped)
    assert "MetricDataQueries" in skipped[str(src / "f.dat")]  # never guessed from the label
    assert "no supported shape" in skipped[str(src / "g.dat")]
    snap = Snapshot.open(tmp_path / "snap")
    alarms = snap.read("alarms").sort("timestamp")
    assert alarms["new_state"].to_list() == ["ALARM", "OK"]
    assert alarms["watches"].to_list() == ["AWS/EC2/CPUUtilization{InstanceId=i-0c986c72}"] * 2
    assert snap.read("deployments")["id"].sort().to_list() == ["d-A1B2C3111", "d-A1B2C3222",
                                                                "ecs-svc/1234567890123456789"]
    assert snap.manifest["region"] == "us-east-1" and snap.manifest["account_id"] == "123456789012"
    for entry in snap.manifest["inputs"]:
        assert (tmp_path / "snap" / entry["raw"]).exists() and len(entry["sha256"]) == 64
    snap.verify()


def test_metric_data_pairs_with_its_query_file(tmp_path: Path) -> None:
    response = json.loads((CLI / "cloudwatch" / "get-metric-data.output1.json").read_text())
    queries = {"MetricDataQueries": [{"Id": "m3", "Label": "Avg Total IOPS", "MetricStat": {
        "Metric": {"Namespace": "AWS/EC2", "MetricName": "EBSReadOps",
                   "Dimensions": [{"Name": "InstanceId", "Value": "i-0123"}]},
        "Period": 300, "Stat": "Average"}}]}
    (tmp_path / "resp.json").write_text(json.dumps(response))
    (tmp_path / "q.json").write_text(json.dumps(queries))
    result = import_files([tmp_path / "resp.json", tmp_path / "q.json"], tmp_path / "snap")
    assert not result.skipped
    m = Snapshot.open(tmp_path / "snap").read("metrics")
    assert m.select("namespace", "metric", "dimensions", "stat", "period_s", "value").row(0) == (
        "AWS/EC2", "EBSReadOps", "InstanceId=i-0123", "Average", 300, 96.85)


def test_truncated_gzip_names_the_file_and_leaves_the_snapshot_untouched(tmp_path: Path) -> None:
    import_files([CLI / "cloudwatch" / "describe-alarm-history.output1.json"], tmp_path / "snap")
    before = _state(tmp_path / "snap")
    bad = tmp_path / "history.json.gz"
    bad.write_bytes(gzip.compress((CLI / "deploy" / "batch-get-deployments.output1.json").read_bytes())[:-30])
    good = CLI / "ecs" / "describe-services.output1.json"
    with pytest.raises(TruncatedInputError, match="history.json.gz"):
        import_files([good, bad], tmp_path / "snap")
    assert _state(tmp_path / "snap") == before
    result = import_files([good, bad], tmp_path / "snap", keep_going=True)
    assert [k for _, k in result.imported] == ["deployments-ecs"]
    assert "truncated" in dict(result.skipped)[str(bad)]


def test_missing_required_key_names_file_and_key(tmp_path: Path) -> None:
    doc = json.loads((CLI / "deploy" / "batch-get-deployments.output1.json").read_text())
    del doc["deploymentsInfo"][0]["deploymentId"]
    (tmp_path / "d.json").write_text(json.dumps(doc))
    with pytest.raises(MissingKeyError, match=r"d.json.*deploymentId") as info:
        import_files([tmp_path / "d.json"], tmp_path / "snap")
    assert info.value.key == "deploymentId"
    assert not (tmp_path / "snap").exists()  # a failed import creates no snapshot


def test_demo_import_is_idempotent_and_complete(small_demo: Path, tmp_path: Path) -> None:
    inputs = [p for p in small_demo.iterdir() if p.name != "scenario.json"]
    first = import_files(inputs, tmp_path / "snap")
    assert not first.skipped, first.skipped
    snap = Snapshot.open(tmp_path / "snap")
    counts = {name: snap.rows(name) for name in frames.FRAME_NAMES}
    for name in ("metrics", "requests", "logs", "spans", "deployments", "slos", "alarms"):
        assert counts[name] > 0, name
        frames.validate(snap.read(name), name)
    truth = json.loads((small_demo / "scenario.json").read_text())
    # Every injected malformed line is in the load report, and nothing else is.
    assert first.report.bad and len(first.report.bad) == len(truth["malformed_lines"])
    second = import_files(inputs, tmp_path / "snap")
    assert not second.imported and len(second.already_imported) == len(first.imported)
    assert {name: Snapshot.open(tmp_path / "snap").rows(name) for name in frames.FRAME_NAMES} == counts
    # The same events re-compressed (new bytes, new sha256) add no rows: rows de-duplicate on the key.
    export = next((small_demo / "logs").rglob("000000.gz"))
    copy = tmp_path / "copy" / export.relative_to(small_demo)
    copy.parent.mkdir(parents=True)
    copy.write_bytes(gzip.compress(gzip.decompress(export.read_bytes()), compresslevel=1))
    third = import_files([copy, small_demo / "logs" / "describe-export-tasks.json"], tmp_path / "snap")
    assert third.rows_added.get("logs", 0) == 0
    summary = snapshot_summary(Snapshot.open(tmp_path / "snap"))
    assert {"ticket-api", "routing-service", "kb-search"} <= set(summary["services"])
    assert summary["bad_records"] == len(truth["malformed_lines"])


def test_requests_frame_matches_request_logs(small_demo: Path, tmp_path: Path) -> None:
    import_files([p for p in small_demo.iterdir() if p.name != "scenario.json"], tmp_path / "snap")
    snap = Snapshot.open(tmp_path / "snap")
    got = dict(snap.scan("requests").group_by("service").len().collect().iter_rows())
    truth = json.loads((small_demo / "scenario.json").read_text())
    # Torn lines are extra copies (the full record follows), so every request is loaded exactly once.
    assert got == truth["counts"]["requests"]
    bad = Snapshot.open(tmp_path / "snap").manifest["load_report"]["bad_by_file"]
    assert sum(bad.values()) == len(truth["malformed_lines"])
    # Every malformed line is quarantined under its own file and line number, and nothing else is.
    quarantined = [json.loads(line) for q in sorted((tmp_path / "snap" / "quarantine").glob("*.jsonl"))
                   for line in q.read_text().splitlines()]
    where = sorted((Path(q["file"]).relative_to(small_demo).as_posix(), q["line"]) for q in quarantined)
    assert where == sorted((m["file"], m["line"]) for m in truth["malformed_lines"])
    # Torn lines are events (they carry a timestamp); the binary line is not. Insights rows repeat
    # exported events and add none; identical events are not merged.
    n_binary = sum("binary" in m["reason"] for m in truth["malformed_lines"])
    assert snap.rows("logs") == truth["counts"]["log_events"] - n_binary


def test_cli_import_and_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["import", str(CLI / "cloudwatch"), "--out", str(tmp_path / "snap")])
    assert out.exit_code == 0, out.output
    assert "alarm-history" in out.output and "skipped" in out.output
    summary = runner.invoke(app, ["summary", str(tmp_path / "snap")])
    assert summary.exit_code == 0 and "alarms fired (1)" in summary.output
    missing = runner.invoke(app, ["summary", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output
    verify = runner.invoke(app, ["verify", str(tmp_path / "snap")])
    assert verify.exit_code == 0 and "files match" in verify.output



def test_json_lines_are_listed_as_unknown_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "lines.json").write_text('{"a": 1}\n{"b": 2}\n')
    good = CLI / "ecs" / "describe-services.output1.json"
    result = import_files([tmp_path / "lines.json", good], tmp_path / "snap")
    assert [k for _, k in result.imported] == ["deployments-ecs"]
    reason = dict(result.skipped)[str(tmp_path / "lines.json")]
    assert "line 2" in reason and "Extra data" in reason
    assert Snapshot.open(tmp_path / "snap").manifest["skipped"][0]["file"] == str(tmp_path / "lines.json")


def test_application_signals_slo_missing_goal_names_file_and_key(tmp_path: Path) -> None:
    doc = json.loads((Path(__file__).parents[1] / "sources" / "data" / "slo-create-ticket-latency.json").read_text())
    del doc["Slo"]["Goal"]
    (tmp_path / "slo.json").write_text(json.dumps(doc))
    with pytest.raises(MissingKeyError, match=r"slo.json.*'Goal'") as info:
        import_files([tmp_path / "slo.json"], tmp_path / "snap")
    assert info.value.key == "Goal" and info.value.file == str(tmp_path / "slo.json")


def test_metric_query_missing_namespace_names_the_query_file(tmp_path: Path) -> None:
    response = json.loads((CLI / "cloudwatch" / "get-metric-data.output1.json").read_text())
    queries = {"MetricDataQueries": [{"Id": "m3", "MetricStat": {
        "Metric": {"MetricName": "EBSReadOps"}, "Period": 300, "Stat": "Average"}}]}
    (tmp_path / "resp.json").write_text(json.dumps(response))
    (tmp_path / "q.json").write_text(json.dumps(queries))
    with pytest.raises(MissingKeyError, match=r"q.json.*'Namespace'") as info:
        import_files([tmp_path / "resp.json", tmp_path / "q.json"], tmp_path / "snap")
    assert info.value.file == str(tmp_path / "q.json") and info.value.key == "Namespace"
    # with keep_going the query file is skipped for what it lacks, and the response for lack of it
    result = import_files([tmp_path / "resp.json", tmp_path / "q.json"], tmp_path / "snap", keep_going=True)
    skipped = dict(result.skipped)
    assert "'Namespace'" in skipped[str(tmp_path / "q.json")]
    assert "no MetricDataQueries file" in skipped[str(tmp_path / "resp.json")] and not result.imported


def _export(root: Path, text: str) -> list[Path]:
    """An export object of task t-1, stream s, plus the DescribeExportTasks output naming its group."""
    obj = root / "t-1" / "s" / "000000.gz"
    obj.parent.mkdir(parents=True)
    obj.write_bytes(gzip.compress(text.encode(), mtime=ord(root.name[0])))  # new bytes per root
    tasks = root / "describe-export-tasks.json"
    tasks.write_text(json.dumps({"exportTasks": [{"taskId": "t-1", "taskName": root.name,  # new bytes per root
                                                  "logGroupName": "/ecs/prod/ticket-api"}]}))
    return [obj, tasks]


def test_identical_events_are_both_kept_and_reimport_adds_nothing(tmp_path: Path) -> None:
    request = '{"status": 200, "latency_ms": 5.0, "route": "GET /t"}'
    text = (f"2026-11-02T00:00:00.000Z {request}\n" * 2) + "2026-11-02T00:00:01.000Z hello\n"
    first = import_files(_export(tmp_path / "a", text), tmp_path / "snap")
    assert first.rows_added == {"logs": 3, "requests": 2}
    logs = Snapshot.open(tmp_path / "snap").read("logs").sort("timestamp", "occurrence")
    assert logs["occurrence"].to_list() == [0, 1, 0]
    # the same events again, in new bytes (another sha256): nothing is added
    again = import_files(_export(tmp_path / "b", text), tmp_path / "snap")
    assert again.imported and again.rows_added.get("logs", 0) == 0 and again.rows_added.get("requests", 0) == 0
    # a third identical event is new
    third = import_files(_export(tmp_path / "c", text + text.splitlines(keepends=True)[0]), tmp_path / "snap")
    assert third.rows_added == {"logs": 1, "requests": 1}


def test_failed_import_into_a_new_or_empty_folder_leaves_nothing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "cut.json.gz"
    bad.write_bytes(gzip.compress((CLI / "ecs" / "describe-services.output1.json").read_bytes())[:-30])
    with pytest.raises(TruncatedInputError):
        import_files([bad], tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(TruncatedInputError):
        import_files([bad], tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []
    # a failure while writing removes the snapshot this call created, and only that
    from slo_analysis.store import importer

    def broken_write(*args: object) -> None:
        raise OSError("disk full")
    monkeypatch.setattr(importer, "_write", broken_write)
    good = CLI / "ecs" / "describe-services.output1.json"
    with pytest.raises(OSError, match="disk full"):
        import_files([good], tmp_path / "new")
    assert not (tmp_path / "new").exists()
    with pytest.raises(OSError, match="disk full"):
        import_files([good], tmp_path / "empty")
    assert (tmp_path / "empty").is_dir() and list((tmp_path / "empty").iterdir()) == []
