"""`kemo-attention dashboard`: clear errors before anything starts (the real start is in test_browser)."""

import socket
import sys

import pytest

from kemo_attention import cli


def run_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["kemo-attention", "dashboard", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("flag", "target", "message"),
    [
        ("--eval", "nowhere", "--eval {p}: no such folder; expected an evaluation folder"),
        ("--bundle", "nowhere.pkl", "--bundle {p}: no such file; expected a bundle file"),
        ("--release", "nowhere", "--release {p}: no such folder; expected a release folder"),
        ("--check", "nowhere.json", "--check {p}: no such file; expected a check report JSON file"),
    ],
)
def test_a_missing_path_is_one_clear_error(monkeypatch, capsys, tmp_path, flag, target, message):
    path = tmp_path / target
    code, _, err = run_cli(monkeypatch, capsys, flag, str(path))
    assert code == 2
    assert message.format(p=path) in err
    assert "Traceback" not in err


def test_a_folder_that_is_not_an_eval_folder(monkeypatch, capsys, tmp_path):
    code, _, err = run_cli(monkeypatch, capsys, "--eval", str(tmp_path))
    assert code == 2
    assert "no leaderboard.csv there" in err


def test_a_file_where_a_folder_is_expected_and_back(monkeypatch, capsys, tmp_path):
    file = tmp_path / "x.json"
    file.write_text("{}")
    code, _, err = run_cli(monkeypatch, capsys, "--release", str(file))
    assert code == 2 and "is a file; expected a release folder" in err
    code, _, err = run_cli(monkeypatch, capsys, "--bundle", str(tmp_path))
    assert code == 2 and "is a folder; expected a bundle file" in err


def test_a_port_in_use_is_refused_before_streamlit_starts(monkeypatch, capsys, eval_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_cli(monkeypatch, capsys, "--eval", str(eval_dir), "--port", str(port))
    assert code == 2
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err


def test_streamlit_gets_the_paths_and_the_safe_flags(monkeypatch, capsys, eval_dir, check_file):
    """The command line and environment handed to Streamlit (the process itself is faked here)."""
    seen = {}

    class FakePopen:
        def __init__(self, command, env):
            seen["command"], seen["env"] = command, env

        def wait(self):
            return 3

        def poll(self):
            return 3

    import subprocess

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    code, out, _ = run_cli(monkeypatch, capsys, "--eval", str(eval_dir), "--check", str(check_file), "--port", "8599")
    assert code == 3  # Streamlit's exit code is passed on
    command = seen["command"]
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("dashboard/app.py")
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8599"
    assert seen["env"]["KEMO_DASHBOARD_EVAL"] == str(eval_dir.resolve())
    assert seen["env"]["KEMO_DASHBOARD_CHECK"] == str(check_file.resolve())
    assert seen["env"]["KEMO_DASHBOARD_BUNDLE"] == ""
    assert "Dashboard: http://127.0.0.1:8599" in out


# ----------------------------------------------------------------------------- --sha256
def test_sha256_of_another_file_is_refused_before_streamlit_starts(monkeypatch, capsys, bundle_path):
    import hashlib

    right = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    wrong = hashlib.sha256(b"some other bundle").hexdigest()
    code, out, err = run_cli(monkeypatch, capsys, "--bundle", str(bundle_path), "--sha256", wrong, "--port", "1")
    assert code == 2 and "Dashboard:" not in out  # refused before the port check and before Streamlit
    assert f"--bundle {bundle_path}: SHA-256 {right[:16]}... is not the expected {wrong[:16]}..." in err
    monkeypatch.setenv("KEMO_BUNDLE_SHA256", wrong)
    code, _, err = run_cli(monkeypatch, capsys, "--bundle", str(bundle_path), "--port", "1")
    assert code == 2 and "is not the expected" in err
    monkeypatch.delenv("KEMO_BUNDLE_SHA256")
    code, _, err = run_cli(monkeypatch, capsys, "--bundle", str(bundle_path), "--sha256", "1234")
    assert code == 2 and "64 hexadecimal characters" in err
    code, _, err = run_cli(monkeypatch, capsys, "--sha256", right)
    assert code == 2 and "give --bundle too" in err
    assert "Traceback" not in err


def test_sha256_reaches_the_app_through_its_config(bundle_path):
    from kemo_attention.dashboard.config import ENV_BUNDLE_SHA256, DashboardConfig

    cfg = DashboardConfig(bundle=bundle_path, bundle_sha256="ab" * 32)
    env = cfg.to_env()
    assert env[ENV_BUNDLE_SHA256] == "ab" * 32
    assert DashboardConfig.from_env(env) == DashboardConfig(bundle=bundle_path.resolve(), bundle_sha256="ab" * 32)
