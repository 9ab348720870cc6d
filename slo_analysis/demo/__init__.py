"""A deterministic demo incident for a customer-service platform, in AWS wire formats.

``generate(out_dir)`` writes two weeks of metrics, logs, traces, SLOs, alarms and deployment records
(layout in ``docs/demo-layout.md``) plus ``scenario.json``, the ground truth only tests read.
``scenarios.scenario_suite()`` / ``scenarios.simulate_scenario()`` simulate the root-cause benchmark's
incidents in memory.
"""

from __future__ import annotations

from slo_analysis.demo.generator import generate

__all__ = ["generate"]
