"""The pure SLO core: SLO definitions, SLIs, error budgets, burn rates, breach/incident windows and
alert backtests (module map and the SLI frame contract: docs/slo-engine.md).

No I/O, no clock, no logging; polars and numpy only (a test checks that importing it does not import
boto3). Every function takes an explicit half-open window ``[start, end)``.

Examples
--------
The latency SLO of the demo (``demo_snapshot()``: a small generated demo snapshot), from its
definition to its SLI, budget and windows:

>>> import slo_analysis as sa
>>> from slo_analysis.analysis import sli_for_slo
>>> snap = sa.store.Snapshot.open(demo_snapshot())
>>> slo = next(s for s in slos_from_frame(snap.read("slos")) if s.name == "CreateTicket-Latency-p99")
>>> slo.method, slo.target, slo.period_s, round(error_budget_seconds(slo.target, 86400), 9)
('period', 0.99, 60, 864.0)
>>> sli = sli_for_slo(snap, slo, align_window(snap.window, 60))
>>> budget = rolling_budget(sli, slo.target, interval_length(slo).total_seconds())
>>> incidents = incident_windows(sli, slo.target)
>>> [(w["start"].strftime("%d %H:%M"), w["end"].strftime("%H:%M")) for w in incidents.iter_rows(named=True)]
[('03 14:07', '15:29')]
>>> breach_windows(budget, sli.period_s)["start"][0].strftime("%d %H:%M")
'03 14:23'
"""

# The curated API is each module's own __all__, re-exported here (one list per name, kept in its module).
from slo_analysis.core import alerts, budget, model, sli, windows
from slo_analysis.core.alerts import *  # noqa: F403
from slo_analysis.core.budget import *  # noqa: F403
from slo_analysis.core.model import *  # noqa: F403
from slo_analysis.core.sli import *  # noqa: F403
from slo_analysis.core.windows import *  # noqa: F403

__all__ = [*model.__all__, *sli.__all__, *budget.__all__, *windows.__all__, *alerts.__all__]
