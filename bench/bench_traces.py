"""Benchmark trace analysis: self-times, incident/baseline attribution and the service graph on 1 M spans.

Synthetic X-Ray-shaped traces (8 spans each: a front-door segment, a remote call to an API segment
that makes two *parallel* calls (DynamoDB and a cache) then a remote call to a third service whose
segment runs a SQL subsegment; services drawn from small pools so there are many span groups). The
second half of the traces (the "incident") has a slower SQL query. Data is generated before the clock
starts.

It prints spans/s and peak RSS of ``self_times``, ``attribution`` and ``service_graph``, and two
baselines measured in the same run:

- floor: polars self-time *without* the interval union (duration minus the plain sum of the children's
  durations: wrong for parallel calls, but the same join and group-by);
- naive: pandas ``groupby(parent).apply`` merging each parent's child intervals in Python, on a
  subsample (spans/s extrapolated).

Run standalone::

    .venv/bin/python bench/bench_traces.py               # 1,000,000 spans
    .venv/bin/python bench/bench_traces.py --spans 200000

Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo_analysis import frames  # noqa: E402
from slo_analysis.analysis.trace_graph import service_graph  # noqa: E402
from slo_analysis.analysis.traces import attribution, self_times  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PER_TRACE = 8
FRONT = ["web", "mobile-bff"]
API = ["ticket-api", "order-api", "user-api"]
BACK = ["routing-service", "pricing-service", "search-service"]
OPS = ["Create", "Get", "Update", "List"]


def make_spans(n_spans: int, seed: int = 7) -> pl.DataFrame:
    """``n_spans`` (rounded down to whole traces) of synthetic traces; half baseline, half incident."""
    rng = np.random.default_rng(seed)
    n = n_spans // PER_TRACE
    incident = np.arange(n) >= n // 2
    trace_start = np.sort(rng.uniform(0, 86_400_000, n)) + np.where(incident, 86_400_000, 0)
    ln = rng.lognormal
    net = ln(0.5, 0.3, (n, 3))
    ddb = ln(2.2, 0.4, n)
    cache = ln(1.5, 0.6, n)
    sql = ln(2.5, 0.5, n) * np.where(incident, 8.0, 1.0)
    pre = ln(1.5, 0.5, n)  # own work before the calls
    # bottom up: the back-end segment wraps its SQL call, the API wraps the parallel pair then the call
    s7 = 1.0 + pre
    back = s7 + sql + ln(1.0, 0.5, n)
    s3 = 1.0 + pre  # DynamoDB and cache start together: parallel
    s5 = s3 + np.maximum(ddb, cache) + 0.5
    call_back = back + net[:, 2]
    api = s5 + call_back + ln(1.5, 0.5, n)
    call_api = api + net[:, 1]
    root = call_api + 1.0 + ln(1.0, 0.5, n)
    # (offset within the trace, duration) of spans 0..7; children start after their parents
    offs = np.stack([np.zeros(n), np.full(n, 0.5), np.full(n, 0.5 + net[:, 1] / 2),
                     0.5 + net[:, 1] / 2 + s3, 0.5 + net[:, 1] / 2 + s3,
                     0.5 + net[:, 1] / 2 + s5, 0.5 + net[:, 1] / 2 + s5 + net[:, 2] / 2,
                     0.5 + net[:, 1] / 2 + s5 + net[:, 2] / 2 + s7], axis=1)
    durs = np.stack([root, call_api, api, ddb, cache, call_back, back, sql], axis=1)
    front = np.array(FRONT)[rng.integers(0, len(FRONT), n)]
    api_svc = np.array(API)[rng.integers(0, len(API), n)]
    back_svc = np.array(BACK)[rng.integers(0, len(BACK), n)]
    op = np.array(OPS)[rng.integers(0, len(OPS), n)]
    parent_idx = np.array([-1, 0, 1, 2, 2, 2, 5, 6])
    ids = pl.DataFrame({"i": np.repeat(np.arange(n), PER_TRACE), "k": np.tile(np.arange(PER_TRACE), n),
                        "pk": np.tile(parent_idx, n)}).select(
        trace_id=pl.format("1-{}-{}", pl.col("i").cast(pl.String).str.zfill(8), pl.col("i").cast(pl.String)
                           .str.zfill(24)),
        k="k", pk="pk").select(
        "trace_id", span_id=pl.format("{}-{}", "trace_id", "k"),
        parent_id=pl.when(pl.col("pk") >= 0).then(pl.format("{}-{}", "trace_id", "pk")))
    svc = np.stack([front, front, api_svc, api_svc, api_svc, api_svc, back_svc, back_svc], axis=1).ravel()
    name = np.stack([front, api_svc, api_svc, np.full(n, "DynamoDB"), np.full(n, "cache"), back_svc, back_svc,
                     np.char.add(back_svc, "-db@aurora")], axis=1).ravel()
    kind = np.tile(np.array(["segment", "subsegment", "segment", "subsegment", "subsegment", "subsegment",
                             "segment", "subsegment"]), n)
    ns = pl.Series("namespace", [None, "remote", None, "aws", "remote", "remote", None, "remote"] * n,
                   dtype=pl.String)
    fault = rng.random(n * PER_TRACE) < np.repeat(np.where(incident, 0.02, 0.002), PER_TRACE)
    start_ms = (trace_start[:, None] + offs).ravel() + T0.timestamp() * 1000
    dur = np.round(durs.ravel(), 1)
    start = pl.Series("start", start_ms.astype("int64")).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    ann = pl.Series("op", np.repeat(op, PER_TRACE))
    df = pl.DataFrame({
        **ids.to_dict(), "service": svc, "name": name,
        "kind": kind, "origin": None, "namespace": ns, "start": start,
        "duration_ms": dur, "http_method": "POST", "http_url": None, "http_status": None, "fault": fault,
        "error": False, "throttle": False, "in_progress": False, "aws_operation": None, "sql_query": None,
        "cause": None,
    }).with_columns(
        end=pl.col("start") + pl.duration(microseconds=(pl.col("duration_ms") * 1000).cast(pl.Int64)),
        annotations=pl.when(pl.col("kind") == "segment").then(
            pl.concat_list(pl.struct(key=pl.lit("operation"), value=ann))).otherwise(
            pl.lit([], dtype=frames.KEY_VALUES)),
    )
    return frames.conform(df, "spans")


def floor_self_times(spans: pl.DataFrame) -> pl.DataFrame:
    """Self-time without the interval union: duration minus the sum of the children's durations."""
    kids = spans.group_by("trace_id", "parent_id").agg(kids_ms=pl.col("duration_ms").sum())
    return spans.join(kids, left_on=["trace_id", "span_id"], right_on=["trace_id", "parent_id"], how="left").select(
        "trace_id", "span_id", self_ms=(pl.col("duration_ms") - pl.col("kids_ms").fill_null(0)).clip(lower_bound=0))


def naive_self_times(spans: pl.DataFrame) -> object:
    """pandas: parent bounds by a merge, then per parent a Python merge of its children's clipped intervals."""
    pdf = spans.select("trace_id", "span_id", "parent_id", t0=pl.col("start").dt.epoch("ms").cast(pl.Float64),
                       dur="duration_ms").to_pandas()
    pdf["t1"] = pdf["t0"] + pdf["dur"]
    par = pdf[["trace_id", "span_id", "t0", "t1"]].rename(columns={"span_id": "parent_id", "t0": "p0", "t1": "p1"})
    kids = pdf.dropna(subset=["parent_id"]).merge(par, on=["trace_id", "parent_id"])
    kids["c0"] = kids[["t0", "p0"]].max(axis=1)
    kids["c1"] = kids[["t1", "p1"]].min(axis=1)

    def covered(g: Any) -> float:
        total, end = 0.0, -np.inf
        for a, b in sorted(zip(g["c0"].to_numpy(), g["c1"].to_numpy(), strict=True)):
            if b > max(a, end):
                total += b - max(a, end)
            end = max(end, b)
        return total

    return kids.groupby(["trace_id", "parent_id"])[["c0", "c1"]].apply(covered)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: object, *args: object) -> tuple[float, object]:
    assert callable(fn)
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--naive-spans", type=int, default=20_000, help="subsample for the pandas baseline")
    args = ap.parse_args()
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    t = time.perf_counter()
    spans = make_spans(args.spans)
    print(f"generated {spans.height:,} spans ({spans['trace_id'].n_unique():,} traces) in "
          f"{time.perf_counter() - t:.1f} s, RSS {peak_rss_mb():.0f} MB", flush=True)
    n = spans.height
    baseline = (T0, T0 + timedelta(days=1))
    incident = (T0 + timedelta(days=1), T0 + timedelta(days=2))

    floor_s, _ = timed(floor_self_times, spans)
    st_s, st = timed(self_times, spans)
    assert isinstance(st, pl.DataFrame)
    att_s, att = timed(attribution, st, incident, baseline)
    assert isinstance(att, pl.DataFrame)
    graph_s, edges = timed(service_graph, spans)
    assert isinstance(edges, pl.DataFrame)
    total = st_s + att_s + graph_s
    print(f"self_times:    {st_s:6.2f} s  {n / st_s / 1e6:5.2f} M spans/s  ({st_s / floor_s:.1f}x the floor "
          f"without interval union, {floor_s:.2f} s)")
    print(f"attribution:   {att_s:6.2f} s  {n / att_s / 1e6:5.2f} M spans/s  ({att.height} groups; top: "
          f"{att['service'][0]} / {att['name'][0]})")
    print(f"service_graph: {graph_s:6.2f} s  {n / graph_s / 1e6:5.2f} M spans/s  ({edges.height} edges)")
    print(f"all three:     {total:6.2f} s  {n / total / 1e6:5.2f} M spans/s, peak RSS {peak_rss_mb():.0f} MB",
          flush=True)

    sub_n = min(args.naive_spans, n) // PER_TRACE * PER_TRACE
    sub = spans.head(sub_n)
    naive_s, _ = timed(naive_self_times, sub)
    ours_sub_s, _ = timed(self_times, sub)
    print(f"naive pandas groupby-apply self-time on {sub_n:,} spans: {naive_s:.2f} s "
          f"({sub_n / naive_s / 1e3:.0f} k spans/s; ours on the same rows {ours_sub_s:.3f} s); "
          f"ours at full size is {(n / st_s) / (sub_n / naive_s):.0f}x its throughput")


if __name__ == "__main__":
    main()
