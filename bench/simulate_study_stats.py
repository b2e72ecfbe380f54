"""Simulation: do the study's tests and intervals keep their promises? (issue 17, item 9)

Runs ``kemo_attention.study.simulation`` on many independent data sets:

* ``null``: labels carry no signal; the share of draws where each test rejects (two-sided
  p < 0.05) and where it calls the model better than the dummy: the corrected resampled
  t-test (5 x 5 stratified group folds), the naive t-test over the same 25 overlapping folds,
  and the Wilcoxon test over leave-one-participant-out participants; interval coverage of
  the true AUC, 0.5;
* ``effect``: a planted effect: power, and coverage of the true values estimated on a large
  fresh sample (``true_scores``);
* ``null-larger``: the null with 40 participants answering 40-70 prompts (closer to the
  release's size), to see whether the findings depend on size.

    .venv/bin/python bench/simulate_study_stats.py [--null-draws 1000] [--effect-draws 300] [--larger-draws 200]

Writes ``bench/results/study-simulation.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchtools import load_average, machine, write_json_atomic

from kemo_attention.study.simulation import Scenario, binomial_se, scenario_settings, simulate, summarize, true_scores

EFFECT = 1.2  # log-odds per unit of feature 0's within-person deviation


def _run(name: str, scenario: Scenario, draws: int, seed: int, truth: dict | None, truth_replicates: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    if truth is None:
        truth = true_scores(scenario, truth_replicates, seed=seed + 1)
    records = simulate(scenario, draws, seed=seed)
    summary = summarize(records, truth)
    summary.update(
        scenario=name,
        settings=scenario_settings(scenario),
        binomial_se_at_alpha=binomial_se(0.05, draws),
        seconds=round(time.perf_counter() - wall, 1),
        cpu_seconds=round(time.process_time() - cpu, 1),
        folds_with_undefined_auc=int((records["sgkf_folds_excluded"] > 0).sum()),
        mean_participants_excluded=float(records["logo_participants_excluded"].mean()),
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null-draws", type=int, default=1000)
    ap.add_argument("--effect-draws", type=int, default=300)
    ap.add_argument("--larger-draws", type=int, default=200)
    ap.add_argument("--truth-replicates", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "study-simulation.json"))
    args = ap.parse_args()
    exact_null = {"sgkf_auc": 0.5, "logo_auc": 0.5, "exact": "no signal: every score is independent of the label, so the expected AUC is 0.5"}
    results = [
        _run("null", Scenario(), args.null_draws, args.seed, exact_null, 0),
        _run("effect", Scenario(effect=EFFECT), args.effect_draws, args.seed + 100, None, args.truth_replicates),
    ]
    if args.larger_draws:
        larger = Scenario(n_participants=40, prompts_low=40, prompts_high=70)
        results.append(_run("null-larger", larger, args.larger_draws, args.seed + 200, exact_null, 0))
    payload = {"machine": machine(), "load_average": load_average(), "alpha": 0.05, "results": results}
    write_json_atomic(args.out, payload)
    for r in results:
        keys = [k for k in r if k.endswith(("_rate", "_coverage"))]
        print(r["scenario"], r["draws"], "draws,", r["seconds"], "s:", json.dumps({k: round(r[k], 3) for k in keys}))


if __name__ == "__main__":
    main()
