"""Readers of AWS responses and saved files, each returning canonical frames (see ``slo_analysis.frames``).

One module per AWS service; every loader takes the parsed response (what boto3 returns or the AWS CLI
prints), so saved files and live calls share one parser. ``detect.sniff`` recognises a file's format
by content.
"""

from slo_analysis.sources import (
    alarms,
    application_signals,
    cloudwatch_logs,
    cloudwatch_metrics,
    deployment_merge,
    deployments,
    detect,
    openslo,
    requests,
    xray,
)
from slo_analysis.sources._io import BadRecord, LoadReport

__all__ = [
    "alarms",
    "application_signals",
    "cloudwatch_logs",
    "cloudwatch_metrics",
    "deployment_merge",
    "deployments",
    "detect",
    "openslo",
    "requests",
    "xray",
    "LoadReport",
    "BadRecord",
]
