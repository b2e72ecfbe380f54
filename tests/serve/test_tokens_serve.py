"""`kemo-attention serve` and its credentials as a user runs it: the admin token from a file
(so it is not in the process list), HTTPS with --ssl-certfile/--ssl-keyfile, and a plain
warning when a non-loopback bind has no TLS (issue 18, items 1 and 7)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from serve_support import ServedByCli

ADMIN = "admin-token-read-from-a-file"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made by the `cryptography` package when it is
    installed, else by the openssl command (None when neither exists)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            return None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


def test_https_with_the_admin_token_from_a_file(bundle_path, tmp_path):
    pair = self_signed(tmp_path)
    if pair is None:  # the plumbing is still tested below (test_flags_reach_uvicorn...)
        pytest.skip("neither the cryptography package nor openssl is available to make a certificate")
    cert, key = pair
    token_file = tmp_path / "admin-token"
    token_file.write_text(ADMIN + "\n")
    trust = ssl.create_default_context(cafile=str(cert))
    with ServedByCli(bundle_path, "--store", str(tmp_path / "s.sqlite"), "--token-file", str(token_file),
                     "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), scheme="https", verify=trust) as live:
        assert live.url.startswith("https://")
        assert httpx.get(live.url + "/model", verify=trust, timeout=10).status_code == 401
        r = httpx.get(live.url + "/model", headers={"Authorization": f"Bearer {ADMIN}"}, verify=trust, timeout=10)
        assert r.status_code == 200, r.text
        with pytest.raises(httpx.TransportError):  # the port speaks TLS only
            httpx.get(f"http://127.0.0.1:{live.port}/health", timeout=5)
        # the token is in no process's command line (what `ps` shows)
        cmdline = Path(f"/proc/{live.proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert str(token_file) in cmdline and ADMIN not in cmdline
    assert "https://127.0.0.1" in live.stderr


@pytest.fixture()
def fake_uvicorn(monkeypatch):
    """uvicorn.run replaced by a recorder: what `serve` would start, without binding a port."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("KEMO_API_TOKEN", raising=False)
    return calls


def _serve(tmp_path, bundle_path, *args: str) -> int:
    from kemo_attention.cli import run

    return run(["serve", str(bundle_path), "--store", str(tmp_path / "s.sqlite"), *args])


def test_flags_reach_uvicorn_and_a_public_bind_without_tls_is_warned_about(bundle_path, tmp_path, fake_uvicorn, capsys):
    (tmp_path / "tok").write_text(ADMIN)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not read here")
    key.write_text("not read here")
    assert _serve(tmp_path, bundle_path, "--host", "0.0.0.0", "--token-file", str(tmp_path / "tok")) == 0
    warned = capsys.readouterr().err
    assert "clear text" in warned and "--ssl-certfile" in warned
    assert "ssl_certfile" not in fake_uvicorn[-1]
    assert _serve(tmp_path, bundle_path, "--host", "0.0.0.0", "--token-file", str(tmp_path / "tok"),
                  "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)) == 0
    quiet = capsys.readouterr().err
    assert "clear text" not in quiet and "https://0.0.0.0" in quiet
    assert fake_uvicorn[-1]["ssl_certfile"] == str(cert.resolve()) and fake_uvicorn[-1]["ssl_keyfile"] == str(key.resolve())
    assert _serve(tmp_path, bundle_path, "--token-file", str(tmp_path / "tok")) == 0  # loopback: no warning
    assert "clear text" not in capsys.readouterr().err


@pytest.mark.parametrize(("args", "needle"), [
    (["--token", "a", "--token-file", "TOK"], "one way"),
    (["--token-file", "EMPTY"], "first line is empty"),
    (["--token-file", "MISSING"], "cannot read"),
    (["--ssl-certfile", "TOK"], "needs --ssl-keyfile"),
    (["--ssl-keyfile", "TOK"], "needs --ssl-certfile"),
    (["--ssl-certfile", "MISSING", "--ssl-keyfile", "TOK"], "no such file"),
])
def test_credential_and_tls_mistakes_are_one_line(bundle_path, tmp_path, fake_uvicorn, capsys, args, needle):
    (tmp_path / "TOK").write_text(ADMIN)
    (tmp_path / "EMPTY").write_text("\n")
    args = [str(tmp_path / a) if a in ("TOK", "EMPTY", "MISSING") else a for a in args]
    assert _serve(tmp_path, bundle_path, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not fake_uvicorn


def test_the_curl_examples_of_the_access_section_run_as_documented(bundle_path, tmp_path):
    """docs/api.md, Access: each curl line against a real loopback server; a `# ...` line
    after it is the start of the answer it must print."""
    import re

    from serve_support import LiveServer

    from kemo_attention.serve.app import create_app

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Access", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
    (tmp_path / "admin-token").write_text(ADMIN + "\n")
    with LiveServer(create_app(bundle_path, store_path=tmp_path / "s.sqlite", token=ADMIN)) as live:
        for i, line in enumerate(block):
            if not line.startswith("curl"):
                continue
            command = line.replace("http://127.0.0.1:8000", live.url)
            out = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=30).stdout
            following = block[i + 1] if i + 1 < len(block) else ""
            if following.startswith("# "):
                assert out.startswith(following[2:].split("...")[0].rstrip()), (line, out)
            else:
                assert out.startswith('{"model":'), (line, out)  # the admin token opens /model
