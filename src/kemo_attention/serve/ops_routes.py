"""Routes for running the server: liveness, readiness, metrics, bundle reload.

``GET /health/live`` answers as long as the process serves HTTP (a restart is the cure when it
does not); ``GET /health/ready`` answers 200 only when the bundle is loaded and the store
answers a query, else 503 with the reasons (send no traffic until it clears). ``GET /health``
stays what it was (the bundle's name and version). ``GET /metrics`` and ``POST /admin/reload``
need the admin token when the server has credentials (serve/auth.py checks it before any
route); reloading runs a pickle, so it needs the admin token in every case: a server started
without one refuses it (403) and reloads on ``SIGHUP`` only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from kemo_attention.serve.metrics import ServeMetrics, get_metrics
from kemo_attention.serve.reload import BundleSlot
from kemo_attention.serve.schemas import (
    ErrorResponse,
    LivenessResponse,
    ReadinessResponse,
    ReloadRequest,
    ReloadResponse,
)

ops_router = APIRouter(tags=["operations"])


def get_slot(request: Request) -> BundleSlot | None:
    return getattr(request.app.state, "slot", None)


@ops_router.get("/health/live", response_model=LivenessResponse, summary="Liveness: the process answers HTTP")
def liveness() -> dict[str, Any]:
    return {"status": "alive"}


@ops_router.get("/health/ready", response_model=ReadinessResponse, summary="Readiness: bundle loaded, store reachable",
                responses={503: {"model": ErrorResponse, "description": "Not ready; `reasons` says why"}})
def readiness(slot: BundleSlot | None = Depends(get_slot)):
    serving = slot.current if slot is not None else None
    reasons = []
    if serving is None:
        reasons.append("no bundle loaded (the server is still starting)")
    store_problem = serving.live.store.ping() if serving is not None and serving.live is not None else None
    if store_problem is not None:
        reasons.append(store_problem)
    if reasons:
        return JSONResponse(status_code=503, content={"detail": "not ready: " + "; ".join(reasons), "reasons": reasons})
    return {"status": "ready", "model": serving.service.model, "bundle_version": serving.service.version,
            "sha256": serving.sha256, "store": "none" if serving.live is None else "ok"}


@ops_router.get("/metrics", summary="Prometheus metrics (text exposition format)",
                responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorResponse}})
def metrics(request: Request, metrics: ServeMetrics = Depends(get_metrics)) -> Response:
    body, content_type = metrics.exposition()
    return Response(content=body, media_type=content_type)


@ops_router.post(
    "/admin/reload", response_model=ReloadResponse, summary="Serve another bundle (or the same file, re-read) without a restart",
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
               422: {"model": ErrorResponse, "description": "The bundle was refused; the old one keeps serving"}},
)
def reload_bundle(request: Request, body: ReloadRequest | None = Body(None), slot: BundleSlot = Depends(get_slot)):
    """Checked exactly as at start (manifest SHA-256, the `--sha256` pin or `sha256` given
    here, library versions); swapped in at once if it passes, refused with the reason if not."""
    if not getattr(request.app.state, "admin_token", None):
        return JSONResponse(status_code=403, content={
            "detail": "POST /admin/reload needs a server started with an admin token (--token-file / KEMO_API_TOKEN / --token): loading a "
                      "bundle runs its pickle; without a token, send the server process SIGHUP to re-read its bundle"})
    body = body or ReloadRequest()
    outcome = slot.reload(body.path, body.sha256)
    if not outcome.loaded:
        return JSONResponse(status_code=422, content={"detail": f"bundle refused, still serving {outcome.sha256[:16]}...: "
                                                                f"{outcome.reason}", **outcome.as_dict()})
    return outcome.as_dict()
