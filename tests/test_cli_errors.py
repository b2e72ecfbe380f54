"""How the command line ends on a user's mistake, on Ctrl-C and with --debug.

Every case runs the installed console script (``kemo-attention`` beside the interpreter) in a
real subprocess, so what is checked is what a user sees: the exit code and the output.
Expected: a usage mistake is one ``error:`` line plus the verb's usage and exit 2; an error of
the tool's own is one line; Ctrl-C is "interrupted; rerun to resume" and exit 130 (128 + SIGINT,
as shells report it); ``--debug`` anywhere on the line shows the traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from signal_support import sigint_not_ignored

CLI = str(Path(sys.executable).with_name("kemo-attention"))


def run(*args, cwd: Path | None = None, timeout: float = 120, columns: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KEMO_ATTENTION_DEBUG"}
    if columns:
        env["COLUMNS"] = str(columns)  # help tables are as wide as the terminal
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def assert_usage_error(res: subprocess.CompletedProcess, verb: str, *expected: str) -> None:
    """Exit 2; stderr = one error line, the verb's usage, the hint; no traceback."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert lines[0].startswith("error: ") and len(lines) == 3, res.stderr
    assert lines[1].startswith(f"Usage: kemo-attention {verb}".rstrip()), res.stderr
    assert lines[2] == f"Try 'kemo-attention {verb} --help' for help.".replace("  ", " "), res.stderr
    for text in expected:
        assert text in lines[0], res.stderr


def test_no_arguments_shows_the_help_and_names_the_verbs():
    res = run()
    assert_usage_error(res, "", "no verb given", "extract", "evaluate")
    assert "Usage: kemo-attention" in res.stdout and "check" in res.stdout  # the full help as well


def test_unknown_verb_and_unknown_option():
    assert_usage_error(run("frobnicate"), "", "No such command 'frobnicate'")
    assert_usage_error(run("check", "somewhere", "--frob"), "check", "No such option: --frob")


def test_missing_argument():
    assert_usage_error(run("check"), "check", "Missing argument 'RELEASE'")
    assert_usage_error(run("evaluate"), "evaluate", "Missing argument 'DATA'")


def test_values_of_the_wrong_type_or_out_of_range(tmp_path):
    assert_usage_error(run("serve", "bundle.pkl", "--port", "abc"), "serve", "'--port'", "integer")
    assert_usage_error(run("dashboard", "--port", "70000"), "dashboard", "'--port'")
    out = tmp_path / "release"
    assert_usage_error(run("synth", "--out", out, "--participants", "0"), "synth", "'--participants'", "greater than or equal to 1")
    assert not out.exists()
    assert_usage_error(run("extract", tmp_path, "--workers", "0"), "extract", "'--workers'")


def test_a_refused_choice_names_the_choices_and_writes_nothing(tmp_path):
    work = tmp_path / "work"
    res = run("demo", "--work", work, "--backend", "foo")
    assert_usage_error(res, "demo", "'--backend'", "'foo' is not one of 'serial', 'processes', 'ray'")
    assert not work.exists()  # the demo used to leave an empty work folder here
    res = run("evaluate", tmp_path / "x.pkl", "--models", "lgbm,svm")
    assert_usage_error(res, "evaluate", "'--models'", "'svm'", "logreg, rf, lgbm, voting, evxgb, dummy")
    res = run("export", tmp_path / "x.pkl", "--model", "svm")
    assert_usage_error(res, "export", "'--model'", "'svm' is not one of")


def test_the_tools_own_errors_are_one_line(tmp_path):
    res = run("check", tmp_path / "nowhere")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'}: release folder not found"]
    bad = tmp_path / "attention.pkl"
    bad.write_bytes(b"not a pickle at all")
    res = run("evaluate", bad, "--models", "dummy", "--out", tmp_path / "eval")  # DatasetFormatError
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and "not a readable pickle" in res.stderr
    res = run("check", tmp_path, "--backend", "serial", "--ray-address", "127.0.0.1:1")  # the executor's own check
    assert res.returncode == 2 and "use --backend ray" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["after the verb", "before the verb", "at the end"])
def test_debug_works_in_any_position(tmp_path, where):
    missing = tmp_path / "nowhere"
    args = {
        "after the verb": ["check", "--debug", missing],
        "before the verb": ["--debug", "check", missing],
        "at the end": ["check", missing, "--json", "--debug"],
    }[where]
    res = run(*args)
    assert res.returncode != 0
    assert "Traceback (most recent call last)" in res.stderr
    assert "kemo_attention.errors.DataError" in res.stderr and "release folder not found" in res.stderr


def test_debug_is_listed_in_the_help():
    res = run("--help")
    assert res.returncode == 0 and "--debug" in res.stdout


# ------------------------------------------------------------------ Ctrl-C
CTRL_C_PARTICIPANTS = 8

@pytest.fixture(scope="module")
def demo_release(tmp_path_factory) -> Path:
    """A small demo release (8 participants, 1 day), written by the CLI itself. Eight, not
    fewer: a participant takes well under a second here, and the pool hands a worker its next
    participant early, so with few of them a loaded machine could finish all before the signal."""
    root = tmp_path_factory.mktemp("ctrl_c") / "release"
    res = run("synth", "--out", root, "--participants", str(CTRL_C_PARTICIPANTS), "--days", "1", "--quiet", "--workers", "1")
    assert res.returncode == 0, res.stderr
    return root


def _start_extract(release: Path, out: Path) -> subprocess.Popen:
    # Two workers: when the first participant is cached, most are still queued.
    args = [CLI, "extract", str(release), "--out", str(out), "--min-responses", "1", "--backend", "processes", "--workers", "2"]
    # A session of its own, like a job in a terminal: the signal can go to its whole process group.
    # SIGINT not inherited as ignored (pytest run as a background job, e.g. under nohup, ignores it).
    with sigint_not_ignored():
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_first_participant(proc: subprocess.Popen, out: Path, limit: float = 300) -> None:
    started = time.monotonic()
    while not list((out / ".cache").glob("P*.npz")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - started < limit, "no participant finished in time"
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["process group", "main process only"])
def test_ctrl_c_during_extract_exits_130_and_a_rerun_resumes(demo_release, tmp_path, target):
    out = tmp_path / "features"
    proc = _start_extract(demo_release, out)
    try:
        _wait_for_first_participant(proc, out)
        sent = time.monotonic()
        if target == "process group":  # what Ctrl-C in a terminal does
            os.killpg(proc.pid, signal.SIGINT)
        else:  # only the driver: it must stop its worker processes itself
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun to resume"
    assert "Traceback" not in stderr
    assert not (out / "attention.manifest.json").exists() and not (out / "attention.pkl").exists()
    # It stopped at once: the queued participants were not run (each takes seconds here).
    finished = sorted(p.name.split("-")[0] for p in (out / ".cache").glob("P*.npz"))
    assert len(finished) < CTRL_C_PARTICIPANTS, (finished, took)

    if target == "process group":
        res = run("extract", demo_release, "--out", out, "--min-responses", "1", "--workers", "2", timeout=600)
        assert res.returncode == 0, res.stderr
        manifest = json.loads((out / "attention.manifest.json").read_text())
        assert manifest["counts"]["participants"] == CTRL_C_PARTICIPANTS
        assert manifest["cache"]["hits"] == len(finished) >= 1  # resumed: finished participants not redone


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_ctrl_c_while_workers_start_is_one_line(demo_release, tmp_path):
    """Ctrl-C in the second the worker processes are still importing: without SIGINT held back
    while they start, each prints a KeyboardInterrupt traceback from multiprocessing."""
    proc = _start_extract(demo_release, tmp_path / "features")
    try:
        started = time.monotonic()
        # spawn workers (command line "-c from multiprocessing.spawn ..."): two, beside the tracker
        while sum("multiprocessing.spawn" in _cmdline(p) for p in _children(proc.pid)) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 120, "the workers did not start"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted; rerun to resume"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# ------------------------------------------------------- one error family
def test_the_projects_errors_are_kemo_errors():
    from kemo_attention.compute import ExecutorSettingsError, TaskError
    from kemo_attention.dataset import DatasetFormatError
    from kemo_attention.errors import DataError, KemoError

    for cls in (DatasetFormatError, TaskError, ExecutorSettingsError):
        assert issubclass(cls, KemoError), cls
    assert issubclass(DatasetFormatError, DataError) and issubclass(DatasetFormatError, ValueError)
    assert issubclass(ExecutorSettingsError, ValueError)  # callers catching ValueError keep working

    # A task that failed on bad input exits like that input error (2); anything else is 1.
    try:
        raise TaskError("task P01 failed") from DataError("bad row", file="HR.csv", row=3)
    except TaskError as err:
        assert err.exit_code == 2
    try:
        raise TaskError("task P01 failed") from ZeroDivisionError("division by zero")
    except TaskError as err:
        assert err.exit_code == 1


def test_option_choices_match_the_code_they_name():
    from kemo_attention.compute import BACKENDS
    from kemo_attention.models.zoo import MODEL_NAMES
    from kemo_attention.options import Backend, ModelName

    assert tuple(b.value for b in Backend) == BACKENDS
    assert tuple(m.value for m in ModelName) == MODEL_NAMES


# ------------------------------------------------------- one shape for the options
TASK_VERBS = ("demo", "synth", "check", "extract", "evaluate")


def _verb_options(verb: str) -> dict:
    import typer

    from kemo_attention.cli import app

    command = typer.main.get_command(app).commands[verb]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def _verb_signature(verb: str):
    import inspect
    import typing

    from kemo_attention.cli import app

    (info,) = [c for c in app.registered_commands if c.name == verb]
    hints = typing.get_type_hints(info.callback, include_extras=True)
    return inspect.signature(info.callback), hints


@pytest.mark.parametrize("verb", TASK_VERBS)
def test_task_verbs_share_backend_workers_and_ray_address(verb):
    from kemo_attention import options

    signature, hints = _verb_signature(verb)
    # Declared once (the same annotated type in every verb) with one default: local processes on
    # all cores. Before issue 10, check and synth ran on 1 worker and extract/evaluate serially.
    assert hints["backend"] == options.BackendOption and signature.parameters["backend"].default == "processes"
    assert hints["workers"] == options.WorkersOption and signature.parameters["workers"].default is None
    assert hints["ray_address"] == options.RayAddressOption and signature.parameters["ray_address"].default is None
    assert _verb_options(verb)["workers"].opts == ["--workers", "-j"]


@pytest.mark.parametrize("verb", ["demo", "synth", "check", "extract", "evaluate", "export", "serve", "dashboard"])
def test_every_switch_has_a_no_form(verb):
    switches = [p for p in _verb_options(verb).values() if p.is_flag and p.name != "help"]
    for option in switches:
        assert option.secondary_opts == [f"--no-{option.opts[0][2:]}"], (verb, option.opts, option.secondary_opts)


def test_help_lists_the_choices_and_shows_no_bool_type():
    res = run("extract", "--help", timeout=60, columns=200)
    assert res.returncode == 0
    assert "serial|processes|ray" in res.stdout and "[default: processes]" in res.stdout
    assert "<bool>" not in res.stdout and "--no-coverage" in res.stdout
    res = run("export", "--help", timeout=60, columns=200)
    assert "logreg|rf|lgbm|voting|evxgb|dummy" in res.stdout


def test_one_worker_runs_in_this_process_and_the_default_uses_processes():
    from kemo_attention.options import Backend, make_executor

    assert make_executor(Backend.processes, 1).backend == "serial"  # no process start-up for one worker
    assert make_executor(Backend.processes, None).backend == "processes"
    assert make_executor(Backend.serial, 4).backend == "serial"
    assert make_executor(Backend.processes, 2, quiet=True).progress is False


# --------------------------------------------- mistakes a new user made (fresh-clone trial)
def test_an_evaluate_seed_outside_numpys_range_is_a_usage_error(tmp_path):
    for seed in ("-1", str(2**32)):
        assert_usage_error(run("evaluate", tmp_path / "attention.pkl", "--seed", seed), "evaluate", "--seed")


def _one_line_error(res: subprocess.CompletedProcess, *expected: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for text in expected:
        assert text in lines[0], res.stderr


def test_serve_refuses_a_body_limit_that_is_not_a_finite_positive_number(tmp_path):
    bundle = tmp_path / "attention-lgbm.pkl"  # never read: the limit is checked first
    for value in ("nan", "inf", "0"):
        _one_line_error(run("serve", bundle, "--max-body-mb", value), "--max-body-mb", value)


def test_serve_refuses_a_host_it_cannot_listen_on_before_starting(tmp_path):
    _one_line_error(run("serve", tmp_path / "attention-lgbm.pkl", "--host", "0.0.0.0.0"), "--host", "0.0.0.0.0")

