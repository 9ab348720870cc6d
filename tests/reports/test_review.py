"""`slo-analysis review` on the demo: a self-contained HTML review and a Markdown summary, checked as files
and in a real headless Chromium (Debian's `chromium`, installed by .ci/run)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slo_analysis.cli import app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SECTIONS = ("Post-incident review", "Summary", "Impact", "Timeline", "Detection", "Root cause: the suspects",
            "Root cause: what moved first", "Root cause: traces", "Root cause: logs", "Root cause: who was affected",
            "Review skeleton")


@pytest.fixture(scope="module")
def review(demo_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("review")
    result = CliRunner().invoke(app, ["review", str(demo_snapshot), "--out", str(out), "--timezone", "Europe/Berlin"])
    assert result.exit_code == 0, result.output
    html = Path(re.search(r"review: (\S+\.html)", result.output).group(1))  # type: ignore[union-attr]
    md = Path(re.search(r"summary: (\S+\.md)", result.output).group(1))  # type: ignore[union-attr]
    return {"html": html, "md": md, "out": out}


@pytest.fixture(scope="module")
def truth(small_demo: Path) -> dict:
    return json.loads((small_demo / "scenario.json").read_text())


def test_html_is_self_contained_and_hides_code(review: dict[str, Path], truth: dict) -> None:
    html = review["html"].read_text()
    assert not re.findall(r"""<(?:script|link|img)[^>]+(?:src|href)=["']https?://""", html)
    assert "plotly.js v" in html or "plotly-latest" in html or "Plotly.newPlot" in html
    assert "import slo_analysis" not in html  # code cells are hidden by default
    assert truth["culprit_deployment"]["id"] in html
    assert "CET" in html or "+01:00" in html  # the display timezone reached the review
    missing = [section for section in SECTIONS if section not in html]  # headings are checked in the browser test
    assert not missing, missing


def test_markdown_summary_names_the_culprit_and_the_timeline(review: dict[str, Path], truth: dict) -> None:
    md = review["md"].read_text()
    assert md.startswith("# Post-incident review")
    assert truth["culprit_deployment"]["id"] in md
    for kind in ("| change |", "| onset |", "| detection |", "| mitigation |", "| recovery |"):
        assert kind in md
    assert "error budget consumed" in md


def test_bad_window_is_a_clear_error(demo_snapshot: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["review", str(demo_snapshot), "--out", str(tmp_path), "--window", "yesterday"])
    assert result.exit_code == 2 and "--window" in result.output


def test_review_renders_in_headless_chromium(review: dict[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    shot = review["out"] / "review.png"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(review["html"].resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('.plotly-graph-div').length > 0")
        page.wait_for_timeout(1500)
        charts = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
        drawn = page.evaluate("Array.from(document.querySelectorAll('.plotly-graph-div'))"
                              ".filter(d => d.querySelector('svg.main-svg')).length")
        headings = page.evaluate("Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent)")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
    assert charts >= 8 and drawn == charts, (charts, drawn)
    text = " ".join(headings)
    missing = [s for s in SECTIONS if s not in text]
    assert not missing, missing
    assert shot.stat().st_size > 50_000
