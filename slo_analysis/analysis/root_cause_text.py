"""The root-cause analysis as plain text: what ``slo-analysis analyze`` and ``slo-analysis demo`` print.

Examples
--------
>>> print(format_analyses([]))
No incident windows: no SLO met its page condition in the window.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from slo_analysis.analysis.root_cause import IncidentAnalysis

__all__ = ["format_analyses"]


def _ts(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%m-%d %H:%M")


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=118, initial_indent=indent, subsequent_indent=indent + "  ")


def format_analyses(analyses: Sequence[IncidentAnalysis], *, suspects: int = 5, rows: int = 5) -> str:
    """Each incident with its verdict, ranked suspects and their evidence, and the top findings."""
    if not analyses:
        return "No incident windows: no SLO met its page condition in the window."
    lines: list[str] = []
    for a in analyses:
        inc = a.incident
        minutes = inc.duration.total_seconds() / 60
        lines.append(f"{inc.id}  {_ts(inc.start)} -> {_ts(inc.end)} UTC ({minutes:.0f} min)  "
                     f"SLOs: {', '.join(inc.slos)}")
        lines.append(f"  baseline {_ts(a.baseline[0])} -> {_ts(a.baseline[1])} UTC")
        lines += _wrap(("VERDICT: " if a.verdict.explained else "VERDICT: ") + a.verdict.statement, "  ")
        if a.suspects.height:
            lines.append(f"  {'#':>2} {'deployment':<30} {'service':<17} {'finished':<11} {'score':>5}  evidence")
            for r in a.suspects.head(suspects).iter_rows(named=True):
                head = (f"  {r['rank']:>2} {r['deployment_id'][:30]:<30} {r['service'][:17]:<17} "
                        f"{_ts(r['finished_at']):<11} {r['score']:>5.2f}  ")
                body = textwrap.wrap(r["evidence"], width=118 - len(head)) or [""]
                lines.append(head + body[0])
                lines += [" " * len(head) + more for more in body[1:]]
        else:
            lines.append("  no deployment or config change in the look-back before the onset")
        if a.sweep.height:
            lines.append("  metrics that moved (earliest and furthest first):")
            for r in a.sweep.head(rows).iter_rows(named=True):
                dims = r["dimensions"] or ""
                dep = "-" if r["departure"] is None else f"{r['departure']:.1f}"
                lines.append(f"    {r['namespace']}/{r['metric']} {r['stat']} {{{dims[:60]}}} "
                             f"{r['direction'] or ''} {dep} from {_ts(r['first_anomalous_at'])}")
        if a.log_changes.height:
            sig = a.log_changes.filter(pl.col("significant"))
            if sig.height:
                lines.append("  log templates new or surging in the incident:")
                for r in sig.head(rows).iter_rows(named=True):
                    what = "new" if r["is_new"] else f"x{r['ratio']:.1f}"
                    lines.append(f"    [{r['service']}] {r['template'][:80]}  {what} "
                                 f"({r['baseline_count']} -> {r['incident_count']})")
        if a.dimensions.height:
            sig = a.dimensions.filter(pl.col("significant"))
            if sig.height:
                lines.append("  over-represented among bad requests:")
                for r in sig.head(rows).iter_rows(named=True):
                    lines.append(f"    {r['dimension']}={r['value']}  lift {r['lift']:.2f} "
                                 f"({r['bad_count']} bad of {r['total_count']})")
        for note in a.notes:
            lines.append(f"  note: {note}")
        lines.append("")
    return "\n".join(lines).rstrip()
