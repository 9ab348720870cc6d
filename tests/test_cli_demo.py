"""`slo-analysis demo` end to end (what `make demo` runs), on the small demo without the HTML review."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slo_analysis.cli import DEMO_FOLDER, DEMO_SNAPSHOT, app
from slo_analysis.exceptions import SnapshotError


def test_demo_command_prints_summary_slo_table_windows_and_truth(small_demo: Path, tmp_path: Path) -> None:
    # The small demo stands in for the generated one: same seed/days/scale, so the command does not regenerate.
    shutil.copytree(small_demo, tmp_path / DEMO_FOLDER)
    truth = json.loads((small_demo / "scenario.json").read_text())
    result = CliRunner().invoke(app, ["demo", "--data-dir", str(tmp_path), "--seed", "11", "--days", "3",
                                      "--scale", "0.2", "--no-review"])
    out = result.output
    assert result.exit_code == 0, out
    assert "generating the demo incident" not in out  # the existing demo was current
    assert (tmp_path / DEMO_SNAPSHOT / "manifest.json").is_file()
    imported = re.search(r"imported (\d+) file\(s\), 0 already present, 0 skipped", out)
    assert imported and int(imported.group(1)) > 20, out

    # The snapshot summary: rows per frame, services, SLOs, deployments, load report.
    for frame in ("metrics", "requests", "logs", "spans", "deployments", "alarms"):
        assert re.search(rf"\b{frame}\b\s+[\d,]+", out), (frame, out)
    assert truth["culprit_deployment"]["id"] in out
    assert re.search(r"load report: [1-9]\d* bad record\(s\) quarantined", out), out

    # The SLO status table names every SLO the demo defines, with attainment, budget left and a status.
    table = out.split("SLO status at the end of the snapshot", 1)[1].split("Windows (UTC, half-open):", 1)[0]
    rows = [line for line in table.splitlines()[2:] if line.strip() and not line.strip().startswith("*")]
    assert len(rows) >= 4, table
    for row in rows:
        assert re.search(r"\d+\.\d{3}%", row) and re.search(r"(OK|WARNING|BREACHED|INSUFFICIENT_DATA)", row), row
    # Three days of data under a 7-day rolling SLO: its end status is marked as judged on part of the interval.
    assert re.search(r"rolling 7 DAY .*\b(OK|WARNING|BREACHED)\*", table), table
    assert f"* judged on part of the interval: the data covers {3 / 7:.0%} of it" in table
    for slo in truth["breached_slos"]:
        assert re.search(rf"{re.escape(slo)}\b.*\b(BREACHED)\b", table), (slo, table)

    # Windows and the ground truth printed beside them; the onset minute appears in both.
    windows = out.split("Windows (UTC, half-open):", 1)[1].split("Root-cause analysis", 1)[0]
    assert "incident" in windows and "breached" in windows
    onset = truth["incident"]["onset"]  # ISO 8601, e.g. 2026-11-03T14:05:00Z
    assert f"onset {onset}" in out
    assert "Ground truth (scenario.json; the analysis never reads it):" in out
    assert out.rstrip().splitlines()[-1].startswith("done in ")


def test_a_demo_snapshot_from_an_older_schema_is_rebuilt(small_demo: Path, tmp_path: Path) -> None:
    from slo_analysis.cli import _ensure_demo_snapshot
    from slo_analysis.store import SCHEMA_VERSION, Snapshot

    shutil.copytree(small_demo, tmp_path / DEMO_FOLDER)
    snap_dir = _ensure_demo_snapshot(tmp_path, seed=11, days=3, scale=0.2)
    manifest = snap_dir / "manifest.json"
    old = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**old, "schema_version": SCHEMA_VERSION - 1}))
    with pytest.raises(SnapshotError, match=r"schema_version 1; this slo_analysis reads 2: rebuild it"):
        Snapshot.open(snap_dir)
    assert _ensure_demo_snapshot(tmp_path, seed=11, days=3, scale=0.2) == snap_dir
    rebuilt = Snapshot.open(snap_dir)
    assert rebuilt.manifest["schema_version"] == SCHEMA_VERSION
    assert rebuilt.manifest["frames"] == old["frames"]  # same rows per frame
