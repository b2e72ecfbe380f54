"""A bundle swapped in without a restart (``SIGHUP`` or ``POST /admin/reload``).

What a request predicts with is one object, :class:`Serving` (the loaded bundle, its
:class:`PredictionService` and, with a store, its :class:`LiveService`), held by a
:class:`BundleSlot`. A request takes ``slot.current`` once, when its dependencies are
resolved, and keeps that reference to the end: a swap is one attribute assignment, so requests
in flight finish on the bundle they started with and later ones get the new one, never a mix.

A reload checks the new file exactly as ``serve`` does at start (``load_bundle``: the
manifest's SHA-256, the ``--sha256`` pin, library versions, the fast path); a file that fails
any check is refused, the old bundle keeps serving, and the reason goes to the log and to the
caller. Loading runs outside the event loop (a worker thread), so serving does not pause.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kemo_attention.bundle.runtime import Bundle, check_sha256_text, load_bundle
from kemo_attention.errors import KemoError
from kemo_attention.serve.service import PredictionService

log = logging.getLogger("kemo_attention.serve")


@dataclass(frozen=True)
class Serving:
    """Everything one bundle serves with; replaced whole by a reload, never changed in place."""

    bundle: Bundle
    service: PredictionService
    live: Any = None  # a LiveService when the server has a store

    @property
    def sha256(self) -> str:
        return str(self.bundle.manifest.get("pkl_sha256", ""))


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: ``loaded`` True with the new bundle serving, or False with ``reason``."""

    loaded: bool
    path: str
    sha256: str  # the bundle serving after the attempt (the old one when refused)
    previous_sha256: str
    model: str
    bundle_version: str
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"loaded": self.loaded, "path": self.path, "sha256": self.sha256, "previous_sha256": self.previous_sha256,
                "model": self.model, "bundle_version": self.bundle_version, "reason": self.reason}


class BundleSlot:
    """The bundle being served, its path and pin, and the one way to replace it.

    ``make_serving(bundle)`` builds the :class:`Serving` of a loaded bundle (the app's
    factory knows about the store and personalization; this class does not). ``pin``: the
    SHA-256 the file must have (``serve --sha256``); a reload keeps it unless given a new one,
    so a pinned server accepts only the pinned file until told otherwise. ``on_outcome`` is
    called with every :class:`ReloadOutcome` (metrics).
    """

    def __init__(self, bundle: Bundle, path: str | Path, make_serving: Callable[[Bundle], Serving], *,
                 pin: str | None = None, on_outcome: Callable[[ReloadOutcome], None] | None = None):
        self.path = Path(path)
        self.pin = check_sha256_text(pin) if pin is not None else None
        self._make = make_serving
        self._on_outcome = on_outcome
        self._lock = threading.Lock()  # one reload at a time; serving never waits on it
        self.current: Serving = make_serving(bundle)

    def reload(self, path: str | Path | None = None, sha256: str | None = None) -> ReloadOutcome:
        """Load ``path`` (default: the path served now, re-read) and swap it in if every check
        passes; ``sha256`` replaces the pin for this and later reloads once the file passed it.
        Never raises for a bad bundle: the outcome says why it was refused."""
        with self._lock:
            old = self.current
            target = Path(path) if path is not None else self.path
            try:
                pin = check_sha256_text(sha256, "sha256") if sha256 is not None else self.pin
                bundle = load_bundle(target, expected_sha256=pin)
                fresh = self._make(bundle)
            except (KemoError, OSError) as exc:  # every check's refusal, or a file that cannot be read
                outcome = ReloadOutcome(False, str(target), old.sha256, old.sha256, old.service.model,
                                        old.service.version, reason=str(exc))
                log.error("bundle reload refused; still serving %s (%s): %s", old.bundle.path, old.sha256[:16], exc)
            else:
                self._swap(fresh)
                self.path, self.pin = target, pin
                outcome = ReloadOutcome(True, str(bundle.path), fresh.sha256, old.sha256, fresh.service.model,
                                        fresh.service.version)
                log.info("bundle reloaded: now serving %s (%s, sha256 %s; was %s)", bundle.path, fresh.service.version,
                         fresh.sha256[:16], old.sha256[:16])
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome

    def _swap(self, fresh: Serving) -> None:
        # The server froze what it had loaded at start (gc.freeze in the app's lifespan), the
        # old bundle included: unfreeze, so that once the last request holding the old bundle
        # ends, any reference cycles in it can be collected; then freeze the new state again.
        gc.unfreeze()
        self.current = fresh  # the swap: one reference, atomic for every reader
        gc.collect()
        gc.freeze()


def install_sighup(slot: BundleSlot) -> Callable[[], None] | None:
    """Reload ``slot`` on ``SIGHUP`` (the load runs in a worker thread). Returns the function
    that removes the handler, or None where signals cannot be handled (not the main thread,
    as under a test client, or a platform without SIGHUP)."""
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return None
    loop = asyncio.get_running_loop()

    def on_hup() -> None:
        log.info("SIGHUP: reloading the bundle from %s", slot.path)
        loop.run_in_executor(None, slot.reload).add_done_callback(_log_failure)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, RuntimeError, ValueError):
        return None
    return lambda: loop.remove_signal_handler(signal.SIGHUP)


def _log_failure(future: "asyncio.Future[ReloadOutcome]") -> None:
    """A reload run by SIGHUP has no caller to raise to: a bug inside it goes to the log."""
    exc = future.exception()
    if exc is not None:
        log.error("bundle reload failed unexpectedly; the old bundle keeps serving", exc_info=exc)
