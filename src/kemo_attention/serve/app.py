"""The inference API: ``create_app(bundle_path)`` returns a FastAPI app serving one bundle.

Routes: ``GET /health``, ``GET /model`` (the manifest), ``POST /predict`` (feature rows),
``POST /predict/raw`` (raw sensor records of one participant -> the same feature code as
training -> a prediction); for operations ``GET /health/live``, ``GET /health/ready``,
``GET /metrics`` and ``POST /admin/reload`` (:mod:`~kemo_attention.serve.ops_routes`). OpenAPI
docs at ``/docs``.

Every bad request gets a 4xx whose JSON ``detail`` says what is wrong (inputs are checked
explicitly; no exception type is mapped to a 4xx wholesale); a body larger than
``max_body_mb`` gets 413 before it is parsed. Anything else is a server bug: 500 with a
request id, the traceback in the server log under that id (:class:`RequestIds`). The
bundle is loaded in the lifespan (not at import) into a :class:`~kemo_attention.serve.reload.BundleSlot`
and handed to routes through a dependency that takes the slot's current state once per
request (so a reload never changes the bundle under a request). Prediction is CPU-bound, so the
endpoints are plain ``def`` (FastAPI runs them in its thread pool).
"""

from __future__ import annotations

import gc
import json
import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pydantic_core
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from kemo_attention.bundle.runtime import Bundle, load_bundle
from kemo_attention.errors import KemoError
from kemo_attention.serve.auth import Credentials
from kemo_attention.serve.docs_assets import add_offline_docs
from kemo_attention.serve.metrics import MetricsMiddleware, ServeMetrics, get_metrics
from kemo_attention.serve.reload import BundleSlot, Serving, install_sighup
from kemo_attention.serve.schemas import (
    ErrorResponse,
    HealthResponse,
    ModelManifest,
    PredictRequest,
    PredictResponse,
    RawPredictRequest,
    RawPredictResponse,
)
from kemo_attention.serve.service import PredictionService, RequestError

log = logging.getLogger("kemo_attention.serve")
DEFAULT_MAX_BODY_MB = 20.0
# How `kemo-attention serve --workers N` hands its settings to uvicorn's worker processes,
# which import the app by name (see create_app_from_env).
ENV_BUNDLE = "KEMO_ATTENTION_SERVE_BUNDLE"
ENV_MAX_BODY_MB = "KEMO_ATTENTION_SERVE_MAX_BODY_MB"
ENV_STORE = "KEMO_ATTENTION_SERVE_STORE"
ENV_TOKEN = "KEMO_API_TOKEN"
ENV_PERSONALIZE = "KEMO_ATTENTION_SERVE_PERSONALIZE"  # K of --personalize --personal-labels K (unset: off)
# "1" when KEMO_BUNDLE_SHA256 is the user's --sha256 (a pin reloads keep), not the hash `serve`
# recorded so that each worker loads the file `serve` checked (reloads may then load another).
ENV_SHA256_PINNED = "KEMO_ATTENTION_SERVE_SHA256_PINNED"
_ERRORS = {
    409: {"model": ErrorResponse, "description": "The bundle cannot serve this route"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    422: {"model": ErrorResponse, "description": "The request is not valid for this bundle"},
    500: {"model": ErrorResponse, "description": "A server bug: `request_id` matches the traceback in the server log"},
}

class _FastJSONRequest(Request):
    """A request whose JSON body is parsed by pydantic-core's parser: ~3x faster than the
    standard library's on a 3,356-feature row (~130 kB of numbers), measured in
    bench/bench_serve.py. Parse errors still reach FastAPI as ``JSONDecodeError`` (-> 422)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = pydantic_core.from_json(body, allow_inf_nan=True)
            except ValueError as exc:
                raise json.JSONDecodeError(str(exc), body[:200].decode("utf-8", "replace"), 0) from None
        return self._json


class _FastJSONRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request):
            return await handler(_FastJSONRequest(request.scope, request.receive))

        return route


router = APIRouter(route_class=_FastJSONRoute)


def get_service(request: Request) -> PredictionService:
    """The service of the bundle served now, taken once: the request keeps it to its end."""
    return request.app.state.slot.current.service


@router.get("/health", response_model=HealthResponse, summary="Liveness and which bundle is served (see also /health/live, /health/ready)")
def health(service: PredictionService = Depends(get_service)) -> dict[str, Any]:
    return {"status": "ok", "model": service.model, "bundle_version": service.version}


@router.get("/model", response_model=ModelManifest, summary="The bundle's manifest, and whether /predict/raw serves it")
def model(service: PredictionService = Depends(get_service)) -> dict[str, Any]:
    return service.model_info()


@router.post("/predict", response_model=PredictResponse, responses=_ERRORS, summary="Predict from feature rows")
def predict(body: PredictRequest, service: PredictionService = Depends(get_service),
            metrics: ServeMetrics = Depends(get_metrics)) -> dict[str, Any]:
    """P(label = 1) per row. A row must hold every feature of the bundle (``GET /model``
    lists them) unless ``fill_missing`` is true; unknown names are reported, not used."""
    answer = service.predict_rows(body.all_rows(), body.fill_missing)
    metrics.count_predictions("/predict", len(answer["predictions"]))
    return answer


@router.post("/predict/raw", response_model=RawPredictResponse, responses=_ERRORS, summary="Predict from raw sensor records")
def predict_raw(body: RawPredictRequest, service: PredictionService = Depends(get_service),
                metrics: ServeMetrics = Depends(get_metrics)) -> dict[str, Any]:
    """Features are computed from the records with the training code (causal mode), then
    predicted. Every record needs every column of its type (null for an unknown value);
    records and past answers at or after the prompt are ignored and reported in
    ``warnings``, as are streams the model uses that had no data. Bundles not trained on
    causal features (reference mode, or a mode the bundle does not know) are refused
    (409; ``GET /model`` says why under ``predict_raw``)."""
    answer = service.predict_raw(body)
    metrics.count_predictions("/predict/raw")
    return answer


# --------------------------------------------------------------------------- body limit
class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413: at once when Content-Length says
    so, else while reading the streamed body (chunked uploads have no Content-Length)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _json(send, 400, f"Content-Length {length.decode(errors='replace')!r} is not a number")
            if declared > self.max_bytes:
                return await self._too_large(send, declared)
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                return await self._too_large(send, None)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, send, declared: int | None) -> None:
        size = f"{declared / 2**20:.1f} MB" if declared is not None else "more than that"
        await _json(
            send, 413,
            f"request body too large: {size}; the limit is {self.max_bytes / 2**20:g} MB "
            f"(`kemo-attention serve --max-body-mb`); send fewer rows or records per request",
            close=True,
        )


async def _json(send, status: int, detail: str, close: bool = False, **extra: Any) -> None:
    payload = json.dumps({"detail": detail, **extra}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class RequestIds:
    """Give every request an id (the ``X-Request-ID`` response header) and turn anything
    unexpected into a 500 that carries it.

    Only what the app checks explicitly is a 4xx (:class:`RequestError`, request validation,
    the body limit): any other exception is a bug of the server, not of the request. The
    client gets a 500 with the id and no internals; the server log gets the traceback under
    the same id, so a user's report can be matched to it.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s: unexpected error on %s %s", request_id, scope.get("method"), scope.get("path"))
            if started:  # the response is under way: nothing better to send than a cut connection
                raise
            await _json(send_with_id, 500,
                        f"internal server error (request id {request_id}): this is a bug of the server, not a problem "
                        f"with the request; the server log has the details under this id",
                        request_id=request_id)


# --------------------------------------------------------------------------- errors
def _loc(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": _loc(tuple(e.get("loc", ()))), "message": str(e.get("msg", "")).removeprefix("Value error, ")}
        for e in exc.errors()
    ]
    head = "; ".join(f"{e['loc']}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return JSONResponse(status_code=422, content={"detail": f"invalid request: {head}{more}", "errors": errors[:50]})


async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
    return JSONResponse(status_code=exc.status, content={"detail": exc.message, **exc.extra})


# --------------------------------------------------------------------------- factory
def create_app(bundle_path: str | Path, *, max_body_mb: float = DEFAULT_MAX_BODY_MB, bundle: Bundle | None = None,
               sha256: str | None = None, store_path: str | Path | None = None,
               token: str | None = None, personal_labels: int | None = None, reload_on_sighup: bool = False,
               reload_pin: str | None = None) -> FastAPI:
    """The API for the bundle at ``bundle_path`` (loaded and checked at start-up).

    ``bundle`` skips the load when the caller has already loaded that bundle (``serve``
    loads it first, so a bad bundle is reported before the server starts). ``sha256``: the
    file's expected SHA-256; any other file is refused (``load_bundle(expected_sha256=)``).
    ``store_path``: the live store (SQLite file) behind the ``/participants`` routes;
    ``token``: the admin token; with it (or a participant token in the store) every route but
    the health checks and docs needs a credential (serve/auth.py, docs/api.md). ``personal_labels``:
    live predictions recalibrated per person from their first K answers (``serve
    --personalize``; None: off). ``reload_on_sighup``: re-read the bundle on ``SIGHUP``
    (``serve`` sets it; a test client's app, run off the main thread, cannot). ``reload_pin``:
    the SHA-256 a reloaded file must have (default ``sha256``; ``create_app_from_env`` passes
    the user's pin only, not the hash recorded for its workers).
    """
    from kemo_attention import __version__

    bundle_path = Path(bundle_path)
    pin = sha256 if reload_pin is None else reload_pin

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loaded = bundle if bundle is not None else load_bundle(bundle_path, expected_sha256=sha256)
        app.state.admin_token = token or None  # serve/auth.py: every route, when set
        store = None
        if store_path is not None:
            from kemo_attention.live.store import open_store

            store = open_store(store_path)
        app.state.store = store  # serve/auth.py: its participant tokens; the same store whatever bundle serves

        def serving_of(new: Bundle) -> Serving:
            service = PredictionService(new)
            live = None
            if store is not None:  # one store for every bundle: a reload changes the model, not the data
                from kemo_attention.live.service import LiveService

                live = LiveService(service, store, personal_labels=personal_labels)
            return Serving(new, service, live)

        app.state.slot = BundleSlot(loaded, loaded.path, serving_of, pin=pin or None,
                                    on_outcome=app.state.metrics.count_reload)
        remove_sighup = install_sighup(app.state.slot) if reload_on_sighup else None
        log.info("serving %s (%s)", loaded.path, loaded.bundle_version)
        # What is loaded by now (libraries, the model) lives as long as the server: move it out
        # of the cycle collector's sight, so that the collections a stream of JSON batches
        # triggers (each batch decodes ~1,000 objects) scan only what requests created.
        gc.collect()
        gc.freeze()
        yield
        if remove_sighup is not None:
            remove_sighup()
        if store is not None:
            store.close()

    app = FastAPI(
        title="kemo-attention inference API",
        version=__version__,
        description=(
            "Attention (focused / not focused) from smartphone and wristband sensing. "
            "`POST /predict` takes feature rows; `POST /predict/raw` takes recent raw sensor records "
            "and computes the features with the training code."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from add_offline_docs: local assets, no CDN
        redoc_url=None,
    )
    add_offline_docs(app)
    app.state.metrics = ServeMetrics(lambda: getattr(getattr(app.state, "slot", None), "current", None))
    app.include_router(router)
    from kemo_attention.serve.ops_routes import ops_router

    app.include_router(ops_router)
    if store_path is not None:  # the /participants routes exist only with a store behind them
        from kemo_attention.serve.live_routes import live_router

        app.include_router(live_router(_FastJSONRoute))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RequestError, _request_error)
    app.add_middleware(BodySizeLimit, max_bytes=int(max_body_mb * 2**20))
    app.add_middleware(Credentials)  # outside the body limit: 401 before the body is read
    app.add_middleware(RequestIds)  # 413s and 401s carry an id too, and nothing escapes it
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: counts the 500s RequestIds answers
    return app


def create_app_from_env() -> FastAPI:
    """The app for uvicorn's multi-process mode (``factory=True``): each worker process
    calls this, so the settings come from the environment set by ``kemo-attention serve``.

    Each worker loads (and so re-checks) the bundle in its own lifespan, against the SHA-256
    the parent process checked (``KEMO_BUNDLE_SHA256``).
    """
    import os

    bundle_path = os.environ.get(ENV_BUNDLE)
    if not bundle_path:
        raise KemoError(f"{ENV_BUNDLE} is not set: start the server with `kemo-attention serve BUNDLE --workers N`")
    raw = os.environ.get(ENV_MAX_BODY_MB, str(DEFAULT_MAX_BODY_MB))
    try:
        max_body_mb = float(raw)
    except ValueError:
        raise KemoError(f"{ENV_MAX_BODY_MB} must be a number of MB; got {raw!r}") from None
    from kemo_attention.bundle.runtime import ENV_SHA256

    personal = os.environ.get(ENV_PERSONALIZE) or None
    if personal is not None and not personal.isdigit():
        raise KemoError(f"{ENV_PERSONALIZE} must be a whole number of answers; got {personal!r}")
    sha256 = os.environ.get(ENV_SHA256) or None
    return create_app(bundle_path, max_body_mb=max_body_mb, sha256=sha256,
                      store_path=os.environ.get(ENV_STORE) or None, token=os.environ.get(ENV_TOKEN) or None,
                      personal_labels=None if personal is None else int(personal), reload_on_sighup=True,
                      reload_pin=sha256 if os.environ.get(ENV_SHA256_PINNED) == "1" else "")
