"""``slo-analysis review``: run the post-incident review template and export it as one HTML file.

The template (``notebooks/post_incident_review.ipynb``) runs with papermill on a snapshot; the executed
notebook is exported with nbconvert through the ``review`` template beside this module: code hidden by
default, nothing loaded from the internet (plotly.js is inlined by :func:`slo_analysis.reports.show`), so
the file opens anywhere, offline, and can be attached to a ticket. The notebook itself writes the
Markdown summary of the key figures (:mod:`slo_analysis.reports.summary`) next to the HTML.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from slo_analysis.exceptions import SloAnalysisError

__all__ = ["ReviewError", "ReviewOutput", "run_review", "export_html", "template_path", "TEMPLATES_DIR"]

log = logging.getLogger(__name__)

#: nbconvert templates shipped with the package
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


class ReviewError(SloAnalysisError):
    """The review template is missing, or failed while running (the message names the cell)."""


@dataclass(frozen=True)
class ReviewOutput:
    """The files one review wrote."""

    html: Path
    markdown: Path
    notebook: Path
    seconds: float


def template_path(name: str = "post_incident_review") -> Path:
    """The notebook template ``name`` from the project's ``notebooks/`` folder."""
    path = _NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        raise ReviewError(f"notebook template {path} not found (pass template=... to use another one)")
    return path


def export_html(notebook: Path, html: Path, *, show_code: bool = False) -> Path:
    """Export an executed notebook to a self-contained HTML file (code hidden unless ``show_code``)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="review", extra_template_basedirs=[str(TEMPLATES_DIR)],
                            exclude_input=not show_code, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def _window_text(window: tuple[datetime, datetime] | None) -> str:
    return "" if window is None else f"{window[0].isoformat()}/{window[1].isoformat()}"


def run_review(snapshot: Path, out: Path, *, slos: list[str] | None = None,
               window: tuple[datetime, datetime] | None = None, timezone: str = "UTC", redact: bool = True,
               show_code: bool = False, template: Path | None = None, name: str | None = None) -> ReviewOutput:
    """Execute the review template on ``snapshot`` and write ``<name>.html``, ``<name>.md`` and the
    executed ``<name>.ipynb`` into ``out``.

    Raises
    ------
    ReviewError
        when the template is missing or a cell fails (the executed notebook is kept for inspection).
    """
    import papermill as pm

    t0 = time.perf_counter()
    template = template or template_path()
    out.mkdir(parents=True, exist_ok=True)
    name = name or f"review-{Path(snapshot).resolve().name}"
    executed, html, markdown = out / f"{name}.ipynb", out / f"{name}.html", out / f"{name}.md"
    parameters = {
        "snapshot_path": str(Path(snapshot).resolve()),
        "slos": list(slos or []),
        "incident_window": _window_text(window),
        "timezone": timezone,
        "redact": redact,
        "summary_path": str(markdown.resolve()),
    }
    try:
        pm.execute_notebook(str(template), str(executed), parameters=parameters, kernel_name="python3",
                            cwd=str(template.parent), progress_bar=False)
    except pm.PapermillExecutionError as exc:
        raise ReviewError(f"the review template failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
                          f"the executed notebook is {executed}") from exc
    export_html(executed, html, show_code=show_code)
    seconds = time.perf_counter() - t0
    log.info("review written to %s in %.1f s", html, seconds)
    return ReviewOutput(html, markdown, executed, seconds)
