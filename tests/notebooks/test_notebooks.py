"""Every notebook template runs with papermill on a demo snapshot, and is committed with outputs stripped."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_templates() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_and_with_a_parameters_cell(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        assert not cell.get("outputs") and not cell.get("execution_count"), f"{path.name}: strip outputs"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])


def _expected(name: str, truth: dict) -> list[str]:
    """What each template must print on the demo (from the ground truth where it names a fact)."""
    return {
        "getting_started.ipynb": ["rows per frame"],
        "exploratory_analysis.ipynb": ["rows per frame", truth["culprit_deployment"]["id"]],
        "post_incident_review.ipynb": [truth["culprit_deployment"]["id"], "is the likely cause", "Plotly.newPlot"],
        "slo_and_alert_tuning.ipynb": ["suggested_target", "workbook", "Plotly.newPlot"],
        "capacity_planning.ipynb": ["agents", "Plotly.newPlot"],
    }[name]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template_runs_on_the_demo(path: Path, demo_snapshot: Path, small_demo: Path, tmp_path: Path) -> None:
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters={"snapshot_path": str(demo_snapshot)},
                        cwd=str(path.parent), kernel_name="python3", progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") + o.get("data", {}).get(
        "text/html", "") for o in outputs)
    truth = json.loads((small_demo / "scenario.json").read_text())
    for expected in _expected(path.name, truth):
        assert expected in text, f"{path.name} did not print {expected!r}"
