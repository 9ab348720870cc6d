from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from slo_analysis import frames
from slo_analysis.exceptions import FrameValidationError, SloAnalysisError


@pytest.mark.parametrize("name", frames.FRAME_NAMES)
def test_empty_frames_validate_and_use_utc_milliseconds(name: str) -> None:
    df = frames.validate(frames.empty(name), name)
    for col, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime):
            assert dtype == pl.Datetime("ms", "UTC"), (name, col)
    s = frames.schema(name)
    assert set(s.key) <= set(s.columns) and set(s.non_null) <= set(s.columns)
    assert s.time_column is None or s.time_column in s.columns
    assert df.to_pandas().shape == (0, len(s.columns))


def test_validation_error_names_frame_column_and_problem() -> None:
    df = frames.empty("metrics").drop("stat")
    with pytest.raises(FrameValidationError, match=r"metrics frame, column 'stat': missing") as info:
        frames.validate(df, "metrics")
    assert (info.value.frame, info.value.column) == ("metrics", "stat")
    assert isinstance(info.value, SloAnalysisError)


def test_validation_rejects_wrong_timezone_and_nulls() -> None:
    df = frames.empty("deployments").with_columns(pl.col("started_at").dt.replace_time_zone(None))
    with pytest.raises(FrameValidationError, match="started_at.*expected Datetime"):
        frames.validate(df, "deployments")
    rows = pl.DataFrame({"id": ["d-1"], "service": [None], "started_at": [datetime(2026, 1, 1, tzinfo=UTC)],
                         "status": ["Succeeded"], "source": ["file"]})
    with pytest.raises(FrameValidationError, match="'service': 1 null value"):
        frames.conform(rows, "deployments")


def test_conform_orders_casts_and_fills_optional_columns() -> None:
    rows = pl.DataFrame({"status": ["Succeeded"], "id": ["d-1"], "service": ["routing-service"],
                         "started_at": [datetime(2026, 1, 1, 12, tzinfo=UTC)], "source": ["file"]})
    out = frames.conform(rows, "deployments")
    assert out.columns == list(frames.schema("deployments").columns)
    assert out["started_at"].dtype == pl.Datetime("ms", "UTC")
    assert out["finished_at"].to_list() == [None]


def test_conform_reports_an_impossible_cast() -> None:
    rows = frames.empty("metrics").with_columns(pl.lit("x").alias("period_s")).clear()
    rows = pl.concat([rows, rows])  # still empty: casting an empty string column works
    assert frames.conform(rows, "metrics").height == 0
    bad = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)], "namespace": ["A"], "metric": ["M"],
                        "dimensions": [""], "stat": ["Sum"], "period_s": ["sixty"], "value": [1.0]})
    with pytest.raises(FrameValidationError, match="'period_s': cannot cast"):
        frames.conform(bad, "metrics")


def test_format_dimensions_sorts_by_name() -> None:
    dims = [{"Name": "Service", "Value": "ticket-api"}, {"Name": "Environment", "Value": "prod"}]
    assert frames.format_dimensions(dims) == "Environment=prod,Service=ticket-api"
    assert frames.format_dimensions({"b": "2", "a": "1"}) == "a=1,b=2"
    assert frames.format_dimensions(None) == ""


def test_occurrence_tells_identical_rows_apart() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    rows = pl.DataFrame({"timestamp": [t, t, t, t], "log_group": ["g"] * 4, "log_stream": ["s", "s", "s", "s2"],
                         "message": ["a", "a", "b", "a"]})
    logs = frames.conform(rows, "logs")
    assert logs["occurrence"].to_list() == [0, 1, 0, 0]
    assert frames.validate(rows.with_columns(pl.col("timestamp").cast(frames.UTC_MS)), "logs")["occurrence"].to_list() \
        == [0, 1, 0, 0]
    assert frames.occurrence(pl.DataFrame({"x": [None, None, 1]}), ["x"]).to_list() == [0, 1, 0]
    assert frames.occurrence(pl.DataFrame({"x": [1, 2, 3]}), ["x"]).to_list() == [0, 0, 0]
    # merging on the key keeps both identical events, and a re-import of both adds nothing
    key = list(frames.schema("logs").key)
    assert pl.concat([logs, logs]).unique(subset=key).height == logs.height == 4
    assert "occurrence" in key and {"trace_id", "occurrence"} <= set(frames.schema("requests").key)


def test_occurrence_is_exact_despite_hash_collisions() -> None:
    # repeats spread over many rows, and columns whose hashes could cancel out (same values in
    # both): the count is exact, checked against a plain group-by over every row
    n = 20_000
    df = pl.DataFrame({"m": [f"msg{i % 7_000}" for i in range(n)], "k": [f"msg{i % 2}" for i in range(n)]})
    got = frames.occurrence(df, ["m", "k"])
    want = df.select(pl.int_range(pl.len(), dtype=pl.Int32).over("m", "k")).to_series()
    assert got.to_list() == want.to_list() and got.max() == 2
