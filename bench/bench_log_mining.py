"""Benchmark log template mining: 1,000,000 synthetic log lines through ``mine_templates``.

The lines are realistic: JSON records from a few dozen message templates with variable ids, numbers,
IPs, e-mails, UUIDs and trace ids inside the human text (the hard case: few lines are identical
before masking), JSON request records with a constant ``msg`` (the demo's case), and plain-text lines
(pool statistics, stack-trace headlines with a multi-line body, start-up banners).

It prints the throughput of ``mine_templates`` (lines/s), the distinct texts drain3 was fed, the
templates found, the peak RSS, and the baseline measured in the same run: every line's human text fed
to a drain3 ``TemplateMiner`` one by one (drain3 masks each line itself). The baseline runs on a
subsample (``--sample`` lines) and is extrapolated linearly to all lines; the printout says so.

Run standalone::

    .venv/bin/python bench/bench_log_mining.py                  # 1,000,000 lines, 50,000-line baseline
    .venv/bin/python bench/bench_log_mining.py --lines 200000 --sample 20000

Synthetic data is generated before the clock starts. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slo_analysis.analysis.log_templates import mine_templates, template_miner  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)
SERVICES = ["ticket-api", "routing-service", "kb-search", "notify-worker", "billing", "auth"]

# {n}: a number, {ip}, {email}, {uuid}, {trace}, {hex}, {word}: variable parts
VARIABLE = [
    ("INFO", "user {n} logged in from {ip}"),
    ("INFO", "session {uuid} refreshed for {email}"),
    ("INFO", "cache miss for key ticket:{n} after {n} ms"),
    ("INFO", "sent notification {uuid} to {email} via {word}"),
    ("INFO", "order {n} shipped in {n} parcels"),
    ("INFO", "assigned ticket T-{n} to agent-{n} in queue {word}"),
    ("WARN", "slow query on agent_skills took {n} ms (trace {trace})"),
    ("WARN", "retrying call to {ip}:{n} attempt {n} of 5"),
    ("WARN", "rate limit close for tenant {n}: {n} of {n} requests"),
    ("WARN", "connection pool at {n} percent for {word}"),
    ("ERROR", "payment {uuid} declined: code {n}"),
    ("ERROR", "timeout after {n} ms calling {word} (trace {trace})"),
    ("ERROR", "could not deserialize message {hex} from queue {word}"),
    ("ERROR", "upstream {ip} returned {n} for request {uuid}"),
    ("INFO", "feature flag {word} evaluated to {word} for tenant {n}"),
    ("INFO", "kb article {n} indexed in {n} ms"),
    ("INFO", "webhook {uuid} delivered to {email} in {n} ms"),
    ("DEBUG", "heartbeat {n} from worker {hex}"),
    ("INFO", "export job {uuid} wrote {n} rows"),
    ("WARN", "disk usage {n} percent on /var/lib/{word}"),
]
CONSTANT = [
    ("INFO", "request completed"),
    ("WARN", "request completed"),
    ("ERROR", "request failed"),
    ("INFO", "ticket created"),
    ("INFO", "agent assigned"),
    ("INFO", "first agent response sent"),
    ("INFO", "ticket resolved"),
]
WORDS = ["billing", "technical", "account", "email", "sms", "push", "search", "primary", "replica", "beta",
         "on", "off"]
STACK = ("ERROR [http-nio-8080-exec-{n}] c.s.routing.AgentMatcher - Timeout after 3000 ms querying agent_skills "
         "for ticket T-{n}\norg.postgresql.util.PSQLException: ERROR: canceling statement due to statement "
         "timeout\n\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)")
PLAIN = [
    "HikariPool-1 - Pool stats (total=10, active={n}, idle={n}, waiting={n})",
    STACK,
    "Starting RoutingServiceApplication v2.{n}.0 using Java 21.0.4 with PID {n}",
    "GC pause (G1 Evacuation Pause) {n}M->{n}M({n}M) {n}.{n}ms",
]


def _fill(template: str, rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` strings from ``template`` with random variable parts, built column-wise in polars."""
    parts = template.replace("{", "\x00{").replace("}", "}\x00").split("\x00")
    cols: list[pl.Series] = []
    for p in parts:
        if p == "{n}":
            cols.append(pl.Series(rng.integers(0, 100_000, n)).cast(pl.String))
        elif p == "{ip}":
            a = rng.integers(1, 255, (4, n))
            cols.append(pl.Series([f"{w}.{x}.{y}.{z}" for w, x, y, z in a.T]))
        elif p == "{email}":
            cols.append(pl.Series([f"user{k}@example.com" for k in rng.integers(0, 50_000, n)]))
        elif p == "{uuid}":
            h = rng.integers(0, 2**63, (2, n), dtype=np.int64)
            cols.append(pl.Series([f"{a:016x}"[:8] + "-" + f"{a:016x}"[8:12] + "-" + f"{a:016x}"[12:16] + "-"
                                   + f"{b:016x}"[:4] + "-" + f"{b:016x}"[4:16] for a, b in h.T]))
        elif p == "{trace}":
            h = rng.integers(0, 2**62, (2, n), dtype=np.int64)
            cols.append(pl.Series([f"1-{a & 0xFFFFFFFF:08x}-{b:024x}" for a, b in h.T]))
        elif p == "{hex}":
            cols.append(pl.Series([f"{k:012x}" for k in rng.integers(2**40, 2**48, n)]))
        elif p == "{word}":
            cols.append(pl.Series(np.array(WORDS)[rng.integers(0, len(WORDS), n)]))
        elif p:
            cols.append(pl.Series([p]).extend_constant(p, n - 1))
    return pl.DataFrame({str(i): c for i, c in enumerate(cols)}).select(pl.concat_str(pl.all())).to_series()


def make_logs(n_lines: int, seed: int = 3) -> pl.DataFrame:
    """``n_lines`` log lines: 45 % variable JSON, 50 % constant JSON, 5 % plain text; plus their human text."""
    rng = np.random.default_rng(seed)
    kinds = [(lvl, msg, True) for lvl, msg in VARIABLE] + [(lvl, msg, True) for lvl, msg in CONSTANT]
    weights = np.array([0.45 / len(VARIABLE)] * len(VARIABLE) + [0.50 / len(CONSTANT)] * len(CONSTANT))
    counts = rng.multinomial(n_lines - int(0.05 * n_lines), weights / weights.sum())
    frames = []
    for (level, template, _), k in zip(kinds, counts, strict=True):
        if k == 0:
            continue
        msg = _fill(template, rng, int(k))
        service = pl.Series(np.array(SERVICES)[rng.integers(0, len(SERVICES), int(k))])
        frames.append(pl.DataFrame({"service": service, "msg": msg}).select(
            "service",
            text=pl.concat_str([pl.lit(level), pl.col("msg")], separator=" "),
            message=pl.struct(pl.lit("2026-11-02T10:00:00.000Z").alias("ts"), pl.lit(level).alias("level"),
                              "service", pl.lit(rng.integers(1, 10**9)).cast(pl.String).alias("request_id"),
                              pl.col("msg")).struct.json_encode(),
        ))
    n_plain = n_lines - int(counts.sum())
    per = np.full(len(PLAIN), n_plain // len(PLAIN))
    per[0] += n_plain - per.sum()
    for template, k in zip(PLAIN, per, strict=True):
        msg = _fill(template, rng, int(k))
        frames.append(pl.DataFrame({"service": ["routing-service"] * int(k), "message": msg}).with_columns(
            text=pl.col("message").str.split("\n").list.first()).select("service", "text", "message"))
    df = pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=seed)
    ts = T0.timestamp() * 1000 + np.sort(rng.integers(0, 86_400_000, df.height))
    return df.select(
        timestamp=pl.Series(ts.astype(np.int64)).cast(pl.Datetime("ms", "UTC")),
        log_group=pl.format("/ecs/prod/{}", "service"),
        log_stream=pl.lit("ecs/task/0"),
        message="message",
        text="text",
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def every_line(texts: list[str]) -> tuple[float, int]:
    """Seconds to feed every text to one drain3 miner per service-less stream, and the clusters found."""
    miner = template_miner()
    t0 = time.perf_counter()
    for t in texts:
        miner.add_log_message(t)
    return time.perf_counter() - t0, len(miner.drain.clusters)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=50_000, help="lines fed one by one to drain3 (baseline)")
    args = ap.parse_args()
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads")
    t0 = time.perf_counter()
    df = make_logs(args.lines)
    logs = df.drop("text")
    print(f"generated {df.height:,} lines in {time.perf_counter() - t0:.1f} s "
          f"({df['text'].n_unique():,} distinct human texts, {df['message'].str.len_bytes().mean():.0f} B/line), "
          f"RSS {peak_rss_mb():.0f} MB", flush=True)

    t0 = time.perf_counter()
    m = mine_templates(logs)
    ours = time.perf_counter() - t0
    print(f"mine_templates: {ours:.2f} s, {df.height / ours:,.0f} lines/s; {m.distinct_messages:,} distinct masked "
          f"texts fed to drain3, {m.templates.height} templates, {m.unparsed} unparsed; "
          f"peak RSS {peak_rss_mb():.0f} MB", flush=True)

    sample = df["text"].head(args.sample).to_list()
    base_s, clusters = every_line(sample)
    per_line = base_s / len(sample)
    extrapolated = per_line * df.height
    exact = len(sample) == df.height
    how = "measured" if exact else f"extrapolated from {len(sample):,} lines"
    print(f"every line to drain3: {len(sample) / base_s:,.0f} lines/s ({clusters} clusters on the sample); "
          f"{extrapolated:.1f} s for {df.height:,} lines ({how})")
    print(f"speed-up of collapsing before drain3: {extrapolated / ours:.1f}x")


if __name__ == "__main__":
    main()
