from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.sources.aws import Fetched
from slo_analysis.store import Snapshot, import_files
from slo_analysis.store.fetcher import done_units, run_fetchers

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _unit(i: int) -> Fetched:
    ts = [T0 + timedelta(minutes=10 * i + k) for k in range(10)]
    request = {"MetricDataQueries": [{"Id": "m1", "MetricStat": {
        "Metric": {"Namespace": "AWS/ECS", "MetricName": "CPUUtilization",
                   "Dimensions": [{"Name": "ServiceName", "Value": "ticket-api"}]},
        "Period": 60, "Stat": "Average"}}], "StartTime": ts[0], "EndTime": ts[-1] + timedelta(minutes=1)}
    response = {"MetricDataResults": [{"Id": "m1", "Label": "CPU", "StatusCode": "Complete", "Timestamps": ts,
                                       "Values": [float(10 * i + k) for k in range(10)]}], "Messages": []}
    df = frames.conform(pl.DataFrame({"timestamp": ts, "namespace": "AWS/ECS", "metric": "CPUUtilization",
                                      "dimensions": "ServiceName=ticket-api", "stat": "Average", "period_s": 60,
                                      "value": [float(10 * i + k) for k in range(10)]}), "metrics")
    return Fetched("metric-data", f"metrics/cpu/chunk-{i:03d}", request, response, {"metrics": df})


class Source:
    """A fake live source of 6 units that counts the calls it makes and can die after N of them."""

    def __init__(self, die_after: int | None = None) -> None:
        self.calls = 0
        self.die_after = die_after

    def __call__(self, done: set[str]) -> Iterator[Fetched]:
        for i in range(6):
            unit = _unit(i)
            if unit.unit in done:
                continue
            if self.die_after is not None and self.calls == self.die_after:
                raise KeyboardInterrupt("killed mid-way")
            self.calls += 1
            yield unit


def test_an_interrupted_fetch_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    clean = Snapshot.create(tmp_path / "clean")
    run_fetchers(clean, [("metrics", Source())])
    snap = Snapshot.create(tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        run_fetchers(snap, [("metrics", Source(die_after=4))])
    assert len(done_units(Snapshot.open(tmp_path / "resumed"))) == 4
    again = Source()
    result = run_fetchers(Snapshot.open(tmp_path / "resumed"), [("metrics", again)])
    assert again.calls == 2 and result.units_skipped == 4  # only the missing units hit "AWS"
    resumed = Snapshot.open(tmp_path / "resumed").read("metrics")
    assert resumed.equals(clean.read("metrics"))
    assert resumed.height == 60 and resumed["timestamp"].n_unique() == 60


def test_raw_requests_and_responses_reimport_to_the_same_frames(tmp_path: Path) -> None:
    snap = Snapshot.create(tmp_path / "live")
    run_fetchers(snap, [("metrics", Source())], params={"region": "eu-west-1", "start": T0})
    manifest = Snapshot.open(tmp_path / "live").manifest
    assert manifest["fetch"]["runs"][0]["start"] == T0.isoformat()
    unit = manifest["fetch"]["units"]["metrics/cpu/chunk-000"]
    assert unit["rows"] == {"metrics": 10} and unit["request"].endswith(".request.json.gz")
    import_files([tmp_path / "live" / "raw"], tmp_path / "again")
    assert Snapshot.open(tmp_path / "again").read("metrics").equals(snap.read("metrics"))
