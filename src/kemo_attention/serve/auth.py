"""Who may call which route: one table, one check in front of every route (docs/api.md, Access).

Two kinds of credential, both sent as ``Authorization: Bearer <token>``:

- the **admin token** (``serve --token`` / ``--token-file`` / ``KEMO_API_TOKEN``): every route;
- a **participant token** (``kemo-attention tokens issue P07``; the store keeps its hash):
  only :data:`PARTICIPANT_ROUTES`, and only with its own participant in the path.

Credentials are required as soon as one exists: an admin token is set, or the store has ever
issued a participant token. Then every route but :func:`is_public` (the health checks and the
API's own documentation, which hold no data) needs one: none, an unknown or a revoked token
get 401; a valid token on a route it does not cover gets 403. A route missing from the table
is an admin route, so a route added later is closed until someone opens it here.

The check is ASGI middleware outside the body-size limit: a request without a valid
credential is answered before its body is read (401 before 413). It decides from the method
and the path alone, before routing: a path no route serves needs the admin token too (then
404), so nothing depends on how the router finds routes.
"""

from __future__ import annotations

import hmac
import re

from starlette.responses import JSONResponse

from kemo_attention.live.tokens import canonical_pcode, token_digest

# (method, path template): what a participant token may do, for its own participant only.
PARTICIPANT_ROUTES = frozenset({
    ("POST", "/participants/{pcode}/records"),
    ("POST", "/participants/{pcode}/answers"),
    ("PUT", "/participants/{pcode}/profile"),
    ("GET", "/participants/{pcode}/prediction"),
})
# The API's own documentation: the same text as docs/api.md, no participant or model data.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/docs-assets"})
CREDENTIAL_HELP = ("send the header 'Authorization: Bearer <token>' with the admin token the server was started with "
                   "(--token / --token-file / KEMO_API_TOKEN) or a participant token (`kemo-attention tokens issue`)")


def _template_pattern(template: str) -> re.Pattern:
    """``/participants/{pcode}/records`` -> a pattern of that path, one segment per parameter
    (as the router matches it)."""
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


_PARTICIPANT_PATTERNS = [(method, _template_pattern(path)) for method, path in sorted(PARTICIPANT_ROUTES)]


def is_public(path: str) -> bool:
    """Paths open to anyone: liveness and readiness checks, and the API documentation."""
    return (path == "/health" or path.startswith("/health/") or path in DOCS_PATHS
            or path.startswith("/docs-assets/"))


def participant_of(method: str, path: str) -> str | None:
    """The participant code in the path of a participant route (as sent), else None."""
    for route_method, pattern in _PARTICIPANT_PATTERNS:
        found = pattern.match(path)
        if found is not None and method == route_method:
            return found.group("pcode")
    return None


def bearer(scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class Credentials:
    """The check itself (ASGI middleware). Reads the admin token (``app.state.admin_token``)
    and the live store (``app.state.store``, one for every bundle a reload swaps in) from the
    app at each request."""

    def __init__(self, app):
        self.app = app
        self._store_has_tokens = False  # once true, true for good: tokens are revoked, never deleted

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self.refusal(scope["app"], scope)
        if refusal is not None:
            return await refusal(scope, receive, send)
        return await self.app(scope, receive, send)

    def _store(self, app):
        return getattr(app.state, "store", None)

    def required(self, app) -> bool:
        if getattr(app.state, "admin_token", None):
            return True
        if not self._store_has_tokens:
            store = self._store(app)
            self._store_has_tokens = store is not None and store.has_tokens()
        return self._store_has_tokens

    def refusal(self, app, scope) -> JSONResponse | None:
        """None when the request may go on; else the 401 or 403 to answer."""
        path = scope.get("path", "")
        if is_public(path) or not self.required(app):
            return None
        token = bearer(scope)
        if token is None:
            return _unauthorized(f"this route needs a credential: {CREDENTIAL_HELP}")
        admin = getattr(app.state, "admin_token", None)
        if admin and hmac.compare_digest(token.encode(), admin.encode()):
            return None
        store = self._store(app)
        record = None if store is None else store.token_by_digest(token_digest(token))
        if record is None:
            return _unauthorized(f"unknown token: {CREDENTIAL_HELP}")
        if record.revoked is not None:
            return _unauthorized(f"token {record.token_id} (participant {record.pcode}) was revoked: ask the study team "
                                 f"for a new one (`kemo-attention tokens issue {record.pcode}`)")
        pcode = participant_of(scope.get("method", "GET"), path)
        if pcode is not None and canonical_pcode(pcode) == record.pcode:
            return None
        return JSONResponse(status_code=403, content={"detail": (
            f"forbidden: this is participant {record.pcode}'s token; it may send {record.pcode}'s records, answers "
            f"and profile and read {record.pcode}'s prediction, nothing else (other routes need the admin token)")})


def _unauthorized(detail: str) -> JSONResponse:
    return JSONResponse(status_code=401, content={"detail": detail}, headers={"WWW-Authenticate": "Bearer"})
