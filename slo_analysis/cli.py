"""The ``slo-analysis`` command line. It prints; the library does not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from tqdm import tqdm

from slo_analysis.exceptions import SloAnalysisError

if TYPE_CHECKING:
    from slo_analysis.analysis.slo_evaluation import SloEvaluation

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


def _fail(exc: SloAnalysisError) -> NoReturn:
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


def _schema_version(snap_dir: Path) -> int | None:
    """The schema version a snapshot folder was written with (None: no snapshot there yet)."""
    manifest = snap_dir / "manifest.json"
    return json.loads(manifest.read_text()).get("schema_version") if manifest.exists() else None


def _ensure_demo_snapshot(data_dir: Path, seed: int, days: int, scale: float) -> Path:
    """Generate the demo incident when missing or stale, import it, and return the snapshot folder."""
    from slo_analysis import demo
    from slo_analysis.store import SCHEMA_VERSION, import_files

    folder, snap_dir = data_dir / DEMO_FOLDER, data_dir / DEMO_SNAPSHOT
    if not _demo_is_current(folder, seed, days, scale):
        typer.echo(f"generating the demo incident into {folder} ...")
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(snap_dir, ignore_errors=True)  # a snapshot of older demo data is stale
        demo.generate(folder, seed=seed, days=days, scale=scale)
    elif _schema_version(snap_dir) not in (None, SCHEMA_VERSION):
        typer.echo(f"rebuilding {snap_dir}: it was written by an older slo_analysis")
        shutil.rmtree(snap_dir)
    inputs = sorted(p for p in folder.iterdir() if p.name != "scenario.json")  # ground truth stays out
    typer.echo(f"importing {folder} into {snap_dir} ...")
    result = import_files(inputs, snap_dir, progress=lambda it: tqdm(list(it), desc="import", unit="file",
                                                                     leave=False))
    typer.echo(f"imported {len(result.imported)} file(s), {len(result.already_imported)} already present, "
               f"{len(result.skipped)} skipped")
    return snap_dir


@demo_app.callback(invoke_without_command=True)
def demo_main(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Option(help="Where the demo data and snapshot live.")] = DEFAULT_DATA,
    seed: Annotated[int, typer.Option(help="Random seed of the demo.")] = 7,
    days: Annotated[int, typer.Option(help="Days of history.")] = 14,
    scale: Annotated[float, typer.Option(help="Traffic multiplier.")] = 1.0,
    review: Annotated[bool, typer.Option(help="Write the HTML post-incident review at the end.")] = True,
    out: Annotated[Path, typer.Option(help="Folder for the review.")] = Path("reports"),
) -> None:
    """Generate the demo incident if missing, import it, print the SLO and root-cause reports, write the review."""
    if ctx.invoked_subcommand is not None:
        return
    from slo_analysis.analysis.root_cause import analyze
    from slo_analysis.analysis.root_cause_text import format_analyses
    from slo_analysis.analysis.slo_evaluation import evaluate_slos
    from slo_analysis.store import Snapshot, format_summary, snapshot_summary

    t0 = time.perf_counter()
    try:
        snap_dir = _ensure_demo_snapshot(data_dir, seed, days, scale)
        snap = Snapshot.open(snap_dir)
        typer.echo(format_summary(snapshot_summary(snap)))
        typer.echo("")
        evaluations = evaluate_slos(snap)
        typer.echo(_slo_report(evaluations))
        typer.echo("")
        typer.echo("Root-cause analysis (incidents across SLOs):")
        typer.echo(format_analyses(analyze(snap, evaluations=evaluations)))
        typer.echo("")
        typer.echo(_ground_truth(json.loads((data_dir / DEMO_FOLDER / "scenario.json").read_text())))
        if review:
            from slo_analysis.reports import run_review

            typer.echo("")
            typer.echo("writing the post-incident review (papermill + nbconvert) ...")
            written = run_review(snap_dir, out, name="demo-review")
            typer.echo(f"review: {written.html.resolve()} ({written.seconds:.0f} s)")
            typer.echo(f"summary: {written.markdown.resolve()}")
    except SloAnalysisError as exc:
        _fail(exc)
    typer.echo(f"done in {time.perf_counter() - t0:.1f} s")


def _ts(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%m-%d %H:%M")


def _slo_report(evaluations: list[SloEvaluation]) -> str:
    """The SLO status table and each SLO's breach, incident and at-risk windows, as text."""
    from slo_analysis.analysis.slo_evaluation import status_table

    table = status_table(evaluations)
    start, end = evaluations[0].window if evaluations else (None, None)
    lines = [f"SLO status at the end of the snapshot ({_ts(end)} UTC; budgets over each SLO's interval):",
             f"  {'SLO':<30} {'source':<20} {'target':>7} {'interval':<16} {'attainment':>10} "
             f"{'budget left':>11} {'status':<17} {'worst seen':<17}"]
    for r in table.iter_rows(named=True):
        att = "-" if r["attainment"] is None else f"{r['attainment']:.3%}"
        left = "-" if r["budget_remaining"] is None else f"{r['budget_remaining']:.1%}"
        status = r["status"] + ("*" if r["interval_covered"] < 1 else "")
        lines.append(f"  {r['slo']:<30} {r['source']:<20} {r['target']:>7.2%} {r['interval']:<16} {att:>10} "
                     f"{left:>11} {status:<17} {r['worst_status'] or '-':<17}")
    covered = min(table["interval_covered"], default=1.0)
    if covered < 1:
        lines.append(f"  * judged on part of the interval: the data covers {covered:.0%} of it at the end"
                     " (worst seen counts only steps with a full interval behind them)")
    lines.append("Windows (UTC, half-open):")
    for ev in evaluations:
        parts = []
        for label, df in (("breached", ev.breaches), ("incident", ev.incidents), ("at risk", ev.at_risk)):
            parts += [f"{label} {_ts(w['start'])}-{_ts(w['end'])}" for w in df.iter_rows(named=True)]
        lines.append(f"  {ev.slo.name:<30} {'; '.join(parts) if parts else 'clean'}")
    return "\n".join(lines)


def _ground_truth(scenario: dict[str, Any]) -> str:
    """What really happened in the demo (scenario.json), to read beside the analysis above."""
    inc, surge = scenario["incident"], scenario["surge"]
    culprit, decoy = scenario["culprit_deployment"], scenario["decoy_deployment"]
    return "\n".join([
        "Ground truth (scenario.json; the analysis never reads it):",
        f"  incident  onset {inc['onset']}  detection {inc['detection']}  recovery {inc['recovery']}",
        f"  culprit   {culprit['id']} {culprit['service']} {culprit['version_from']} -> {culprit['version_to']} "
        f"by {culprit['actor']}, started {culprit['started']}",
        f"  rollback  {inc['rollback_started']} -> {inc['rollback_finished']}",
        f"  decoy     {decoy['id']} {decoy['service']} at {decoy['started']} (benign)",
        f"  surge     {surge.get('start')} -> {surge.get('end')} (no deployment)",
        f"  breached  {', '.join(scenario['breached_slos'])}",
    ])


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


@app.command("snapshot")
def snapshot_cmd(
    out: Annotated[Path, typer.Option("--out", help="Snapshot folder to create or resume.")],
    start: Annotated[str, typer.Option(help="Window start, ISO 8601 (UTC when no offset).")],
    end: Annotated[str, typer.Option(help="Window end (exclusive), ISO 8601.")],
    service: Annotated[list[str], typer.Option("--service", help="A service to fetch (repeat).")],
    slo: Annotated[list[str] | None, typer.Option("--slo", help="An Application Signals SLO name or ARN.")] = None,
    log_group: Annotated[list[str] | None, typer.Option("--log-group", help="A log group to pull.")] = None,
    ecs_service: Annotated[list[str] | None, typer.Option(
        "--ecs-service", help="CLUSTER/SERVICE whose ECS deployments and events to fetch.")] = None,
    function: Annotated[list[str] | None, typer.Option(
        "--function", help="A Lambda function (name or ARN) whose versions and aliases to fetch (repeat).")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Only these: metrics, slos, logs, traces, deployments, cloudtrail, alarms.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile (the standard credential chain applies).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="Send every call to this endpoint (e.g. moto).")] = None,
    period: Annotated[int, typer.Option(help="Metric period in seconds (coarser when retention demands).")] = 60,
    latency_stat: Annotated[list[str] | None, typer.Option(
        "--latency-stat", help="Latency statistics (default p50, p90, p99, Average, SampleCount).")] = None,
    max_traces: Annotated[int, typer.Option(help="Cap on traces (faulted, errored, slowest always kept).")] = 500,
    trace_filter: Annotated[str | None, typer.Option(
        help='X-Ray filter expression (default: service("S") for each --service; "" for none).')] = None,
    budget_step: Annotated[str, typer.Option(
        help="Step of each --slo's budget history (BatchGetServiceLevelObjectiveBudgetReport): 1h, 15m, 1d; "
             "at least 1m.")] = "1h",
) -> None:
    """Fetch everything a review needs about some services from a live account into a snapshot.

    Read-only. Interrupt it and run it again: it resumes where it stopped, without duplicates.
    Exit code 0: every source fetched; 1: the snapshot was written but some source failed (each is
    named with the AWS operation that failed, e.g. one the endpoint does not support); 2: bad input;
    130: interrupted (run it again to resume)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from slo_analysis.sources._io import to_datetime
    from slo_analysis.sources.aws import AwsSettings
    from slo_analysis.store.live_snapshot import LATENCY_STATS, SOURCES, SnapshotRequest, parse_step, take_snapshot

    try:
        window = (to_datetime(start), to_datetime(end))
    except ValueError as exc:
        typer.secho(f"error: --start/--end: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    try:
        step_s = parse_step(budget_step)
    except SloAnalysisError as exc:
        typer.secho(f"error: --budget-step: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    clusters: dict[str, list[str]] = {}
    for item in ecs_service or []:
        cluster, _, name = item.partition("/")
        if not cluster or not name:
            typer.secho(f"error: --ecs-service must be CLUSTER/SERVICE, not {item!r}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2)
        clusters.setdefault(cluster, []).append(name)
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc
    settings = AwsSettings(session=session, region=region or session.region_name, endpoint_url=endpoint_url)
    request = SnapshotRequest(window=window, services=tuple(service), slos=tuple(slo or ()),
                              log_groups=tuple(log_group or ()), ecs_services=clusters,
                              sources=tuple(source or SOURCES), period_s=period, max_traces=max_traces,
                              latency_stats=tuple(latency_stat or LATENCY_STATS), trace_filter=trace_filter,
                              functions=tuple(function or ()), budget_step_s=step_s)

    def progress(stream: Iterator[Any], name: str) -> Iterator[Any]:
        return iter(tqdm(stream, desc=name, unit="call", leave=False))

    try:
        outcome = take_snapshot(out, settings, request, progress=progress)
    except SloAnalysisError as exc:
        _fail(exc)
        return
    added = ", ".join(f"{k} +{v:,}" for k, v in sorted(outcome.result.rows_added.items())) or "nothing new"
    typer.echo(f"{len(outcome.result.units_fetched)} unit(s) fetched, {outcome.result.units_skipped} already "
               f"done; rows added: {added}")
    for name, error in outcome.failures.items():
        typer.secho(f"failed    {name}: {error}", fg=typer.colors.YELLOW)
    typer.echo(f"snapshot: {out}")
    if outcome.failures:
        raise typer.Exit(code=1)


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


@app.command("slos")
def slos_cmd(snapshot: Annotated[Path, typer.Argument(help="Snapshot folder.")]) -> None:
    """Evaluate every SLO of a snapshot: status table and breach, incident and at-risk windows."""
    from slo_analysis.analysis.slo_evaluation import evaluate_slos
    from slo_analysis.store import Snapshot

    try:
        typer.echo(_slo_report(evaluate_slos(Snapshot.open(snapshot))))
    except SloAnalysisError as exc:
        _fail(exc)


@app.command("analyze")
def analyze_cmd(
    snapshot: Annotated[Path, typer.Argument(help="Snapshot folder.")],
    slo: Annotated[list[str] | None, typer.Option("--slo", help="Only this SLO (repeatable).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table (for people) or json (stable keys, for scripts).")]
    = "table",
) -> None:
    """Incident windows with their ranked suspects and evidence (docs/root-cause.md)."""
    from slo_analysis.analysis.root_cause import analyze, to_json
    from slo_analysis.analysis.root_cause_text import format_analyses
    from slo_analysis.store import Snapshot

    if fmt not in ("table", "json"):
        typer.secho(f"error: --format must be table or json, not {fmt!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    try:
        snap = Snapshot.open(snapshot)
        analyses = analyze(snap, slos=slo or None)
    except SloAnalysisError as exc:
        _fail(exc)
    if fmt == "json":
        typer.echo(json.dumps(to_json(analyses), indent=2))
    else:
        typer.echo(format_analyses(analyses))


@app.command("review")
def review_cmd(
    snapshot: Annotated[Path, typer.Argument(help="Snapshot folder.")],
    slo: Annotated[list[str] | None, typer.Option("--slo", help="Only this SLO (repeatable).")] = None,
    window: Annotated[str | None, typer.Option(help="Review one window: START/END in ISO 8601.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the HTML review, its Markdown summary and notebook.")]
    = Path("reports"),
    timezone: Annotated[str, typer.Option(help="Display timezone of the review.")] = "UTC",
    show_code: Annotated[bool, typer.Option(help="Keep the code cells in the HTML.")] = False,
    redact: Annotated[bool, typer.Option(help="Redact e-mails, IPs and tokens in example log lines.")] = True,
) -> None:
    """Run the post-incident review template on a snapshot and export a self-contained HTML review."""
    from slo_analysis.reports import run_review

    bounds = None
    if window:
        try:
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in window.split("/"))
        except ValueError:
            typer.secho(f"error: --window must be START/END in ISO 8601, not {window!r}", fg=typer.colors.RED,
                        err=True)
            raise typer.Exit(code=2) from None
        bounds = (start, end)
    try:
        written = run_review(snapshot, out, slos=slo or None, window=bounds, timezone=timezone, redact=redact,
                             show_code=show_code)
    except SloAnalysisError as exc:
        _fail(exc)
    typer.echo(f"review: {written.html.resolve()} ({written.seconds:.0f} s)")
    typer.echo(f"summary: {written.markdown.resolve()}")


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
    data_dir: Annotated[Path, typer.Option(help="Where the demo snapshot lives.")] = DEFAULT_DATA,
) -> None:
    """Open JupyterLab on the notebook templates, with the demo snapshot ready (built first when missing)."""
    if not (data_dir / DEMO_SNAPSHOT / "manifest.json").exists():
        try:
            _ensure_demo_snapshot(data_dir, 7, 14, 1.0)
        except SloAnalysisError as exc:
            _fail(exc)
    raise typer.Exit(subprocess.call([sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebooks}"]))


if __name__ == "__main__":
    app()
