from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.exceptions import ChecksumError, SnapshotError
from slo_analysis.sources._io import BadRecord
from slo_analysis.store import SCHEMA_VERSION, Snapshot
from slo_analysis.store import snapshot as snapshot_module

T0 = datetime(2026, 11, 2, 23, 58, tzinfo=UTC)


def metrics(n: int, start: datetime = T0, value: float = 1.0) -> pl.DataFrame:
    return frames.conform(pl.DataFrame({
        "timestamp": [start + timedelta(minutes=i) for i in range(n)],
        "namespace": ["ApplicationSignals"] * n, "metric": ["Latency"] * n,
        "dimensions": ["Environment=prod,Operation=CreateTicket,Service=ticket-api"] * n,
        "stat": ["p99"] * n, "period_s": [60] * n, "unit": ["Milliseconds"] * n,
        "value": [value + i for i in range(n)],
    }), "metrics")


def test_frames_partition_by_day_and_reimport_adds_nothing(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    assert snap.write_frame("metrics", metrics(5)) == 5  # 23:58 .. 00:02 spans two days
    files = sorted(p.name for p in (tmp_path / "s" / "frames" / "metrics").iterdir())
    assert [f.split(".")[0] for f in files] == ["2026-11-02", "2026-11-03"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d\.[0-9a-f]{16}\.parquet", f) for f in files)
    assert snap.write_frame("metrics", metrics(5)) == 0
    assert snap.write_frame("metrics", metrics(7)) == 2  # overlapping window: only the new minutes
    out = snap.read("metrics")
    assert out.height == 7 and out["timestamp"].is_sorted()
    assert isinstance(snap.scan("metrics"), pl.LazyFrame)
    assert snap.rows("metrics") == 7


def test_existing_rows_win_on_key_conflict(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.write_frame("metrics", metrics(2, value=1.0))
    snap.write_frame("metrics", metrics(2, value=50.0))
    assert snap.read("metrics")["value"].to_list() == [1.0, 2.0]


def test_window_is_half_open_and_manifest_round_trips(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.write_frame("metrics", metrics(3))
    snap.set_origin(region="eu-west-1", account_id="123456789012")
    snap.save_manifest()
    again = Snapshot.open(tmp_path / "s")
    start, end = again.window
    assert start == T0 and end == T0 + timedelta(minutes=2, milliseconds=1)
    assert again.manifest["region"] == "eu-west-1" and again.manifest["schema_version"] == SCHEMA_VERSION == 2
    assert again.manifest["frames"]["metrics"]["rows"] == 3


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.write_frame("metrics", metrics(2))
    raw = snap.add_raw(b'{"MetricDataResults": []}', name="page.json", kind="metric-data")
    snap.save_manifest()
    Snapshot.open(tmp_path / "s").verify()
    assert raw.startswith("raw/metric-data/") and raw.endswith("-page.json.gz")
    (tmp_path / "s" / raw).write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="page.json.gz: sha256 differs"):
        Snapshot.open(tmp_path / "s").verify()


def _frame_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "frames").rglob("*") if p.is_file())


def test_a_failed_write_leaves_the_stored_partition_untouched(tmp_path: Path, monkeypatch) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.write_frame("metrics", metrics(1))
    snap.save_manifest()
    [part] = (tmp_path / "s" / "frames" / "metrics").iterdir()
    before = part.read_bytes()

    def crash(self, file, **kwargs):  # type: ignore[no-untyped-def]
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        snap.write_frame("metrics", metrics(2))
    assert part.read_bytes() == before
    assert [p.name for p in part.parent.iterdir()] == [part.name]  # no temporary file left behind
    assert snap.read("metrics").height == 1


def test_a_crash_between_frame_files_leaves_the_previous_state_readable(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "s"
    snap = Snapshot.create(root)
    snap.write_frame("metrics", metrics(5))  # two days: 2026-11-02 and 2026-11-03
    snap.save_manifest()
    committed = Snapshot.open(root).read("metrics")
    committed_files = _frame_files(root)
    real = snapshot_module.write_parquet_versioned
    calls: list[str] = []

    def crash_on_second_part(df: pl.DataFrame, folder: Path, stem: str) -> tuple[Path, str]:
        calls.append(stem)
        if len(calls) == 2:
            raise OSError("killed between two frame files")
        return real(df, folder, stem)

    monkeypatch.setattr(snapshot_module, "write_parquet_versioned", crash_on_second_part)
    with pytest.raises(OSError, match="killed"):
        snap.write_frame("metrics", metrics(9, start=T0 - timedelta(minutes=2)))  # adds rows to both days
    assert calls == ["2026-11-02", "2026-11-03"]
    [orphan] = set(_frame_files(root)) - set(committed_files)  # the first new part reached the disk
    for reader in (Snapshot.open(root), snap):  # on disk, and in the writer's own (unsaved) manifest
        reader.verify()
        assert reader.read("metrics").equals(committed)
    # the next saved change deletes the orphan and the versions it replaced
    monkeypatch.setattr(snapshot_module, "write_parquet_versioned", real)
    assert snap.write_frame("metrics", metrics(7)) == 2
    snap.save_manifest()
    again = Snapshot.open(root)
    again.verify()
    assert again.read("metrics").height == 7
    listed = sorted(r for r in again.manifest["files"] if r.startswith("frames/"))
    assert _frame_files(root) == listed and orphan not in listed
    assert committed_files[0] in listed and committed_files[1] not in listed  # only 2026-11-03 changed


def test_a_crash_between_frames_before_the_manifest_leaves_the_previous_state(tmp_path: Path) -> None:
    root = tmp_path / "s"
    snap = Snapshot.create(root)
    snap.write_frame("metrics", metrics(3))
    snap.save_manifest()
    # a later import writes two frames, then dies before its manifest: its files are on disk, unlisted
    snap.write_frame("metrics", metrics(6))
    snap.write_frame("deployments", frames.empty("deployments"))
    assert len(_frame_files(root)) == 3
    reopened = Snapshot.open(root)
    reopened.verify()
    assert reopened.read("metrics").height == 3 and reopened.rows("metrics") == 3
    assert reopened.manifest["window"]["end"].startswith("2026-11-03T00:00:00.001")


def test_a_snapshot_with_unversioned_frame_files_reads_and_upgrades(tmp_path: Path) -> None:
    root = tmp_path / "s"
    snap = Snapshot.create(root)
    legacy = root / "frames" / "metrics" / "2026-11-02.parquet"  # the layout before versioned names
    legacy.parent.mkdir(parents=True)
    metrics(1).write_parquet(legacy)
    snap._track(legacy)
    snap.manifest["frames"]["metrics"] = {"rows": 1}
    snap.save_manifest()
    old = Snapshot.open(root)
    assert old.read("metrics").height == 1
    assert old.write_frame("metrics", metrics(2)) == 1  # 23:59, the same day
    old.save_manifest()
    assert not legacy.exists()
    assert Snapshot.open(root).read("metrics").height == 2
    Snapshot.open(root).verify()


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_stored_files_follow_the_umask_not_mkstemp(tmp_path: Path, mask: int) -> None:
    previous = os.umask(mask)
    try:
        snap = Snapshot.create(tmp_path / "s")
        snap.write_frame("metrics", metrics(2))
        snap.write_frame("deployments", frames.empty("deployments"))
        snap.add_raw(b'{"MetricDataResults": []}', name="page.json", kind="metric-data")
        snap.add_quarantine([BadRecord("a.gz", 1, "bad", "x")], name="a.gz")
        snap.save_manifest()
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "s").rglob("*") if p.is_file()]
    assert {p.parts[len(tmp_path.parts) + 1] for p in files} == {"manifest.json", "frames", "raw", "quarantine"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~mask}


def test_quarantine_keeps_bad_records(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    rel = snap.add_quarantine([BadRecord("a.gz", 3, "truncated JSON", '{"status": 50')], name="a.gz")
    assert rel is not None
    rec = json.loads((tmp_path / "s" / rel).read_text())
    assert rec == {"file": "a.gz", "line": 3, "reason": "truncated JSON", "content": '{"status": 50'}
    assert snap.add_quarantine([], name="b") is None


def test_open_refuses_what_is_not_a_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no manifest.json"):
        Snapshot.open(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("hello")
    with pytest.raises(SnapshotError, match="not empty"):
        Snapshot.create(tmp_path / "x")
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "manifest.json").write_text('{"schema_version": 99}')
    with pytest.raises(SnapshotError, match="schema_version 99"):
        Snapshot.open(tmp_path / "y")


def test_manifest_never_holds_credentials(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.record_input({"file": "x", "params": {"aws_secret_access_key": "abc"}, "sha256": "0"})
    with pytest.raises(SnapshotError, match="refusing"):
        snap.save_manifest()
