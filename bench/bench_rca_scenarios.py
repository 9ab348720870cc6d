"""Root-cause accuracy on simulated incident scenarios (issue: root-cause analysis).

Simulates the scenario suite (`slo_analysis.demo.scenarios`: deployment-caused incidents of every fault kind
on four services with decoys, traffic surges and dependency outages with decoys near the onset), runs
`slo_analysis.analysis.root_cause.analyze` on each one's frames (the analysis never sees the ground truth),
and reports:

- top-1 and top-3 culprit accuracy over the deployment-caused scenarios;
- how often "no deployment explains this" is said, and said correctly, for the others, and whether the
  leading alternative named matches the cause (load for surges, a dependency for outages);
- the incident's onset error against the truth.

Targets (the issue): top-1 >= 90 %, no-deployment cases >= 80 % correct. Nothing here is asserted.

    .venv/bin/python bench/bench_rca_scenarios.py [--n 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slo_analysis.analysis.root_cause import analyze  # noqa: E402
from slo_analysis.demo.scenarios import scenario_suite, simulate_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows = []
    t_all = time.perf_counter()
    for sc in scenario_suite(args.n, args.seed):
        data = simulate_scenario(sc)
        truth = data.truth
        window = (sc.window_start, sc.window_end)
        t0 = time.perf_counter()
        analyses = analyze(data.frames, window=window)
        seconds = time.perf_counter() - t0
        onset = sc.onset
        hits = [a for a in analyses if a.incident.start <= sc.end and a.incident.end > onset]
        a = min(hits, key=lambda x: abs((x.incident.start - onset).total_seconds())) if hits else None
        ids = a.suspects["deployment_id"].to_list() if a is not None else []
        explained = bool(a and a.verdict.explained)
        culprit = truth["culprit_deployment_id"]
        if truth["cause"] == "deployment":
            top1 = explained and a is not None and a.verdict.deployment_id == culprit
            top3 = culprit in ids[:3]
            correct = top1
        else:
            top1 = top3 = False
            correct = a is not None and not explained
        alt = a.verdict.alternative if a is not None else None
        alt_ok = (truth["cause"] == "surge" and alt == "load") or (
            truth["cause"] == "dependency" and (alt or "").startswith("dependency"))
        onset_err = (a.incident.start - onset).total_seconds() / 60 if a is not None else float("nan")
        rows.append((sc.name, truth["cause"], sc.fault or "-", sc.culprit_service or "-", len(sc.decoys),
                     a is not None, explained, top1, top3, correct, alt, alt_ok, onset_err, seconds,
                     (a.verdict.statement if a is not None else "no incident found")[:150]))
        print(f"{sc.name:<34} {truth['cause']:<10} {sc.fault or '-':<10} {sc.culprit_service or '-':<16} "
              f"decoys={len(sc.decoys)} found={a is not None!s:<5} explained={explained!s:<5} "
              f"top1={top1!s:<5} top3={top3!s:<5} correct={correct!s:<5} alt={alt} onset_err={onset_err:+.0f} min "
              f"({data.seconds:.1f} s sim, {seconds:.1f} s analysis)", flush=True)
        if not correct:
            print(f"    {rows[-1][-1]}", flush=True)
    dep = [r for r in rows if r[1] == "deployment"]
    other = [r for r in rows if r[1] != "deployment"]
    print()
    print(f"scenarios: {len(rows)} ({len(dep)} deployment-caused, {len(other)} without a deployment cause)")
    print(f"incident found: {sum(r[5] for r in rows)}/{len(rows)}")
    if dep:
        print(f"top-1 culprit accuracy: {sum(r[7] for r in dep)}/{len(dep)} = {sum(r[7] for r in dep) / len(dep):.0%} "
              f"(target >= 90 %)")
        print(f"top-3 culprit accuracy: {sum(r[8] for r in dep)}/{len(dep)} = {sum(r[8] for r in dep) / len(dep):.0%}")
    if other:
        print(f"'no deployment explains this' said correctly: {sum(r[9] for r in other)}/{len(other)} = "
              f"{sum(r[9] for r in other) / len(other):.0%} (target >= 80 %)")
        print(f"leading alternative right (load / dependency): {sum(r[11] for r in other)}/{len(other)}")
    wrongly_absolving = sum(1 for r in dep if not r[6])
    print(f"deployment-caused incidents called unexplained: {wrongly_absolving}/{len(dep)}")
    errs = sorted(abs(r[12]) for r in rows if r[5])
    if errs:
        print(f"onset error: median {errs[len(errs) // 2]:.0f} min, max {errs[-1]:.0f} min")
    print(f"wall time {time.perf_counter() - t_all:.0f} s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
