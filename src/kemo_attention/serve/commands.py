"""CLI verb ``serve``. Heavy imports stay inside the function."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.options import DEFAULT_HOST, BundleSha256Option, HostOption, PortOption, switch


def serve(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="The bundle's .pkl (or .skops) file; its .manifest.json must be beside it.")],
    host: HostOption = DEFAULT_HOST,
    port: PortOption = 8000,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", help="Largest request body accepted, in MB (413 beyond).")] = 20.0,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1,
            help="Server processes (not tasks: this is the one verb whose --workers defaults to 1; they share one "
                 "--store). One process predicts on one core at most (Python's GIL); use about one worker per "
                 "core for many concurrent clients (bench/bench_serve.py, 2 cores, wrk with 8 connections: 225 req/s with "
                 "1 worker, 461 with 2). "
                 "Each worker holds its own copy of the model in memory.",
        ),
    ] = 1,
    sha256: BundleSha256Option = None,
    store: Annotated[
        Path,
        typer.Option("--store", help="SQLite file of the live store behind /participants (created when absent; docs/live.md)."),
    ] = Path("kemo-live.sqlite"),
    token: Annotated[
        Optional[str],
        typer.Option("--token", envvar="KEMO_API_TOKEN", show_envvar=True,
                     help="The admin token: with it every route but /health and /docs needs a credential, and it opens "
                          "every route (participant tokens: `kemo-attention tokens`). Needed to listen on anything but "
                          "loopback. On the command line it shows in `ps`: prefer KEMO_API_TOKEN or --token-file."),
    ] = None,
    token_file: Annotated[
        Optional[Path],
        typer.Option("--token-file", help="Read the admin token from this file (its first line), so that it shows in no process list."),
    ] = None,
    ssl_certfile: Annotated[
        Optional[Path],
        typer.Option("--ssl-certfile", help="TLS certificate (PEM) for HTTPS; with --ssl-keyfile."),
    ] = None,
    ssl_keyfile: Annotated[
        Optional[Path],
        typer.Option("--ssl-keyfile", help="The certificate's private key (PEM); with --ssl-certfile."),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option("--access-log/--no-access-log",
                     help="Log a line per request (uvicorn's access log). Off saves ~0.1 ms a request: for high-rate ingest."),
    ] = True,
    personalize: Annotated[
        bool,
        switch("--personalize/--no-personalize",
               "Recalibrate each participant's live predictions with an offset fitted on their first "
               "--personal-labels answers (docs/live.md, Personalization)."),
    ] = False,
    personal_labels: Annotated[
        int,
        typer.Option("--personal-labels", min=1, metavar="K",
                     help="With --personalize: how many of a participant's first answers (by prompt time) fit their offset "
                          "(10: about a day of K-EmoPhone prompts)."),
    ] = 10,  # models.personalize.DEFAULT_PERSONAL_LABELS, not imported here (numpy, scipy); a test checks they agree
    keep_raw: Annotated[
        Optional[bool],
        switch("--keep-raw/--no-keep-raw",
               "Keep every raw row sent (retention off), for `kemo-attention store-export`; the store remembers it "
               "(--no-keep-raw switches it back: rows behind the live window are then deleted). Disk grows with the "
               "cohort's full record, about 11 MB per participant-day at the release's rates (docs/live.md)."),
    ] = None,
) -> None:
    """Serve a bundle over HTTP: POST /predict, POST /predict/raw, GET /model, GET /health; docs at /docs.

    The bundle is checked (SHA-256 against --sha256 and its manifest, library versions) before the server starts; a bundle that fails a check is refused with a message and a non-zero exit.

    SIGHUP re-reads the bundle file without a restart (POST /admin/reload too, with a token): checked the same way; a file that fails keeps the old bundle serving. GET /metrics: Prometheus metrics; GET /health/live, /health/ready: probes.
    """
    import uvicorn

    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.errors import KemoError
    from kemo_attention.live.tokens import admin_token
    from kemo_attention.serve.app import create_app

    if not math.isfinite(max_body_mb) or max_body_mb <= 0:
        raise KemoError(f"--max-body-mb must be a positive number of MB; got {max_body_mb}")
    _check_host(host)
    token = admin_token(token, token_file)  # --token-file: the token stays out of `ps`
    tls = tls_files(ssl_certfile, ssl_keyfile)
    if not token and not _is_loopback(host):
        raise KemoError(f"--host {host} exposes the participants' data to the network: set --token-file (or KEMO_API_TOKEN, "
                        "--token) so that only clients holding it can read and write, or listen on 127.0.0.1")
    if tls is None and not _is_loopback(host):
        typer.secho(f"warning: --host {host} without TLS: tokens and participants' data cross the network in clear text, "
                    "readable by anyone on the path; give --ssl-certfile and --ssl-keyfile, or put a TLS proxy in front",
                    err=True, fg="yellow")
    scheme = "http" if tls is None else "https"
    tls_args = {} if tls is None else {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
    from kemo_attention.live.store import open_store

    store = store.resolve()
    personal = personal_labels if personalize else None
    probe = open_store(store)  # a bad path or file is reported before the server starts
    participant_tokens = probe.has_tokens()
    if keep_raw is not None:  # a setting of the store: every server and worker on it follows it
        probe.set_keep_raw(keep_raw)
    keeps_raw = probe.keeps_raw()
    probe.close()
    loaded = load_bundle(bundle, expected_sha256=sha256)  # refuse a bad bundle before binding the port
    if workers == 1:
        app = create_app(bundle, max_body_mb=max_body_mb, bundle=loaded, store_path=store, token=token,
                         personal_labels=personal, sha256=sha256, reload_on_sighup=True)
        typer.echo(f"serving {loaded.path.name} ({loaded.bundle_version}) on {scheme}://{host}:{port} (docs: /docs)", err=True)
        _echo_store(store, token, participant_tokens, personal, keeps_raw)
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log, **tls_args)
        return
    import os

    from kemo_attention.bundle.runtime import ENV_SHA256
    from kemo_attention.serve.app import ENV_BUNDLE, ENV_MAX_BODY_MB, ENV_PERSONALIZE, ENV_SHA256_PINNED, ENV_STORE, ENV_TOKEN

    # uvicorn's worker processes import the app by name: the factory reads these.
    os.environ[ENV_BUNDLE] = str(loaded.path.resolve())
    os.environ[ENV_MAX_BODY_MB] = repr(float(max_body_mb))
    # each worker re-reads the file: it must still be the one the user vouched for
    os.environ[ENV_SHA256] = loaded.manifest["pkl_sha256"] if sha256 is None else sha256
    os.environ[ENV_SHA256_PINNED] = "0" if sha256 is None else "1"  # a reload keeps the user's pin only
    os.environ[ENV_STORE] = str(store)
    if token:
        os.environ[ENV_TOKEN] = token
    if personal is not None:
        os.environ[ENV_PERSONALIZE] = str(personal)
    typer.echo(f"serving {loaded.path.name} ({loaded.bundle_version}) with {workers} workers on {scheme}://{host}:{port} (docs: /docs)", err=True)
    _echo_store(store, token, participant_tokens, personal, keeps_raw)
    del loaded  # each worker loads (and re-checks) its own copy
    uvicorn.run("kemo_attention.serve.app:create_app_from_env", factory=True, workers=workers,
                host=host, port=port, log_level="info", access_log=access_log, **tls_args)


def tls_files(certfile: Path | None, keyfile: Path | None) -> tuple[Path, Path] | None:
    """(certificate, key) for HTTPS, both or neither, both readable files."""
    from kemo_attention.errors import KemoError

    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        given, missing = ("--ssl-certfile", "--ssl-keyfile") if keyfile is None else ("--ssl-keyfile", "--ssl-certfile")
        raise KemoError(f"{given} needs {missing} too: HTTPS takes the certificate and its private key")
    for flag, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if not path.is_file():
            raise KemoError(f"{flag} {path}: no such file")
    return certfile.resolve(), keyfile.resolve()


def _echo_store(store: Path, token: str | None, participant_tokens: bool, personal: int | None,
                keeps_raw: bool = False) -> None:
    if token:
        access = " (admin token set: every route but /health and /docs needs a credential)"
    elif participant_tokens:  # serve/auth.py: credentials are required once any exists
        access = (" (it holds participant tokens, so every route but /health and /docs needs a credential; "
                  "without --token-file / KEMO_API_TOKEN nobody may use the other routes)")
    else:
        access = ""
    notes = [access,
             f"; predictions personalized from each participant's first {personal} answers" if personal else "",
             "; keeps every raw row (--keep-raw; `kemo-attention store-export` writes them out)" if keeps_raw else ""]
    typer.echo(f"live store: {store}{''.join(notes)}", err=True)


def _check_host(host: str) -> None:
    """Refuse an address this machine cannot listen on before anything starts."""
    import socket

    from kemo_attention.errors import KemoError

    try:
        socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise KemoError(f"--host {host!r}: not an address or name this machine can resolve "
                        "(e.g. 127.0.0.1, ::1, localhost, 0.0.0.0)") from None


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
