"""``kemo-attention demo``: the whole path on built-in demo data, stage by stage.

synth (a release-shaped folder) -> check (check.json) -> extract (features/) ->
evaluate (eval/attention/) -> export (models/) -> live (one participant replayed through a
live server on a temporary store: live/replay.csv). Each stage calls the same library function
as its own verb, so the demo exercises exactly what a user runs on the real release.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from kemo_attention.options import (
    DEFAULT_BACKEND,
    DEFAULT_DEMO_SEED,
    BackendOption,
    DaysOption,
    DemoSeedOption,
    ModelsOption,
    ParticipantsOption,
    RayAddressOption,
    ScaleOption,
    WorkersOption,
    make_executor,
    switch,
)

DEMO_BATCH_MS = 15 * 60_000  # data time per records batch in the demo's live replay


def demo_command(
    work: Annotated[Path, typer.Option("--work", help="Folder for everything the demo writes.")] = Path("demo-work"),
    participants: ParticipantsOption = None,
    days: DaysOption = None,
    scale: ScaleOption = None,
    seed: DemoSeedOption = DEFAULT_DEMO_SEED,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    models: ModelsOption = "all",
    fresh: Annotated[bool, switch("--fresh/--no-fresh", "Write the demo release again even if one exists.")] = False,
) -> None:
    """Run the whole path on built-in demo data: synth, check, extract, evaluate, export, live replay, study.

    Everything lands under --work: release/, check.json, features/ (attention.pkl,
    .parquet and .manifest.json), eval/attention/ (leaderboard, plots, predictions), models/ (the exported
    bundle), live/ (one participant replayed through a live server: replay.csv), study/ (a short
    study of attention and stress: report.html). Rerunning reuses the release and the feature cache.
    """
    from rich.console import Console

    from kemo_attention.bundle.export import export_bundle
    from kemo_attention.demo import synth
    from kemo_attention.evaluate.runner import run_evaluation
    from kemo_attention.evaluate.terminal import print_leaderboard
    from kemo_attention.features.extract import extract_release_labels
    from kemo_attention.models.zoo import MODEL_NAMES
    from kemo_attention.release.check import check_release

    console = Console(stderr=True)
    executor = make_executor(backend, workers, ray_address)  # refuses bad settings before anything is written
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    release = work / "release"
    timings: dict[str, float] = {}

    def stage(name: str, what: str) -> float:
        console.rule(f"[bold]{name}[/bold]: {what}")
        return time.perf_counter()

    # 1. demo release ---------------------------------------------------------------
    start = stage("1/7 synth", f"demo release in {release}")
    if fresh and release.exists():
        import shutil

        shutil.rmtree(release)
    if (release / "Sensor").is_dir():
        console.print(f"reusing the demo release in {release} (--fresh writes it again)")
    else:
        synth.write_demo_release(
            release,
            participants=participants or synth.DEMO_PARTICIPANTS,
            days=days or synth.DEMO_DAYS,
            scale=scale if scale is not None else synth.DEMO_SCALE,
            seed=seed,
        )
    timings["synth"] = time.perf_counter() - start

    # 2. check ----------------------------------------------------------------------
    start = stage("2/7 check", "what the release holds, and its dirt")
    report = check_release(release)
    from kemo_attention.files import atomic_write

    atomic_write(work / "check.json", lambda f: f.write(json.dumps(report.to_dict(), indent=1, default=str).encode()))
    console.print(
        f"usable: {report.usable}; participants: {len(report.participants)}; "
        f"problems recorded: {len(report.problems)} (see {work / 'check.json'})"
    )
    if not report.usable:
        raise typer.Exit(2)
    timings["check"] = time.perf_counter() - start

    # 3. extract --------------------------------------------------------------------
    start = stage("3/7 extract", "all 3,356 features, causal mode; attention and stress in one pass")
    from kemo_attention.config import LabelSettings

    extracted = extract_release_labels(
        release, work / "features", labels=[LabelSettings(name=name) for name in DEMO_STUDY_LABELS],
        executor=executor, cache_dir=work / "cache",
    )  # fmt: skip
    dataset = extracted["attention"]
    console.print(
        f"{len(dataset)} samples x {dataset.X.shape[1]} features from {len(set(dataset.group))} participants; "
        f"{int(dataset.y.sum())} focused"
    )
    timings["extract"] = time.perf_counter() - start

    # 4. evaluate -------------------------------------------------------------------
    start = stage("4/7 evaluate", "grouped 5-fold CV of every model")
    chosen = MODEL_NAMES if models == "all" else tuple(m.strip() for m in models.split(",") if m.strip())
    eval_dir = work / "eval" / "attention"
    leaderboard = run_evaluation(
        dataset, eval_dir, models=chosen, executor=executor, input_path=work / "features" / "attention.pkl"
    )
    print_leaderboard(console, leaderboard)
    timings["evaluate"] = time.perf_counter() - start

    # 5. export ---------------------------------------------------------------------
    start = stage("5/7 export", "the best model as a bundle")
    candidates = leaderboard[leaderboard["model"] != "dummy"]
    best = str((candidates if len(candidates) else leaderboard).iloc[0]["model"])
    bundle_path = export_bundle(
        dataset, best, work / "models", eval_dir=eval_dir, input_path=work / "features" / "attention.pkl"
    )
    timings["export"] = time.perf_counter() - start

    # 6. live -----------------------------------------------------------------------
    start = stage("6/7 live", "one participant replayed through a live server")
    live_csv = _live_replay(console, release, work, bundle_path, dataset)
    timings["live"] = time.perf_counter() - start

    # 7. study ----------------------------------------------------------------------
    start = stage("7/7 study", f"{' and '.join(DEMO_STUDY_LABELS)}, {DEMO_STUDY_REPEATS} repeats of grouped 5-fold, intervals and tests")
    study_dir = _short_study(console, work, chosen, executor)
    timings["study"] = time.perf_counter() - start

    console.rule("[bold]done[/bold]")
    total = sum(timings.values())
    console.print("  ".join(f"{k} {v:.0f}s" for k, v in timings.items()) + f"  (total {total:.0f}s)")
    typer.echo(
        "\nOutputs:\n"
        f"  release        {release}\n"
        f"  check report   {work / 'check.json'}\n"
        f"  features       {work / 'features' / 'attention.pkl'} (and .parquet, .manifest.json)\n"
        f"  evaluation     {eval_dir} (leaderboard.md, plots/, oof_predictions.parquet)\n"
        f"  bundle         {bundle_path}\n"
        f"  live replay    {live_csv}\n"
        f"  study          {study_dir / 'report.html'} (open it in a browser; summary.md, CSVs)\n"
        "\nNext:\n"
        f"  .venv/bin/kemo-attention dashboard --eval {eval_dir} --bundle {bundle_path} "
        f"--release {release} --check {work / 'check.json'} --study {study_dir}\n"
        f"  .venv/bin/kemo-attention serve {bundle_path} --store kemo-live.sqlite\n"
        f"  .venv/bin/kemo-attention replay {release} --url http://127.0.0.1:8000 --participants {_first_pcode(dataset)}"
    )


DEMO_STUDY_LABELS = ("attention", "stress")
DEMO_STUDY_REPEATS = 2


def _short_study(console, work: Path, models, executor) -> Path:
    """A short study of the demo's feature files (two labels, two repeats), printed headline first."""
    from kemo_attention.evaluate.runner import normalise_models
    from kemo_attention.study.inputs import load_inputs
    from kemo_attention.study.runner import StudySettings, run_study

    inputs = load_inputs([str(work / "features")], DEMO_STUDY_LABELS, explicit_labels=True,
                         features_dir=work / "features", tz_offset="+09:00")  # fmt: skip
    settings = StudySettings(models=normalise_models(models), repeats=DEMO_STUDY_REPEATS)
    out = work / "study"
    run_study(inputs, out, settings, executor=executor)
    from kemo_attention.study.commands import headline_lines

    for line in headline_lines(out):
        console.print(line, highlight=False)
    return out


def _first_pcode(dataset) -> str:
    from kemo_attention.release.layout import pcode_sort_key

    return sorted(set(dataset.group), key=pcode_sort_key)[0]


def _live_replay(console, release: Path, work: Path, bundle_path: Path, dataset) -> Path:
    """Serve the bundle with a temporary store, replay the first extracted participant into
    it as fast as it goes, and compare with the offline predictions. Batches of 15 min of
    data rather than the replay's 60 s: a request costs the server tens of milliseconds
    whatever its size, and the demo should finish in seconds, not minutes."""
    import tempfile

    from kemo_attention.live.local import LocalServer
    from kemo_attention.live.replay import run_replay

    pcode = _first_pcode(dataset)
    out = work / "live" / "replay.csv"
    with tempfile.TemporaryDirectory(prefix="kemo-live-") as tmp:
        store = Path(tmp) / "kemo-live.sqlite"
        with LocalServer(bundle_path, store, work / "live" / "serve.log") as server:
            console.print(f"live server on {server.url} (store {store}, log {work / 'live' / 'serve.log'}); replaying {pcode}")
            run_replay(release, url=server.url, participants=pcode, out=out, batch_ms=DEMO_BATCH_MS,
                       compare=work / "features" / "attention.pkl", bundle=bundle_path, console=console)
    return out

