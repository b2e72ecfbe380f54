"""Participant credentials: one bearer token per participant (or per device), kept in the live
store as a hash only, and the participant codes they are bound to.

A token is ``secrets.token_urlsafe(32)``: 256 random bits. The store keeps its SHA-256, not the
token: whoever reads the store file (a backup, a copy) cannot send as a participant. A plain
hash is enough here because the token is random and long: a slow password hash (bcrypt,
argon2) protects *guessable* secrets from trial hashing, and 2^256 candidates cannot be tried
however fast each try is. A fast hash also keeps the check to microseconds, and it runs on
every request.

Participant codes have one form, the release's: ``P`` and at least two digits (``P05``,
``P123``). ``P5``, ``P05``, ``P0005`` and ``p05`` name one person (:func:`canonical_pcode`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32  # random bytes of a token (43 URL-safe characters)
TOKEN_ID_BYTES = 4  # the public id that `tokens list` shows and `tokens revoke` takes (8 hex digits)
PREFIX_CHARS = 6  # first characters of a token shown by `tokens list`, to match a token found on a device
_PCODE = re.compile(r"^[Pp](\d{1,6})$")
PCODE_FORM = "P followed by digits, written as in the release: P05, P07, P123"


def canonical_pcode(code: str) -> str | None:
    """The release's form of a participant code (``P`` + the number, at least two digits), or
    None when ``code`` is not a participant code at all."""
    found = _PCODE.match(code or "")
    if found is None:
        return None
    return f"P{int(found.group(1)):02d}"


def token_digest(token: str) -> str:
    """What the store keeps of a token (hex SHA-256 of its UTF-8 bytes)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """(token id, token): a fresh random token and the public id it is listed under."""
    return secrets.token_hex(TOKEN_ID_BYTES), secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class TokenRecord:
    """One issued token as the store lists it (never the token itself)."""

    token_id: str
    pcode: str
    prefix: str  # the token's first PREFIX_CHARS characters
    created: float  # epoch seconds
    revoked: float | None  # epoch seconds, None while the token is valid

    def as_dict(self) -> dict:
        return {"id": self.token_id, "pcode": self.pcode, "prefix": self.prefix,
                "created": self.created, "revoked": self.revoked}


def issue_token(store, pcode: str) -> tuple[TokenRecord, str]:
    """A new token for participant ``pcode`` (any accepted spelling; stored in the release's
    form): its record and the token itself, which nothing keeps: show it once."""
    import time

    from kemo_attention.errors import KemoError

    canonical = canonical_pcode(pcode)
    if canonical is None:
        raise KemoError(f"participant code {pcode!r}: expected {PCODE_FORM}")
    token_id, token = new_token()
    record = TokenRecord(token_id, canonical, token[:PREFIX_CHARS], time.time(), None)
    store.add_token(record, token_digest(token))
    return record, token


def admin_token(token: str | None, token_file: Path | None) -> str | None:
    """The admin token from --token / KEMO_API_TOKEN or --token-file (one of them), stripped."""
    from kemo_attention.errors import KemoError

    if token_file is not None:
        if token:
            raise KemoError("give the admin token one way: --token-file, or --token / KEMO_API_TOKEN, not both")
        try:
            lines = token_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise KemoError(f"--token-file {token_file}: cannot read it ({exc.__class__.__name__}: {exc})") from None
        token = lines[0] if lines else ""
        if not token.strip():
            raise KemoError(f"--token-file {token_file}: the first line is empty; expected the token")
    if token is not None and not token.strip():
        raise KemoError("--token / KEMO_API_TOKEN is empty: give a token, or leave it unset")
    return token.strip() if token else None
