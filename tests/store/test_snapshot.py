from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.exceptions import ChecksumError, SnapshotError
from slo_analysis.sources._io import BadRecord
from slo_analysis.store import Snapshot

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
    assert files == ["2026-11-02.parquet", "2026-11-03.parquet"]
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
    assert again.manifest["region"] == "eu-west-1" and again.manifest["schema_version"] == 1
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


def test_a_failed_write_leaves_the_stored_partition_untouched(tmp_path: Path, monkeypatch) -> None:
    snap = Snapshot.create(tmp_path / "s")
    snap.write_frame("metrics", metrics(1))
    part = tmp_path / "s" / "frames" / "metrics" / "2026-11-02.parquet"
    before = part.read_bytes()

    def crash(self, file, **kwargs):  # type: ignore[no-untyped-def]
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        snap.write_frame("metrics", metrics(2))
    assert part.read_bytes() == before
    assert not [p for p in part.parent.iterdir() if p.name.endswith(".tmp")]


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
