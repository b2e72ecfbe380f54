"""Where one cross-validation fold's time goes: CPU seconds per stage, in this process.

    .venv/bin/python bench/profile_fold.py [--cv logo] [--folds 0,20] [--repeat 1]

On the release-shaped dataset of ``bench_evaluate.py`` it fits the given folds two ways,
one after the other in the same process (so both see the same machine load), single-threaded,
and prints CPU time (``time.process_time``) per stage:

* ``shared``: what an evaluation task does now (``runner.fit_fold``): the scale + select
  front once, then each model behind it, the voting model assembled from logreg, rf and lgbm;
* ``separate``: the front fitted again for every model and the voting model refitting its
  three members, which is what one task per (model, fold) cost (with two workers the front
  was fitted about twice per fold, once in each worker; the last line counts it so).

Writes nothing; print only. CPU time is steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_evaluate import release_shaped_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cv", default="logo", choices=["logo", "sgkf"])
    ap.add_argument("--folds", default="0")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from kemo_attention.evaluate import runner
    from kemo_attention.evaluate.splits import make_splits
    from kemo_attention.models.zoo import MODEL_NAMES

    warnings.simplefilter("ignore")
    ds = release_shaped_dataset()
    folds = make_splits(ds.y, ds.group, cv=args.cv, n_splits=5, seed=42)
    settings = {"bool_columns": ds.bool_columns, "numeric_columns": ds.numeric_columns,
                "oversample": False, "seed": 42, "fast": False}  # fmt: skip
    order = runner._model_groups(list(MODEL_NAMES), len(folds) * 10, workers=1)[0]

    def front(tr, te):
        started = time.process_time()
        scale, select, X_train, X_test, _ = runner.fit_front(tr, te, ds.X, ds.y, settings)
        return (scale, select, X_train, X_test), time.process_time() - started

    def model(name, fitted_front, tr, fitted):
        started = time.process_time()
        runner.fit_model(name, *fitted_front, ds.y[tr], ds.group[tr], settings, fitted)
        return time.process_time() - started

    with threadpool_limits(1):
        for _ in range(args.repeat):
            for k in (int(f) for f in args.folds.split(",")):
                tr, te = folds[k]
                shared, cost = front(tr, te)
                parts, fitted = {"front": cost}, {}
                for name in order:
                    parts[name] = model(name, shared, tr, fitted)
                total = sum(parts.values())
                print(f"fold {k} shared   " + "  ".join(f"{n} {s:.2f}" for n, s in parts.items()) + f"  total {total:.2f} s CPU")
                fronts, models = [], {}
                for name in order:
                    own, cost = front(tr, te)
                    fronts.append(cost)
                    models[name] = model(name, own, tr, {})  # {}: the voting model fits its own members
                mean_front = sum(fronts) / len(fronts)
                print(f"fold {k} separate front {mean_front:.2f} (x{len(fronts)})  "
                      + "  ".join(f"{n} {s:.2f}" for n, s in models.items())
                      + f"  total {sum(fronts) + sum(models.values()):.2f} s CPU;"
                      f" with the front twice per fold (per-(model, fold) tasks on 2 workers):"
                      f" {2 * mean_front + sum(models.values()):.2f} s CPU")  # fmt: skip
            print(flush=True)


if __name__ == "__main__":
    main()
