"""Analyses built on the pure core: the SLI of each SLO of a snapshot, and more to come."""

from slo_analysis.analysis.slo_status import (
    FrameSource,
    SliSource,
    sli_for_slo,
    sli_source,
    slis_for_slos,
    ticket_events_from_logs,
)

__all__ = ["FrameSource", "SliSource", "sli_for_slo", "sli_source", "slis_for_slos", "ticket_events_from_logs"]
