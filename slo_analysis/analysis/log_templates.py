"""Log templates: mine the ``logs`` frame into templates with drain3, count them, find the new ones.

How :func:`mine_templates` works, and why it is cheap:

1. **Text to mine.** A JSON object message is mined on its human part, ``"<LEVEL> <msg>"`` (the
   ``msg`` field, else ``message``); its service is the ``service`` field, else the last element of
   the log group (``/ecs/prod/routing-service`` -> ``routing-service``). A plain-text message is
   mined on its first line (a stack trace on its headline); its level is a leading ``ERROR``,
   ``WARN``, ... token when there is one. Fields are found with regular expressions on the raw
   line (ten times faster than polars' JSONPath): a ``"msg"`` key nested in a sub-object before the
   top-level one would win, which flat structured loggers never produce. Lines with no usable text
   (empty, a JSON object without ``msg``/``message``) are counted in ``TemplateMining.unparsed``
   and kept in ``events`` with a null ``template_id``.
2. **Masking in polars, collapse, then drain3.** Identical texts are collapsed first (polars
   ``group_by`` with counts); the :data:`MASKS` (ISO timestamps, e-mails, AWS trace ids, UUIDs,
   IPv4/IPv6, versions, numbers, hex ids) are applied to the distinct texts only, which collapses
   them again; only then does drain3 see each distinct masked text once, per service, in order of
   first appearance. The cost depends on distinct messages, not lines: the demo's million request
   records and ticket lifecycle events collapse to a handful of texts. The same masks are in the
   drain3 config (:func:`template_miner`), so a miner used on its own masks alike; here the texts
   reach its ``drain`` already masked, skipping a second (no-op) masking pass.
3. **Back to every line** with a join on ``(service, text)``.

drain3 parameters: ``sim_th`` (default 0.7) is the share of equal tokens a text needs to join a
cluster. drain3's own default, 0.4, merges ``"INFO ticket created"`` with ``"INFO ticket
resolved"`` (2 of 3 tokens equal); since variable parts are masked before drain3 sees them, a
strict threshold costs little. ``depth`` (default 4) is the depth of drain3's prefix tree: texts
are routed by token count, then by their first ``depth - 2`` tokens (here the level and the first
word). Each service has its own miner, so a template never spans services.

Examples
--------
>>> import slo_analysis as sa
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> m = mine_templates(snap.scan("logs"))
>>> m.events.height == snap.scan("logs").select(pl.len()).collect().item()
True
>>> m.templates.filter(pl.col("template") == "WARN slow query on agent_skills")["service"].to_list()
['routing-service']
>>> redact("user bob@example.com from 10.1.2.3")
'user <EMAIL> from <IP>'
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from scipy import stats

from slo_analysis.exceptions import SloAnalysisError
from slo_analysis.frames import UTC_MS

__all__ = [
    "MASKS",
    "TemplateMining",
    "mine_templates",
    "template_miner",
    "template_counts",
    "template_changes",
    "redact",
]

logger = logging.getLogger(__name__)

_HEX4 = "[0-9a-fA-F]{1,4}"
_IPV6 = (
    rf"(?:\b(?:{_HEX4}:){{7}}{_HEX4}\b"  # full form
    rf"|\b(?:{_HEX4}:){{1,6}}:(?:{_HEX4}(?::{_HEX4}){{0,5}}\b)?"  # compressed, a::b
    rf"|::(?:{_HEX4}:){{0,5}}{_HEX4}\b)"  # leading ::, e.g. ::1
)
_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_EMAIL = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"

MASKS: tuple[tuple[str, str], ...] = (
    (r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "TIMESTAMP"),
    (_EMAIL, "EMAIL"),
    (r"\b1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}\b", "TRACE_ID"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (_IPV4, "IP"),
    (_IPV6, "IP"),
    (r"\bv?\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?\b", "VERSION"),
    (r"\b0[xX][0-9a-fA-F]+\b", "HEX"),
    (r"\b\d+(?:\.\d+)?\b", "NUM"),
    (r"\b[0-9a-fA-F]{8,}\b", "HEX"),
)
"""Masks applied before mining, in order: ``(pattern, name)``; a match becomes ``<name>``.

The patterns use only syntax both Python ``re`` and polars' Rust ``regex`` accept (no look-around),
so polars masks the distinct texts and drain3 (Python) masks alike.
"""

_LEVELS = r"(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL)"
_PLAIN_LEVEL = rf"^\W*(?:\d[\d:T.,Z+-]*\s+){{0,2}}\[?{_LEVELS}\]?(?:\s|:|$)"


@dataclass(frozen=True)
class TemplateMining:
    """What :func:`mine_templates` found.

    Attributes
    ----------
    templates : pl.DataFrame
        one row per template: ``template_id`` (Int32), ``template``, ``service``, ``level``,
        ``count``, ``first_seen``, ``last_seen``, ``example`` (a raw line, redacted).
    events : pl.DataFrame
        one row per log line: ``timestamp``, ``service`` (Categorical), ``template_id`` (null for
        the unparsed lines).
    unparsed : int
        lines with no usable text (null ``template_id`` in ``events``).
    distinct_messages : int
        distinct ``(service, masked text)`` pairs drain3 was fed.
    """

    templates: pl.DataFrame
    events: pl.DataFrame
    unparsed: int
    distinct_messages: int


class TemplateMiningError(SloAnalysisError):
    """The logs frame cannot be mined (names the missing column)."""


def template_miner(*, sim_th: float = 0.7, depth: int = 4, max_children: int = 100,
                   max_clusters: int | None = None) -> TemplateMiner:
    """A drain3 :class:`~drain3.TemplateMiner` configured in memory with the :data:`MASKS`.

    Parameters
    ----------
    sim_th : float
        similarity threshold: share of equal tokens needed to join a cluster (see the module doc).
    depth : int
        depth of the prefix tree (at least 3): texts are routed on their first ``depth - 2`` tokens.
    max_children : int
        children per tree node before drain3 routes further texts to a wildcard child.
    max_clusters : int, optional
        cap on clusters (least recently used evicted); unbounded by default.

    Examples
    --------
    >>> m = template_miner()
    >>> m.add_log_message("ERROR timeout after 3000 ms from 10.0.0.1")["template_mined"]
    'ERROR timeout after <NUM> ms from <IP>'
    """
    cfg = TemplateMinerConfig()
    cfg.drain_sim_th = sim_th
    cfg.drain_depth = depth
    cfg.drain_max_children = max_children
    cfg.drain_max_clusters = max_clusters
    cfg.masking_instructions = [MaskingInstruction(p, name) for p, name in MASKS]
    cfg.mask_prefix, cfg.mask_suffix = "<", ">"
    cfg.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=cfg)


def _field(name: str) -> pl.Expr:
    """The raw (still JSON-escaped) value of the first string member ``name`` of a JSON line."""
    return pl.col("message").str.extract(rf'"{name}"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _line_keys(logs: pl.LazyFrame) -> pl.LazyFrame:
    """Per line: timestamp, log_group, jservice, text (raw mined text, null when unusable), message.

    Only cheap per-line work happens here; unescaping, the service name of a log group, the level of a
    plain line and the masks are computed on the distinct texts (:func:`_distinct_columns`).
    """
    msg = pl.col("message")
    is_json = msg.str.strip_chars_start().str.starts_with("{")
    j_msg = pl.coalesce(_field("msg"), _field("message"))
    j_level = _field("level").str.to_uppercase()
    j_text = (pl.when(j_msg.is_null() | (j_msg == "")).then(None)
              .when(j_level.is_null() | (j_level == "")).then(j_msg)
              .otherwise(pl.concat_str([j_level, j_msg], separator=" ")))
    first_line = pl.when(~is_json).then(msg.str.splitn("\n", 2).struct.field("field_0"))
    text = pl.when(is_json).then(j_text).otherwise(first_line)
    return logs.select("timestamp", "log_group", pl.when(is_json).then(_field("service")).alias("jservice"),
                       text.alias("text"), "message")


def _distinct_columns(distinct: pl.DataFrame) -> pl.DataFrame:
    """Add service, clean (unescaped, first line, stripped), level and masked to the distinct texts."""
    text = pl.col("text")
    clean = (text.str.replace(r"\\[nr].*$", "").str.replace_all(r'\\(["\\/])', "$1")
             .str.replace_all(r"\\t|\t", " ").str.strip_chars().str.replace(r"^WARNING\b", "WARN"))
    group_service = pl.col("log_group").str.extract(r"([^/]+)/*$")
    return (distinct.with_columns(service=pl.coalesce("jservice", group_service, "log_group"), clean=clean)
            .filter(pl.col("clean") != "")
            .with_columns(level=pl.col("clean").str.extract(_PLAIN_LEVEL).str.replace(r"^WARNING$", "WARN"),
                          masked=_mask("clean")))


def _mask(col: str) -> pl.Expr:
    e = pl.col(col)
    for pattern, name in MASKS:
        e = e.str.replace_all(pattern, f"<{name}>")
    return e


def _check(logs: pl.LazyFrame) -> None:
    names = logs.collect_schema().names()
    for c in ("timestamp", "log_group", "message"):
        if c not in names:
            raise TemplateMiningError(f"logs frame, column {c!r}: missing (found {names})")


def mine_templates(logs: pl.DataFrame | pl.LazyFrame, *, sim_th: float = 0.7, depth: int = 4,
                   max_children: int = 100) -> TemplateMining:
    """Mine the canonical ``logs`` frame into templates (see the module docstring for the method).

    Parameters
    ----------
    logs : pl.DataFrame or pl.LazyFrame
        columns ``timestamp``, ``log_group``, ``message`` (``log_stream`` is not used).
    sim_th, depth, max_children
        drain3 parameters (:func:`template_miner`).

    Returns
    -------
    TemplateMining
        ``templates`` sorted by ``template_id`` (numbered in order of first appearance), ``events``
        in the input's row order.

    Raises
    ------
    TemplateMiningError
        when a required column is missing.

    Examples
    --------
    >>> df = pl.DataFrame({"timestamp": [0, 1000, 2000, 3000], "log_group": ["/ecs/prod/api"] * 4,
    ...     "message": ['{"level": "info", "msg": "user 17 logged in"}', '{"level": "INFO", "msg": "user 4 logged in"}',
    ...                 "ERROR [main] timeout after 3000 ms", '{"event": "x"}']},
    ...     schema_overrides={"timestamp": pl.Datetime("ms", "UTC")})
    >>> m = mine_templates(df)
    >>> m.templates.select("template", "service", "level", "count").rows()
    [('INFO user <NUM> logged in', 'api', 'INFO', 2), ('ERROR [main] timeout after <NUM> ms', 'api', 'ERROR', 1)]
    >>> m.unparsed, m.events["template_id"].to_list()
    (1, [0, 0, 1, None])
    """
    lf = logs.lazy()
    _check(lf)
    lines = _line_keys(lf)
    keys = ["log_group", "jservice", "text"]
    # one pass over the input: per-line keys, and the distinct texts with counts and an example line
    per_line_q = lines.select("timestamp", *keys)
    distinct_q = (lines.filter(pl.col("text").is_not_null())
                  .group_by(keys)
                  .agg(count=pl.len(), first_seen=pl.col("timestamp").min(), last_seen=pl.col("timestamp").max(),
                       example=pl.col("message").first()))
    per_line, distinct = pl.collect_all([per_line_q, distinct_q], engine="streaming")
    distinct = _distinct_columns(distinct).sort("first_seen", "service", "masked")
    grouped = (distinct.group_by("service", "masked", maintain_order=True)
               .agg(pl.col("level").first(), pl.col("count").sum(), pl.col("first_seen").min(),
                    pl.col("last_seen").max(), pl.col("example").first()))
    miners: dict[str, TemplateMiner] = {}
    ids: dict[tuple[str, int], int] = {}
    template_of: list[int] = []
    for service, text in zip(grouped["service"], grouped["masked"], strict=True):
        miner = miners.get(service)
        if miner is None:
            miner = miners[service] = template_miner(sim_th=sim_th, depth=depth, max_children=max_children)
        # the text is already masked with the same MASKS (polars, above): skip drain3's second masking pass
        cluster = int(miner.drain.add_log_message(text)[0].cluster_id)
        template_of.append(ids.setdefault((service, cluster), len(ids)))
    grouped = grouped.with_columns(template_id=pl.Series(template_of, dtype=pl.Int32))
    names = {tid: redact(miners[s].drain.id_to_cluster[c].get_template()) for (s, c), tid in ids.items()}
    templates = (grouped.group_by("template_id", maintain_order=True)
                 .agg(pl.col("service").first(), pl.col("level").first(), pl.col("count").sum(),
                      pl.col("first_seen").min(), pl.col("last_seen").max(), pl.col("example").first())
                 .with_columns(template=pl.col("template_id").replace_strict(names, return_dtype=pl.String),
                               example=pl.col("example").map_elements(redact, return_dtype=pl.String),
                               count=pl.col("count").cast(pl.Int64))
                 .select("template_id", "template", "service", "level", "count", "first_seen", "last_seen",
                         "example")
                 .sort("template_id"))
    key = (distinct.select(*keys, "service", "masked")
           .join(grouped.select("service", "masked", "template_id"), on=["service", "masked"])
           .drop("masked"))
    events = (per_line.join(key, on=keys, how="left", nulls_equal=True, maintain_order="left")
              .select(pl.col("timestamp").cast(UTC_MS), pl.col("service").cast(pl.Categorical), "template_id"))
    unparsed = events["template_id"].null_count()
    if unparsed:  # their service still comes from the log group
        group_service = pl.col("log_group").str.extract(r"([^/]+)/*$").cast(pl.Categorical)
        events = events.with_columns(pl.col("service").fill_null(per_line.select(group_service).to_series()))
    logger.debug("mined %d lines: %d distinct texts, %d masked, %d templates, %d unparsed", per_line.height,
                 distinct.height, grouped.height, len(ids), unparsed)
    return TemplateMining(templates=templates, events=events, unparsed=unparsed,
                          distinct_messages=grouped.height)


def template_counts(mining: TemplateMining, every: str = "5m", *, fill_zeros: bool = False) -> pl.DataFrame:
    """Per-template line counts in buckets of ``every`` (a polars duration string, ``"1m"``, ``"1h"``).

    Returns a frame ``timestamp`` (bucket start), ``template_id``, ``count`` sorted by time then
    template. Buckets without lines are absent unless ``fill_zeros``, which returns every bucket
    from the first to the last line for every template. Unparsed lines are not counted.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> m = mine_templates(sa.store.Snapshot.open(demo_snapshot()).scan("logs"))
    >>> c = template_counts(m, "1h")
    >>> c.columns, int(c["count"].sum()) == m.events.height - m.unparsed
    (['timestamp', 'template_id', 'count'], True)
    """
    ev = mining.events.drop_nulls("template_id")
    out = (ev.group_by(pl.col("timestamp").dt.truncate(every), "template_id")
           .agg(count=pl.len().cast(pl.Int64)).sort("timestamp", "template_id"))
    if not fill_zeros or out.is_empty():
        return out
    t = pl.col("timestamp")
    grid = out.select(pl.datetime_range(t.min(), t.max(), every, time_unit="ms", time_zone="UTC"))
    full = grid.join(mining.templates.select("template_id"), how="cross")
    return (full.join(out, on=["timestamp", "template_id"], how="left")
            .with_columns(pl.col("count").fill_null(0)).sort("timestamp", "template_id"))


def _hours(window: tuple[datetime, datetime], name: str) -> float:
    start, end = window
    hours = (end - start).total_seconds() / 3600.0
    if not hours > 0:
        raise TemplateMiningError(f"{name} window [{start}, {end}) is empty")
    return hours


def _window_counts(events: pl.DataFrame, window: tuple[datetime, datetime], name: str) -> pl.DataFrame:
    start, end = window
    t = pl.col("timestamp")
    return (events.filter((t >= start) & (t < end) & pl.col("template_id").is_not_null())
            .group_by("template_id").agg(pl.len().cast(pl.Int64).alias(name)))


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    return np.asarray(stats.false_discovery_control(p, method="bh")) if p.size else p


def template_changes(mining: TemplateMining, incident: tuple[datetime, datetime],
                     baseline: tuple[datetime, datetime], *, service: str | None = None,
                     alpha: float = 0.05) -> pl.DataFrame:
    """Templates new or surging in ``incident`` against ``baseline`` (both half-open windows).

    Test: for a template with ``k`` lines in the incident and ``b`` in the baseline, under the null
    hypothesis of one rate over both windows ``k`` is binomial with ``n = k + b`` trials and
    ``p0 = T_incident / (T_incident + T_baseline)`` (the exact conditional test of two Poisson
    rates with exposures ``T``); ``p_value`` is the one-sided ``P(X >= k)``. Every template seen in
    either window is tested (and, with ``service``, only that service's templates); ``significant``
    means the Benjamini-Hochberg adjusted p-value is below ``alpha`` (a false discovery rate,
    5 % by default) over that family. Only templates whose incident rate is above their baseline
    rate are returned. A new template needs a few lines to be significant: with equal windows its
    p-value is ``0.5 ** k``, so 8 new lines give 0.004 before the correction.

    Choose a baseline with the same daily phase (the previous day's or week's same hours): against
    a whole previous day, daytime traffic templates surge against the night.

    Returns
    -------
    pl.DataFrame
        ``template_id``, ``template``, ``service``, ``level``, ``baseline_count``,
        ``incident_count``, ``baseline_rate_per_h``, ``incident_rate_per_h``, ``ratio`` (incident
        rate over baseline rate, ``inf`` when new), ``is_new`` (no baseline line), ``p_value``
        (raw), ``significant``, ``example``; significant first, then by p-value, then by ratio.

    Examples
    --------
    >>> import slo_analysis as sa
    >>> from datetime import UTC, datetime, timedelta
    >>> m = mine_templates(sa.store.Snapshot.open(demo_snapshot()).scan("logs"))
    >>> t0 = m.templates.filter(pl.col("template") == "WARN slow query on agent_skills")["first_seen"][0]
    >>> ch = template_changes(m, (t0, t0 + timedelta(hours=1)), (t0 - timedelta(days=1), t0 - timedelta(hours=23)))
    >>> ch.filter(pl.col("template") == "WARN slow query on agent_skills").select("is_new", "significant").row(0)
    (True, True)
    """
    if not 0 < alpha < 1:
        raise TemplateMiningError(f"alpha must be in (0, 1), got {alpha}")
    t_inc, t_base = _hours(incident, "incident"), _hours(baseline, "baseline")
    ev = mining.events if service is None else mining.events.filter(pl.col("service") == service)
    counts = (_window_counts(ev, incident, "incident_count")
              .join(_window_counts(ev, baseline, "baseline_count"), on="template_id", how="full", coalesce=True)
              .with_columns(pl.col("incident_count", "baseline_count").fill_null(0)))
    k = counts["incident_count"].to_numpy()
    n = k + counts["baseline_count"].to_numpy()
    p0 = t_inc / (t_inc + t_base)
    p = stats.binom.sf(k - 1, n, p0) if n.size else np.empty(0)
    q = _bh(p)
    out = counts.with_columns(
        p_value=pl.Series(p, dtype=pl.Float64), significant=pl.Series(q < alpha, dtype=pl.Boolean),
        baseline_rate_per_h=pl.col("baseline_count") / t_base, incident_rate_per_h=pl.col("incident_count") / t_inc,
        is_new=pl.col("baseline_count") == 0,
    ).with_columns(
        ratio=pl.when(pl.col("is_new")).then(math.inf)
        .otherwise(pl.col("incident_rate_per_h") / pl.col("baseline_rate_per_h")),
    ).filter(pl.col("incident_rate_per_h") > pl.col("baseline_rate_per_h"))
    cols: Sequence[str] = ("template_id", "template", "service", "level", "baseline_count", "incident_count",
                           "baseline_rate_per_h", "incident_rate_per_h", "ratio", "is_new", "p_value",
                           "significant", "example")
    return (out.join(mining.templates.select("template_id", "template", "service", "level", "example"),
                     on="template_id", how="left")
            .select(cols)
            .sort(["significant", "p_value", "ratio", "incident_count"], descending=[True, False, True, True]))


# ----------------------------------------------------------------------------- redaction
_SECRET_KEY = (r"(?i)\b((?:password|passwd|pwd|secret|client_secret|api[_-]?key|apikey|access[_-]?key|"
               r"secret[_-]?access[_-]?key|auth[_-]?token|access[_-]?token|refresh[_-]?token|token|"
               r"session[_-]?token)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)")
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 <TOKEN>"),
    (re.compile(_SECRET_KEY), r"\1<TOKEN>"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<TOKEN>"),  # JWT
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), "<TOKEN>"),  # AWS key ids
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,})"), "<TOKEN>"),
    (re.compile(_EMAIL), "<EMAIL>"),
    # long secrets: 32+ characters of base64/url-safe alphabet with upper, lower case and digits
    # (lower-case hex ids, UUIDs and trace ids stay)
    (re.compile(r"(?<![\w/+=-])(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*\d)"
                r"[A-Za-z0-9+/_-]{32,}={0,2}(?![\w/+=-])"), "<TOKEN>"),
    (re.compile(_IPV4), "<IP>"),
    (re.compile(r"(?<![\w:])" + _IPV6 + r"(?![\w:])"), "<IP>"),
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, IP addresses and secrets replaced by ``<EMAIL>``, ``<IP>``, ``<TOKEN>``.

    Secrets are bearer/basic tokens, ``key=value`` / ``"key": "value"`` pairs whose key names a
    password, secret, token or API/access key, JWTs, AWS access key ids, GitHub/Slack/OpenAI-style
    tokens and any 32+ character run of mixed-case letters and digits (an AWS secret key).
    Lower-case hex ids, UUIDs and trace ids are kept: they are how a reader finds the request.

    Examples
    --------
    >>> redact("Authorization: Bearer abc.def-123456 from fe80::1ff:fe23:4567:890a")
    'Authorization: Bearer <TOKEN> from <IP>'
    >>> redact('{"api_key": "s3cr3t!", "user": "ann@corp.io"}')
    '{"api_key": "<TOKEN>", "user": "<EMAIL>"}'
    """
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text
