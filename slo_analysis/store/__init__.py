"""Incident snapshots on disk: raw inputs, parquet frames and a manifest (see :mod:`.snapshot`)."""

from slo_analysis.store.importer import ImportResult, expand_inputs, import_files
from slo_analysis.store.snapshot import MANIFEST_NAME, SCHEMA_VERSION, Snapshot
from slo_analysis.store.summary import format_summary, snapshot_summary

__all__ = [
    "Snapshot",
    "SCHEMA_VERSION",
    "MANIFEST_NAME",
    "ImportResult",
    "import_files",
    "expand_inputs",
    "snapshot_summary",
    "format_summary",
]
