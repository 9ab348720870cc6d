"""Reports: notebook templates run with papermill and exported as self-contained HTML reviews.

``sa.reports.show(fig)`` displays a figure so that the exported review works offline;
``sa.reports.run_review(snapshot, out)`` is what ``slo-analysis review`` runs.
"""

from slo_analysis.reports.display import figure_html, reset, show
from slo_analysis.reports.review import ReviewError, ReviewOutput, export_html, run_review, template_path
from slo_analysis.reports.summary import review_markdown, write_summary

__all__ = [
    "show", "figure_html", "reset", "ReviewError", "ReviewOutput", "export_html", "run_review", "template_path",
    "review_markdown", "write_summary",
]
