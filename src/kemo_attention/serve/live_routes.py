"""HTTP routes of live prediction: map requests to :class:`~kemo_attention.live.service.LiveService`.

Who may call each route (the admin token, a participant token for its own participant) is
decided before the route runs, by :mod:`kemo_attention.serve.auth`. Participant codes reach the
handlers in the release's form (``P5``, ``P0005`` -> ``P05``). Handlers are plain ``def``:
storing and predicting are blocking work, which FastAPI runs in its thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute

from kemo_attention.serve.metrics import ServeMetrics, get_metrics
from kemo_attention.live.tokens import PCODE_FORM, canonical_pcode
from kemo_attention.serve.schemas import (
    AnswersBatch,
    AnswersStored,
    Deleted,
    ErrorResponse,
    LivePrediction,
    ParticipantList,
    ParticipantSummary,
    PredictionHistory,
    ProfileBody,
    ProfileStored,
    RecordsBatch,
    RecordsStored,
)
from kemo_attention.serve.service import RequestError

_ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing, unknown or revoked token"},
    403: {"model": ErrorResponse, "description": "A participant token on a route or participant it does not cover"},
    404: {"model": ErrorResponse, "description": "Unknown participant"},
    409: {"model": ErrorResponse, "description": "The bundle cannot serve this route"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    422: {"model": ErrorResponse, "description": "The request is not valid"},
    503: {"model": ErrorResponse, "description": "The server runs without a store"},
}


def participant_code(
    pcode: str = Path(..., description="Participant code: P followed by digits (P07; P7 and P007 mean P07)."),
) -> str:
    """The path's participant code in the release's form: one person is one participant."""
    canonical = canonical_pcode(pcode)
    if canonical is None:
        raise RequestError(422, f"pcode {pcode!r}: expected a participant code, {PCODE_FORM}")
    return canonical


PcodePath = Depends(participant_code)


def get_live(request: Request):
    """The live service of the bundle served now, taken once: the request keeps it to its end."""
    live = request.app.state.slot.current.live
    if live is None:
        raise RequestError(503, "this server runs without a live store: start it with `kemo-attention serve BUNDLE --store PATH`")
    return live


_ROUTES: list[tuple[str, str, Any, dict[str, Any]]] = []  # (method, path, handler, options)


def _route(method: str, path: str, **options: Any):
    def register(handler):
        _ROUTES.append((method, path, handler, options))
        return handler

    return register


def live_router(route_class: type[APIRoute] = APIRoute) -> APIRouter:
    """The live routes, each a ``route_class`` (the app's fast-JSON route)."""
    out = APIRouter(route_class=route_class, tags=["live"], responses=_ERRORS)
    for method, path, handler, options in _ROUTES:
        out.add_api_route(path, handler, methods=[method], **options)
    return out


@_route("POST", "/participants/{pcode}/records", response_model=RecordsStored, summary="Store a batch of raw records")
def post_records(body: RecordsBatch, pcode: str = PcodePath, live=Depends(get_live),
                 metrics: ServeMetrics = Depends(get_metrics)) -> dict[str, Any]:
    """The batch is cleaned by the release reader's code and stored whole or not at all; the
    200 comes after the commit. Rows equal to a stored row are counted as duplicates."""
    answer = live.ingest(pcode, body.records)
    metrics.count_ingest(answer)
    return answer


@_route("POST", "/participants/{pcode}/answers", response_model=AnswersStored, summary="Store answers to prompts")
def post_answers(body: AnswersBatch, pcode: str = PcodePath, live=Depends(get_live)) -> dict[str, Any]:
    """EsmResponse columns; an answer feeds the label-history features from its response time on."""
    return live.add_answers(pcode, body.answers)


@_route("PUT", "/participants/{pcode}/profile", response_model=ProfileStored, summary="Set the participant's profile")
def put_profile(body: ProfileBody, pcode: str = PcodePath, live=Depends(get_live)) -> dict[str, Any]:
    profile = body.profile.model_dump(exclude_none=True)
    given = profile.pop("pcode", pcode)
    if not isinstance(given, str) or canonical_pcode(given) != pcode:
        raise RequestError(422, f"profile.pcode differs from the participant in the path ({pcode})")
    return live.set_profile(pcode, profile)


@_route("GET", "/participants/{pcode}/prediction", response_model=LivePrediction, summary="Predict from the stored data")
def get_prediction(
    pcode: str = PcodePath,
    at: int | None = Query(None, description="Prompt time, epoch ms (default: the newest data time)."),
    live=Depends(get_live),
    metrics: ServeMetrics = Depends(get_metrics),
) -> dict[str, Any]:
    """Features at ``at`` from the stored data (the training code, causal mode), then the
    bundle's probability. Recorded in the participant's prediction history (with the SHA-256
    of the bundle that made it)."""
    answer = live.predict(pcode, at)
    metrics.count_predictions("/participants/{pcode}/prediction")
    return answer


@_route("GET", "/participants", response_model=ParticipantList, summary="Participants of the store")
def list_participants(live=Depends(get_live)) -> dict[str, Any]:
    return {"participants": live.store.participants()}


@_route("GET", "/participants/{pcode}", response_model=ParticipantSummary, summary="What is stored for a participant")
def participant(pcode: str = PcodePath, live=Depends(get_live)) -> dict[str, Any]:
    summary = live.store.summary(pcode)
    if summary is None:
        raise RequestError(404, f"participant {pcode} has nothing stored")
    return summary


@_route("GET", "/participants/{pcode}/predictions", response_model=PredictionHistory, summary="Predictions served")
def predictions(
    pcode: str = PcodePath,
    start: int | None = Query(None, alias="from", description="Earliest `at`, epoch ms."),
    end: int | None = Query(None, alias="to", description="Latest `at`, epoch ms."),
    live=Depends(get_live),
) -> dict[str, Any]:
    return {"pcode": pcode, "predictions": live.store.predictions(pcode, start, end)}


@_route("DELETE", "/participants/{pcode}", response_model=Deleted, summary="Delete everything of a participant")
def delete(pcode: str = PcodePath, live=Depends(get_live)) -> dict[str, Any]:
    with live.store.write(pcode) as tx:
        found = tx.delete()
    if not found:
        raise RequestError(404, f"participant {pcode} has nothing stored")
    return {"pcode": pcode, "deleted": True}
