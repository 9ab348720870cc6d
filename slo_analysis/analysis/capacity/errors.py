"""The errors and the warning of capacity planning.

``CapacityError`` derives from :class:`~slo_analysis.exceptions.SloAnalysisError` (bad input: too short a
series, a missing metric, an unstable queue); ``CapacityWarning`` is a :class:`UserWarning` for results that
hold but should be read with care (a load beyond the observed range, a poorly determined fit)::

    SloAnalysisError
    └── CapacityError             capacity input cannot support the analysis (names the series / column)
        └── UnstableQueueError    offered load at or above the number of servers / agents

Examples
--------
>>> issubclass(UnstableQueueError, CapacityError)
True
>>> str(UnstableQueueError(10.0, 10))
'offered load 10 erlangs >= 10 agents: the queue grows without bound (Erlang C needs load < agents)'
"""

from __future__ import annotations

from slo_analysis.exceptions import SloAnalysisError

__all__ = ["CapacityError", "UnstableQueueError", "CapacityWarning"]


class CapacityError(SloAnalysisError):
    """Capacity-planning input cannot support the requested analysis."""


class UnstableQueueError(CapacityError):
    """Offered load ``A`` (erlangs) at or above the number of servers ``c``: no steady state exists."""

    def __init__(self, load: float, servers: int) -> None:
        self.load = load
        self.servers = servers
        super().__init__(f"offered load {load:g} erlangs >= {servers} agents: the queue grows without bound "
                         f"(Erlang C needs load < agents)")


class CapacityWarning(UserWarning):
    """A capacity result that extrapolates beyond the data or rests on a poorly determined fit."""
