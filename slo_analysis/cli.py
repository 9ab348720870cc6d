"""The ``slo-analysis`` command line. It prints; the library does not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from slo_analysis.exceptions import SloAnalysisError

__all__ = ["app"]

app = typer.Typer(
    name="slo-analysis",
    help="Incident analysis workbench for SREs on AWS: snapshots, SLOs, breaches and suspects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
demo_app = typer.Typer(help="Generate the demo incident and run the workbench on it.")
app.add_typer(demo_app, name="demo")

DEFAULT_DATA = Path("data")
DEMO_FOLDER = "demo-incident"
DEMO_SNAPSHOT = "demo-snapshot"


def _fail(exc: SloAnalysisError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Option(help="Folder to write the demo incident into.")] = DEFAULT_DATA
    / DEMO_FOLDER,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 7,
    days: Annotated[int, typer.Option(help="Days of history to generate.")] = 14,
    scale: Annotated[float, typer.Option(help="Traffic multiplier (10 for benchmarks).")] = 1.0,
    start: Annotated[str, typer.Option(help="First day (UTC, YYYY-MM-DD).")] = "2026-11-02",
) -> None:
    """Write the demo incident in AWS wire formats (GetMetricData pages, Logs exports, X-Ray, ...)."""
    from slo_analysis import demo

    t0 = time.perf_counter()
    with tqdm(desc="demo", unit="step", leave=False) as bar:

        def step(what: str) -> None:
            bar.set_postfix_str(what)
            bar.update(1)

        path = demo.generate(out, seed=seed, days=days, scale=scale, start=start, progress=step)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    typer.echo(f"demo incident written to {path} ({size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")


def _demo_is_current(folder: Path, seed: int, days: int, scale: float) -> bool:
    scenario = folder / "scenario.json"
    if not scenario.exists():
        return False
    meta = json.loads(scenario.read_text())
    return (meta.get("seed"), meta.get("days"), float(meta.get("scale", 0))) == (seed, days, scale)


@demo_app.callback(invoke_without_command=True)
def demo_main(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Option(help="Where the demo data and snapshot live.")] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed of the demo.")] = 7,
    days: Annotated[int, typer.Option(help="Days of history.")] = 14,
    scale: Annotated[float, typer.Option(help="Traffic multiplier.")] = 1.0,
) -> None:
    """Generate the demo incident if missing, import it into a snapshot, and summarise it."""
    if ctx.invoked_subcommand is not None:
        return
    from slo_analysis import demo
    from slo_analysis.store import Snapshot, format_summary, import_files, snapshot_summary

    t0 = time.perf_counter()
    folder, snap_dir = data_dir / DEMO_FOLDER, data_dir / DEMO_SNAPSHOT
    try:
        if not _demo_is_current(folder, seed, days, scale):
            typer.echo(f"generating the demo incident into {folder} ...")
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(snap_dir, ignore_errors=True)  # a snapshot of older demo data is stale
            demo.generate(folder, seed=seed, days=days, scale=scale)
        inputs = sorted(p for p in folder.iterdir() if p.name != "scenario.json")  # ground truth stays out
        typer.echo(f"importing {folder} into {snap_dir} ...")
        result = import_files(inputs, snap_dir, progress=lambda it: tqdm(list(it), desc="import", unit="file",
                                                                         leave=False))
        typer.echo(f"imported {len(result.imported)} file(s), {len(result.already_imported)} already present, "
                   f"{len(result.skipped)} skipped")
        typer.echo(format_summary(snapshot_summary(Snapshot.open(snap_dir))))
    except SloAnalysisError as exc:
        _fail(exc)
    typer.echo(f"done in {time.perf_counter() - t0:.1f} s")


@app.command("import")
def import_cmd(
    src: Annotated[list[Path], typer.Argument(help="Saved files or folders (recognised by content).")],
    out: Annotated[Path, typer.Option("--out", help="Snapshot folder to build or extend.")],
    log_group: Annotated[str | None, typer.Option(help="Log group for exports/events that do not name it.")] = None,
    keep_going: Annotated[bool, typer.Option(help="Skip files that fail to parse instead of stopping.")] = False,
) -> None:
    """Build or extend a snapshot from saved AWS CLI outputs, Logs exports, SLO and deployment files."""
    from slo_analysis.store import import_files

    try:
        result = import_files(src, out, log_group=log_group, keep_going=keep_going,
                              progress=lambda it: tqdm(list(it), desc="import", unit="file", leave=False))
    except SloAnalysisError as exc:
        _fail(exc)
        return
    for file, kind in result.imported:
        typer.echo(f"imported  {kind:<26} {file}")
    for file in result.already_imported:
        typer.echo(f"present   {'(same sha256)':<26} {file}")
    for file, reason in result.skipped:
        typer.secho(f"skipped   {file}: {reason}", fg=typer.colors.YELLOW)
    added = ", ".join(f"{k} +{v:,}" for k, v in sorted(result.rows_added.items())) or "nothing new"
    typer.echo(f"rows added: {added}; bad records quarantined: {len(result.report.bad)}")


@app.command("summary")
def summary_cmd(
    snapshot: Annotated[Path, typer.Argument(help="Snapshot folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Print rows per frame, time range, services, SLOs, changes and the load report of a snapshot."""
    from slo_analysis.store import Snapshot, format_summary, snapshot_summary

    try:
        summary = snapshot_summary(Snapshot.open(snapshot))
    except SloAnalysisError as exc:
        _fail(exc)
        return
    typer.echo(json.dumps(summary, indent=2, default=str) if as_json else format_summary(summary))


@app.command("verify")
def verify_cmd(snapshot: Annotated[Path, typer.Argument(help="Snapshot folder.")]) -> None:
    """Check every stored file of a snapshot against the sha256 in its manifest."""
    from slo_analysis.store import Snapshot

    try:
        snap = Snapshot.open(snapshot)
        snap.verify()
    except SloAnalysisError as exc:
        _fail(exc)
        return
    typer.echo(f"ok: {len(snap.manifest['files'])} files match manifest.json")


@app.command("lab")
def lab_cmd(
    notebooks: Annotated[Path, typer.Option(help="Folder JupyterLab opens.")] = Path("notebooks"),
) -> None:
    """Open JupyterLab on the notebook templates."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}"]))


if __name__ == "__main__":
    app()
