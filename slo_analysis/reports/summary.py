"""The Markdown summary of a review: the key figures a team pastes into a ticket or a chat.

Examples
--------
>>> print(review_markdown("Demo", [], []).splitlines()[0])
# Post-incident review: Demo
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import polars as pl

from slo_analysis.analysis.impact import incident_impact, incident_timeline
from slo_analysis.analysis.root_cause import IncidentAnalysis
from slo_analysis.analysis.slo_evaluation import SloEvaluation
from slo_analysis.analysis.slo_status import FrameSource

__all__ = ["review_markdown", "write_summary"]


def _ts(value: datetime | None, tz: str) -> str:
    if value is None:
        return "-"
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def _minutes(m: float | None) -> str:
    return "-" if m is None else f"{m:+.0f} min"


def review_markdown(title: str, analyses: Sequence[IncidentAnalysis], evaluations: Sequence[SloEvaluation],
                    frames: FrameSource | None = None, *, tz: str = "UTC") -> str:
    """Markdown with, per incident: window, verdict, timeline with offsets from the onset, impact per SLO,
    and the top suspects."""
    lines = [f"# Post-incident review: {title}", ""]
    if not analyses:
        lines.append("No incident windows were found for the chosen SLOs and window.")
        return "\n".join(lines) + "\n"
    for a in analyses:
        inc = a.incident
        lines += [f"## {inc.id}", "",
                  f"- **Window:** {_ts(inc.start, tz)} to {_ts(inc.end, tz)} "
                  f"({inc.duration.total_seconds() / 60:.0f} min)",
                  f"- **SLOs:** {', '.join(inc.slos)}",
                  f"- **Verdict:** {a.verdict.statement}", ""]
        if frames is not None:
            tl = incident_timeline(frames, a)
            lines += ["| time | event | from onset | what |", "|---|---|---|---|"]
            for r in tl.iter_rows(named=True):
                lines.append(f"| {_ts(r['timestamp'], tz)} | {r['kind']} | {_minutes(r['minutes_from_onset'])} "
                             f"| {r['label']} |")
            lines.append("")
        impact = incident_impact(a, evaluations)
        if impact.height:
            lines += ["| SLO | bad events | share bad | error budget consumed |", "|---|---|---|---|"]
            for r in impact.iter_rows(named=True):
                share = "-" if r["bad_share"] is None else f"{r['bad_share']:.1%}"
                used = "-" if r["budget_consumed"] is None else f"{r['budget_consumed']:.0%}"
                lines.append(f"| {r['slo']} | {r['bad_events']:.0f} {r['unit']} | {share} | {used} |")
            lines.append("")
        if a.suspects.height:
            lines += ["| # | change | service | score | evidence |", "|---|---|---|---|---|"]
            for r in a.suspects.head(3).iter_rows(named=True):
                lines.append(f"| {r['rank']} | {r['deployment_id']} | {r['service']} | {r['score']:.2f} "
                             f"| {r['evidence']} |")
            lines.append("")
        sig = a.log_changes.filter(pl.col("significant")) if a.log_changes.height else a.log_changes
        if sig.height:
            lines.append("New or surging log templates: " + "; ".join(
                f"`{t}` ({s})" for t, s in sig.head(3).select("template", "service").rows()))
            lines.append("")
    return "\n".join(lines) + "\n"


def write_summary(path: str | Path, title: str, analyses: Sequence[IncidentAnalysis],
                  evaluations: Sequence[SloEvaluation], frames: FrameSource | None = None, *,
                  tz: str = "UTC") -> Path:
    """Write :func:`review_markdown` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(review_markdown(title, analyses, evaluations, frames, tz=tz), encoding="utf-8")
    return out
