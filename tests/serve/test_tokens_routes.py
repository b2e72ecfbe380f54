"""Every route of the app against every kind of caller: no token, a wrong token, a revoked
token, another participant's token, the participant's own token and the admin token
(issue 18, item 1). The routes come from ``app.routes``, so a route added later fails this
test until the table below says who may call it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

ADMIN = "admin-token-for-the-route-walk"
T0 = 1_557_278_760_000  # 2019-05-08 10:26 +09:00
HR = [{"timestamp": T0 + i * 1000, "bpm": 70 + i % 5} for i in range(20)]

PUBLIC, OWN, ADMIN_ONLY = "public", "own participant", "admin"
# (method, path template) -> (who may call it, the request (path filled in), statuses that
# mean "let through"). Walked in this order: DELETE comes last, so that the reads before it
# find data.
ROUTES: dict[tuple[str, str], tuple[str, dict, set[int]]] = {
    ("GET", "/health"): (PUBLIC, {}, {200}),
    ("GET", "/health/live"): (PUBLIC, {}, {200}),
    ("GET", "/health/ready"): (PUBLIC, {}, {200}),
    ("GET", "/metrics"): (ADMIN_ONLY, {}, {200}),
    ("POST", "/admin/reload"): (ADMIN_ONLY, {"json": {}}, {200}),  # re-reads the same bundle file
    ("GET", "/docs"): (PUBLIC, {}, {200}),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, {}, {200}),
    ("GET", "/redoc"): (PUBLIC, {}, {200}),
    ("GET", "/openapi.json"): (PUBLIC, {}, {200}),
    ("GET", "/docs-assets"): (PUBLIC, {"url": "/docs-assets/swagger-ui.css"}, {200}),
    ("GET", "/model"): (ADMIN_ONLY, {}, {200}),
    ("POST", "/predict"): (ADMIN_ONLY, {"json": {"rows": [{"HRT#VAL": 70.0}], "fill_missing": True}}, {200}),
    ("POST", "/predict/raw"): (ADMIN_ONLY, {"json": {"prompt_time": T0 + 30_000, "records": {"HR": HR}}}, {200}),
    ("POST", "/participants/{pcode}/records"): (OWN, {"json": {"records": {"HR": HR}}}, {200}),
    ("POST", "/participants/{pcode}/answers"): (OWN, {"json": {"answers": [{"responseTime": T0 + 5_000, "attention": 1}]}}, {200}),
    ("PUT", "/participants/{pcode}/profile"): (OWN, {"json": {"profile": {"age": 23, "gender": "F"}}}, {200}),
    ("GET", "/participants/{pcode}/prediction"): (OWN, {}, {200}),
    ("GET", "/participants"): (ADMIN_ONLY, {}, {200}),
    ("GET", "/participants/{pcode}"): (ADMIN_ONLY, {}, {200}),
    ("GET", "/participants/{pcode}/predictions"): (ADMIN_ONLY, {}, {200}),
    ("DELETE", "/participants/{pcode}"): (ADMIN_ONLY, {}, {200}),
}
CALLERS = ("none", "wrong", "revoked", "other", "own", "admin")


def expected_status(access: str, caller: str, allowed: set[int]) -> set[int]:
    """The table of the brief: public routes answer everyone; otherwise no credential, a
    wrong or a revoked one is 401, a participant token off its own routes is 403."""
    if access == PUBLIC:
        return allowed
    if caller in ("none", "wrong", "revoked"):
        return {401}
    if caller == "admin" or (access == OWN and caller == "own"):
        return allowed
    return {403}


def app_routes(routes) -> set[tuple[str, str]]:
    """(method, path) of everything the app answers; a mounted folder counts as one GET.
    Included routers are walked into (newer FastAPI keeps them as one entry of ``app.routes``)."""
    out = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            out |= {(m, prefix + path) for m, path in app_routes(included.routes)}
        elif isinstance(route, Mount):
            out.add(("GET", route.path))
        else:
            out |= {(m, route.path) for m in getattr(route, "methods", None) or () if m != "HEAD"}
    return out


@pytest.fixture()
def walk(bundle_path, tmp_path):
    from kemo_attention.live.store import open_store
    from kemo_attention.live.tokens import issue_token
    from kemo_attention.serve.app import create_app

    store_path = tmp_path / "live.sqlite"
    store = open_store(store_path)
    try:
        _, own = issue_token(store, "P7")  # any spelling: stored as P07
        _, other = issue_token(store, "P08")
        revoked_record, revoked = issue_token(store, "P07")
        store.revoke_token(revoked_record.token_id)
    finally:
        store.close()
    tokens = {"none": None, "wrong": "not-a-token-" + own[12:], "revoked": revoked, "other": other, "own": own, "admin": ADMIN}
    app = create_app(bundle_path, store_path=store_path, token=ADMIN)
    with TestClient(app) as client:
        yield app, client, tokens


def _send(client, method: str, path: str, request: dict, token: str | None, pcode: str = "P07"):
    url = request.get("url", path.replace("{pcode}", pcode))
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.request(method, url, json=request.get("json"), headers=headers)


def test_every_route_answers_each_caller_as_the_table_says(walk):
    app, client, tokens = walk
    assert app_routes(app.routes) == set(ROUTES), (
        "routes and the access table differ: add each new route to ROUTES (and decide who may call it in serve/auth.py)")
    # data for the reads to find, and for the other participant
    for pcode in ("P07", "P08"):
        for key in [("POST", "/participants/{pcode}/records"), ("POST", "/participants/{pcode}/answers")]:
            assert _send(client, *key, ROUTES[key][1], ADMIN, pcode).status_code == 200
    wrong = []
    for (method, path), (access, request, allowed) in ROUTES.items():
        # the admin last: its DELETE would take away what the others' reads need
        for caller in CALLERS:
            r = _send(client, method, path, request, tokens[caller])
            want = expected_status(access, caller, allowed)
            if r.status_code not in want:
                wrong.append(f"{method} {path} as {caller}: {r.status_code} (expected {sorted(want)}) {r.text[:120]}")
            elif r.status_code == 401:
                assert r.headers["www-authenticate"] == "Bearer"
    assert not wrong, "\n".join(wrong)


def test_a_participant_token_reaches_its_own_routes_under_any_spelling_and_no_one_else(walk):
    _, client, tokens = walk
    own = {"Authorization": f"Bearer {tokens['own']}"}
    for spelling in ("P7", "P07", "P0007", "p07"):
        r = client.post(f"/participants/{spelling}/records", json={"records": {"HR": HR[:3]}}, headers=own)
        assert r.status_code == 200 and r.json()["pcode"] == "P07", r.text
    r = client.post("/participants/P08/records", json={"records": {"HR": HR}}, headers=own)
    assert r.status_code == 403 and "P07" in r.json()["detail"]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.get("/participants", headers=admin).json()["participants"] == ["P07"]  # P08 got nothing


def test_401_says_why(walk):
    _, client, tokens = walk
    assert "revoked" in client.get("/participants/P07/prediction", headers={"Authorization": f"Bearer {tokens['revoked']}"}).json()["detail"]
    assert "unknown token" in client.get("/model", headers={"Authorization": "Bearer nope"}).json()["detail"]
    assert "needs a credential" in client.get("/model").json()["detail"]
    assert "needs a credential" in client.get("/model", headers={"Authorization": f"Basic {ADMIN}"}).json()["detail"]


def test_p5_p05_and_p0005_are_one_participant(walk):
    _, client, _ = walk
    admin = {"Authorization": f"Bearer {ADMIN}"}
    for i, spelling in enumerate(("P5", "P05", "P0005")):
        r = client.post(f"/participants/{spelling}/records", json={"records": {"HR": HR[i * 5:i * 5 + 5]}}, headers=admin)
        assert r.status_code == 200 and r.json()["pcode"] == "P05", r.text
    r = client.post("/participants/P005/answers", headers=admin,
                    json={"answers": [{"pcode": "P5", "responseTime": T0 + 5_000, "attention": 1}]})
    assert r.status_code == 200, r.text
    r = client.put("/participants/p5/profile", json={"profile": {"pcode": "P0005", "age": 30}}, headers=admin)
    assert r.status_code == 200 and r.json()["pcode"] == "P05", r.text
    assert "P05" in client.get("/participants", headers=admin).json()["participants"]
    assert not {"P5", "P0005", "P005"} & set(client.get("/participants", headers=admin).json()["participants"])
    summary = client.get("/participants/P5", headers=admin).json()
    assert summary["pcode"] == "P05" and summary["types"]["HR"]["rows"] == 15 and summary["answers"] == 1
    for bad in ("5", "Q05", "P5a", "P1234567"):
        r = client.post(f"/participants/{bad}/records", json={"records": {"HR": HR[:1]}}, headers=admin)
        assert r.status_code == 422 and "P05" in r.json()["detail"], (bad, r.text)


def test_a_token_revoked_while_the_server_runs_is_refused_at_the_next_request(bundle_path, tmp_path, capsys):
    from kemo_attention.cli import run
    from kemo_attention.serve.app import create_app

    store = tmp_path / "live.sqlite"
    assert run(["tokens", "issue", "P03", "--store", str(store)]) == 0
    token = capsys.readouterr().out.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(bundle_path, store_path=store, token=ADMIN)) as client:
        assert client.post("/participants/P03/records", json={"records": {"HR": HR}}, headers=headers).status_code == 200
        assert run(["tokens", "list", "--store", str(store), "--json"]) == 0
        token_id = __import__("json").loads(capsys.readouterr().out)["tokens"][0]["id"]
        assert run(["tokens", "revoke", token_id, "--store", str(store)]) == 0
        r = client.post("/participants/P03/records", json={"records": {"HR": HR}}, headers=headers)
        assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_participant_tokens_alone_close_the_server_and_no_credential_at_all_leaves_it_open(bundle_path, tmp_path):
    """Credentials are required once one exists: an admin token, or any token in the store."""
    from kemo_attention.live.store import open_store
    from kemo_attention.live.tokens import issue_token
    from kemo_attention.serve.app import create_app

    store_path = tmp_path / "live.sqlite"
    with TestClient(create_app(bundle_path, store_path=store_path)) as client:  # nothing configured: as before
        assert client.get("/participants").status_code == 200
        assert client.get("/model").status_code == 200
        store = open_store(store_path)
        _, token = issue_token(store, "P01")  # issued while it runs: closed from the next request on
        store.close()
        assert client.get("/participants").status_code == 401
        assert client.get("/model", headers={"Authorization": f"Bearer {token}"}).status_code == 403
        r = client.post("/participants/P01/records", json={"records": {"HR": HR}}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert client.get("/health").status_code == 200


def test_the_credential_is_checked_before_the_body_size(bundle_path, tmp_path):
    from kemo_attention.serve.app import create_app

    app = create_app(bundle_path, store_path=tmp_path / "live.sqlite", token=ADMIN, max_body_mb=0.01)
    big = b"[" + b"0," * 20_000 + b"0]"
    with TestClient(app) as client:
        assert client.post("/participants/P01/records", content=big).status_code == 401
        r = client.post("/participants/P01/records", content=big, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 413


def test_the_store_keeps_a_hash_and_never_the_token(tmp_path, capsys):
    import hashlib

    from kemo_attention.cli import run

    store = tmp_path / "live.sqlite"
    assert run(["tokens", "issue", "P9", "--store", str(store)]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert len(out.out.strip().splitlines()) == 1 and len(token) >= 43  # 32 random bytes, URL-safe base64
    assert "P09" in out.err and "shown once" in out.err
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the file and its WAL
    assert token.encode() not in raw
    assert hashlib.sha256(token.encode()).hexdigest().encode() in raw
    assert run(["tokens", "list", "--store", str(store)]) == 0
    table = capsys.readouterr().out
    assert "P09" in table and token[:6] in table and token[6:20] not in table
