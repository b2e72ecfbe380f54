"""CLI verb of the live room: ``kemo-attention replay``. Heavy imports stay inside."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

ENV_TOKEN = "KEMO_API_TOKEN"


def replay(
    release: Path = typer.Argument(..., help="Release folder to replay (Sensor/P*/ and SubjData/)."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The live server (`kemo-attention serve BUNDLE --store PATH`)."),
    participants: Optional[str] = typer.Option(None, "--participants", help="Comma list such as P01,P02 (default: every participant)."),
    batch_seconds: float = typer.Option(60.0, "--batch-seconds", help="Data time per records batch, in seconds."),
    speed: float = typer.Option(0.0, "--speed", help="0 = as fast as the server takes it; N = N times real time."),
    token: Optional[str] = typer.Option(None, "--token", help=f"The server's admin token (default: ${ENV_TOKEN}; on the command line it shows in `ps`)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="Read the admin token from this file (its first line)."),
    out: Path = typer.Option(Path("replay.csv"), "--out", help="One row per scheduled prompt: pcode, prompt time, probability, label, answer."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="Feature file of `kemo-attention extract` (attention.pkl) to compare with offline predictions."),
    bundle: Optional[Path] = typer.Option(None, "--bundle", help="The bundle the server serves (with --compare)."),
    retries: int = typer.Option(8, "--retries", min=0, help="Attempts again after a network error or 5xx (pauses 0.25 s doubling to 4 s)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Send a release to a live server as the participants' devices would, and ask for a prediction at every scheduled prompt.

    Per participant: the profile first, then the records in time order in batches of --batch-seconds of data time, each answer after its response time, and a prediction at each prompt once all data before it are sent. A failed batch (network, 5xx) is sent again, so a restarted server resumes; rows it already had are reported as duplicates. A batch over the server's body limit is sent in halves.
    """
    from rich.console import Console

    from kemo_attention.errors import KemoError
    from kemo_attention.live.replay import run_replay
    from kemo_attention.live.tokens import admin_token

    if batch_seconds <= 0:
        raise KemoError(f"--batch-seconds must be positive; got {batch_seconds:g}")
    if speed < 0:
        raise KemoError(f"--speed must be 0 (as fast as possible) or positive; got {speed:g}")
    if (compare is None) != (bundle is None):
        raise KemoError("--compare and --bundle go together: the feature file and the bundle the server serves")
    for flag, path in (("--compare", compare), ("--bundle", bundle)):
        if path is not None and not path.is_file():
            raise KemoError(f"{flag} {path}: no such file")
    if not url.startswith(("http://", "https://")):
        raise KemoError(f"--url {url!r}: expected an address such as http://127.0.0.1:8000")
    console = Console(stderr=True)
    run_replay(
        release, url=url, participants=participants, batch_ms=int(round(batch_seconds * 1000)), speed=speed,
        token=admin_token(token or os.environ.get(ENV_TOKEN) or None, token_file), out=out, compare=compare, bundle=bundle,
        retries=retries, console=console, progress=not quiet,
    )


# --------------------------------------------------------------------------- tokens
tokens_app = typer.Typer(
    help="Participant credentials of a live store: issue one per participant (or device), list them, revoke them. "
         "A participant token may send its participant's records, answers and profile and read its prediction, "
         "nothing else (docs/api.md, Access).",
    no_args_is_help=True,
)
StoreOption = typer.Option(..., "--store", help="The live store's SQLite file (`serve --store`).")


def _open(store: Path, *, create: bool = False):
    from kemo_attention.errors import KemoError
    from kemo_attention.live.store import open_store

    if not create and not store.is_file():
        raise KemoError(f"--store {store}: no such file (the store `kemo-attention serve --store` writes)")
    return open_store(store)


def _when(seconds: float | None) -> str:
    from datetime import datetime, timezone

    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@tokens_app.command("issue")
def tokens_issue(
    pcode: str = typer.Argument(..., metavar="PCODE", help="The participant (P07; P7 and P007 mean P07)."),
    store: Path = StoreOption,
) -> None:
    """Print a new token for PCODE, once: the store keeps only its SHA-256. Give it to that participant's device."""
    from kemo_attention.live.tokens import issue_token

    live = _open(store, create=True)
    try:
        record, token = issue_token(live, pcode)
        others = [r for r in live.tokens() if r.pcode == record.pcode and r.revoked is None and r.token_id != record.token_id]
    finally:
        live.close()
    typer.echo(token)  # stdout holds the token alone: TOKEN=$(kemo-attention tokens issue P07 --store S)
    also = f"; {record.pcode} has {len(others)} other valid token(s) (`tokens list`)" if others else ""
    typer.echo(f"token {record.token_id} for {record.pcode}: shown once, the store keeps only its hash{also}", err=True)


@tokens_app.command("list")
def tokens_list(
    store: Path = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of the table."),
) -> None:
    """Every token issued: participant, id, first characters, created and revoked times (UTC)."""
    import json

    live = _open(store)
    try:
        records = live.tokens()
    finally:
        live.close()
    if as_json:
        typer.echo(json.dumps({"tokens": [r.as_dict() for r in records]}, indent=1))
        return
    if not records:
        typer.echo(f"no tokens in {store} (`kemo-attention tokens issue PCODE --store {store}`)", err=True)
        return
    typer.echo(f"{'participant':<12} {'id':<9} {'prefix':<10} {'created':<21} revoked")
    for r in records:
        typer.echo(f"{r.pcode:<12} {r.token_id:<9} {r.prefix + '...':<10} {_when(r.created):<21} {_when(r.revoked)}")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str = typer.Argument(..., metavar="ID", help="The token's id, as `tokens list` shows it."),
    store: Path = StoreOption,
) -> None:
    """Revoke a token: from the next request on, the server answers it 401 (every worker: the check reads the store)."""
    from kemo_attention.errors import KemoError

    live = _open(store)
    try:
        before = {r.token_id: r for r in live.tokens()}.get(token_id)
        record = live.revoke_token(token_id)
    finally:
        live.close()
    if record is None:
        raise KemoError(f"no token with id {token_id!r} in {store} (`kemo-attention tokens list --store {store}`)")
    if before is not None and before.revoked is not None:
        typer.echo(f"token {token_id} ({record.pcode}) was already revoked at {_when(record.revoked)}", err=True)
        return
    typer.echo(f"revoked token {token_id} ({record.pcode})", err=True)


# --------------------------------------------------------------------------- store-export
def store_export(
    store: Path = typer.Argument(..., metavar="STORE", help="The live store's SQLite file (`serve --store`)."),
    out: Path = typer.Option(..., "--out", help="The release folder to write (replaced whole when it is an earlier export)."),
    participants: Optional[str] = typer.Option(None, "--participants", help="Comma list such as P01,P02 (default: every participant)."),
) -> None:
    """Write what a live store holds as a release folder: Sensor/Pxx/<Type>.csv, SubjData/EsmResponse.csv (answers), SubjData/UserInfo.csv (profiles).

    `check` and `extract` read it as they read the K-EmoPhone release. Only a store served with --keep-raw holds every raw row it was sent; otherwise the rows behind the live window were deleted, and the export says from when each participant's rows start.
    """
    from kemo_attention.errors import KemoError
    from kemo_attention.live.export import export_store
    from kemo_attention.live.tokens import PCODE_FORM, canonical_pcode

    chosen = None
    if participants:
        chosen = []
        for code in (c.strip() for c in participants.split(",") if c.strip()):
            canonical = canonical_pcode(code)
            if canonical is None:
                raise KemoError(f"--participants: {code!r} is not a participant code; expected {PCODE_FORM}")
            chosen.append(canonical)
    if not store.is_file():
        raise KemoError(f"STORE {store}: no such file (the store `kemo-attention serve --store` writes)")
    live = _open(store)
    try:
        summary = export_store(live, out, participants=chosen)
    finally:
        live.close()
    for line in summary.warnings:
        typer.secho(f"warning: {line}", err=True, fg="yellow")
    rows = sum(sum(v.values()) for v in summary.rows.values())
    typer.echo(f"wrote {out}: {len(summary.rows)} participant(s), {rows:,} raw rows, "
               f"{sum(summary.answers.values()):,} answers, {summary.profiles} profile(s)", err=True)
