"""The web workspace (issue 23): accounts, runs in a worker process, explore, bounds, safe CSV."""

import io
import json
import time
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from graphchurn.app.web.auth import add_user, hash_password, new_token, verify_password
from graphchurn.app.web.runs import neutralise_cell
from graphchurn.app.web.workspace import Settings, create_workspace, is_loopback

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def world_files(tmp_path_factory):
    from graphchurn.synth import generate_world, write_world

    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(n_customers=300, days=100, seed=0), out)
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    data = tmp_path_factory.mktemp("ws")
    app = create_workspace(Settings(data, max_upload_bytes=5 * 2**20, workers=2))
    Session = app.state.sessionmaker
    with Session() as s:
        alice = add_user(s, "alice", PASSWORD, team="red", admin=True)
        bob = add_user(s, "bob", PASSWORD, team="blue")
        tokens = {"alice": new_token(s, alice), "bob": new_token(s, bob)}
    with TestClient(app) as client:
        yield client, tokens, data


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def upload(client, token, world_files, params=None, customers=True):
    files = {"interactions": ("interactions.csv.gz", (world_files / "interactions.csv.gz").read_bytes())}
    if customers:
        files["customers"] = ("customers.csv", (world_files / "customers.csv").read_bytes())
    data = {"params": json.dumps(params if params is not None else {"embeddings": False, "n_train_cutoffs": 2})}
    return client.post("/api/runs", files=files, data=data, headers=auth(token))


def wait(client, token, run_id, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = client.get(f"/api/runs/{run_id}", headers=auth(token)).json()
        if body["status"] in ("done", "failed"):
            return body
        assert body["status"] in ("queued", "running")
        assert "stage" in body["progress"]
        time.sleep(0.5)
    raise AssertionError("run did not finish")


@pytest.fixture(scope="module")
def two_runs(workspace, world_files):
    client, tokens, _ = workspace
    # two uploads at once (two threads posting together): both are accepted and both complete
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as threads:
        responses = list(threads.map(lambda _: upload(client, tokens["alice"], world_files), range(2)))
    assert [r.status_code for r in responses] == [202, 202]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 2
    return [wait(client, tokens["alice"], i) for i in ids]


def test_passwords_are_salted_hashes():
    a, b = hash_password("pw-123456"), hash_password("pw-123456")
    assert a != b and "pw-123456" not in a and a.startswith("scrypt$")
    assert verify_password("pw-123456", a) and not verify_password("pw-1234567", a)


def all_routes(routes, prefix=""):
    """Every route of the app, through included routers (FastAPI >= 0.160 wraps them)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "methods"):
            yield prefix + route.path, route.methods


def test_every_route_needs_login(workspace):
    client, _, _ = workspace
    seen = set()
    for path, methods in all_routes(client.app.routes):
        seen.add(path)
        if path in ("/login", "/logout"):
            continue
        concrete = (path.replace("{run_id}", "abc").replace("{file}", "scores.csv").replace("{community}", "1")
                    .replace("{customer_id}", "x").replace("{name}", "a.css"))
        for method in methods - {"HEAD"}:
            r = client.request(method, concrete, follow_redirects=False)
            if path.startswith("/api/") or path == "/openapi.json":
                assert r.status_code == 401, (method, path, r.status_code)
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
    assert {"/", "/api/runs", "/api/runs/{run_id}/{file}", "/docs", "/upload"} <= seen
    assert client.get("/api/runs", headers=auth("gct_wrong")).status_code == 401


def test_login_session_and_logout(workspace):
    client, _, _ = workspace
    c = TestClient(client.app)
    r = c.post("/login", data={"name": "alice", "password": "nope", "next": "/"}, follow_redirects=False)
    assert r.status_code == 303 and "failed=1" in r.headers["location"]
    r = c.post("/login", data={"name": "alice", "password": PASSWORD, "next": "//evil.example"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c.get("/").status_code == 200
    assert c.get("/api/runs").status_code == 200  # the session cookie works for the API too
    c.post("/logout")
    assert c.get("/api/runs").status_code == 401


def test_upload_run_results(workspace, two_runs):
    client, tokens, data = workspace
    h = auth(tokens["alice"])
    for run in two_runs:
        assert run["status"] == "done", run["error"]
        assert run["metrics"]["n_scored"] > 0
        assert run["inputs"][0]["sha256"] and "path" not in run["inputs"][0]
    run_id = two_runs[0]["id"]
    listed = client.get("/api/runs", headers=h).json()
    assert {r["id"] for r in two_runs} <= {r["id"] for r in listed}
    scores = pd.read_csv(io.StringIO(client.get(f"/api/runs/{run_id}/scores.csv", headers=h).text),
                         dtype={"customer_id": str})
    assert {"customer_id", "churn_probability"} <= set(scores.columns)
    assert client.get(f"/api/runs/{run_id}/metrics.json", headers=h).json()["n_scored"] == len(scores)
    assert client.get(f"/api/runs/{run_id}/nope.csv", headers=h).status_code == 404
    # pages of a finished run
    c = TestClient(client.app)
    c.post("/login", data={"name": "alice", "password": PASSWORD})
    page = c.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "Groups at risk" in page.text
    groups = client.get(f"/api/runs/{run_id}/groups.csv", headers=h).text
    community = int(pd.read_csv(io.StringIO(groups))["community"].iloc[0])
    g = c.get(f"/runs/{run_id}/groups/{community}")
    assert g.status_code == 200 and "<svg" in g.text and "cdn" not in g.text.lower()
    cid = str(scores["customer_id"].iloc[0])
    assert cid.startswith("+")  # phone numbers stay readable in the CSV export (no apostrophe)
    assert c.get(f"/runs/{run_id}/customers/{quote(cid)}").status_code == 200
    assert c.get(f"/api/runs/{run_id}/customers/{quote(cid)}", headers=h).json()["customer_id"] == cid
    plan = c.get(f"/runs/{run_id}/contacts?budget=100")
    assert plan.status_code == 200 and "Download the contact list" in plan.text
    csv = client.get(f"/api/runs/{run_id}/contacts.csv?budget=100", headers=h)
    assert csv.status_code == 200 and csv.text.startswith("customer_id")
    body = client.post(f"/api/runs/{run_id}/target", json={"budget": 100, "limit": 5}, headers=h).json()
    assert body["n_contacts"] >= len(body["contacts"])
    cmp = c.get(f"/compare?a={two_runs[0]['id']}&b={two_runs[1]['id']}")
    assert cmp.status_code == 200 and "roc_auc" in cmp.text


def test_whatif(workspace, two_runs):
    client, tokens, _ = workspace
    h = auth(tokens["alice"])
    run_id = two_runs[0]["id"]
    infl = pd.read_csv(io.StringIO(client.get(f"/api/runs/{run_id}/influencers.csv", headers=h).text), dtype=str)
    leaver = infl["customer_id"].iloc[0]
    r = client.post(f"/api/runs/{run_id}/whatif", json={"leavers": [leaver]}, headers=h)
    assert r.status_code == 200, r.text
    assert "alerts" in r.json() and "at_risk" in r.json()


def test_runs_are_visible_to_the_team_only(workspace, two_runs):
    client, tokens, _ = workspace
    h = auth(tokens["bob"])
    assert client.get("/api/runs", headers=h).json() == []
    assert client.get(f"/api/runs/{two_runs[0]['id']}", headers=h).status_code == 404
    assert client.get(f"/api/runs/{two_runs[0]['id']}/scores.csv", headers=h).status_code == 404


EVIL = "<script>alert(1)</script>"


def test_bad_input_fails_with_one_line_and_pages_escape_it(workspace):
    client, tokens, _ = workspace
    files = {"interactions": (EVIL + ".csv", b"a,b\n1,2\n")}
    r = client.post("/api/runs", files=files, data={"params": "{}"}, headers=auth(tokens["alice"]))
    assert r.status_code == 202
    run = wait(client, tokens["alice"], r.json()["id"])
    assert run["status"] == "failed" and "\n" not in run["error"] and "/uploads/" not in run["error"]
    c = TestClient(client.app)
    c.post("/login", data={"name": "alice", "password": PASSWORD})
    for page in (c.get(f"/runs/{run['id']}").text, c.get("/").text):
        assert EVIL not in page and "&lt;script&gt;" in page


def test_group_picture_escapes_names():
    from graphchurn.app.web.svg import group_svg

    members = pd.DataFrame({"name": [EVIL, "b", "c"], "churn_probability": [0.9, float("nan"), 0.1],
                            "influencer": [True, False, False]})
    edges = pd.DataFrame({"src": [EVIL, "b"], "dst": ["b", "c"], "weight": [1.0, 2.0]})
    svg = group_svg(members, edges, link_prefix="/runs/x/customers/")
    assert EVIL not in svg and svg.count("<circle") == 3 and svg.count("<line") == 2
    assert "%3Cscript%3E" in svg  # the link is URL-encoded


@pytest.mark.parametrize("body", [
    {"budget": 1e400}, {"budget": -1}, {"budget": 1e13}, {"budget": 10, "horizon_months": 1e308},
    {"budget": 10, "horizon_months": 0}, {"budget": 10, "limit": 10**9},
    {"budget": 10, "channels": {"sms": {"cost": 1, "effect": 2}}},
])
def test_bounded_numbers_give_422(workspace, two_runs, body):
    client, tokens, _ = workspace
    raw = json.dumps(body).replace("Infinity", "1e400")
    r = client.post(f"/api/runs/{two_runs[0]['id']}/target", content=raw,
                    headers={**auth(tokens["alice"]), "Content-Type": "application/json"})
    assert r.status_code == 422


@pytest.mark.parametrize("params", [{"horizon_days": 10**9}, {"resolution": "NaN"}, {"seed": -1},
                                    {"no_such_option": 1}, {"n_train_cutoffs": 0}])
def test_bounded_run_params_give_422(workspace, world_files, params):
    client, tokens, _ = workspace
    r = upload(client, tokens["alice"], world_files, params=params, customers=False)
    assert r.status_code == 422


def test_upload_limit_gives_413(workspace):
    client, tokens, _ = workspace
    big = b"src,dst,timestamp\n" + b"a,b,2024-01-01\n" * 400_000  # > 5 MB
    r = client.post("/api/runs", files={"interactions": ("big.csv", big)}, headers=auth(tokens["alice"]))
    assert r.status_code == 413


def test_csv_cells_are_neutralised():
    assert neutralise_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert neutralise_cell("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_cell("-1+2") == "'-1+2"
    assert neutralise_cell("\tx") == "'\tx"
    assert neutralise_cell("+447700900123") == "+447700900123"
    assert neutralise_cell("-3.5") == "-3.5"
    assert neutralise_cell("07700") == "07700"


def test_docs_offline(workspace):
    client, _, _ = workspace
    c = TestClient(client.app)
    c.post("/login", data={"name": "alice", "password": PASSWORD})
    page = c.get("/docs").text
    assert "cdn" not in page.lower() and "/docs/assets/swagger-ui-bundle.js" in page
    assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert "/api/runs" in c.get("/openapi.json").json()["paths"]


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_read_only_dashboard_is_bounded_and_csv_safe(tmp_path):
    from graphchurn.app.web.app import create_app

    pd.DataFrame({"customer_id": ["=HYPERLINK(\"http://x\")", "+447700900123", "@cmd"],
                  "churn_probability": [0.9, 0.8, 0.7], "value": [50.0, 40.0, 30.0],
                  "reasons": ["-2+3", "calls down", ""]}).to_csv(tmp_path / "scores.csv", index=False)
    client = TestClient(create_app(tmp_path))
    raw = '{"budget": 1e400}'
    assert client.post("/api/target", content=raw, headers={"Content-Type": "application/json"}).status_code == 422
    assert client.post("/api/target", json={"budget": 10, "horizon_months": 1e308}).status_code == 422
    assert client.get("/api/target.csv?budget=1e400").status_code == 422
    assert client.get("/api/target.csv?budget=100&horizon_months=1e308").status_code == 422
    text = client.get("/api/target.csv?budget=1000&call_cost=1").text
    rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    ids = set(rows["customer_id"])
    assert "'=HYPERLINK(\"http://x\")" in ids and "'@cmd" in ids and "+447700900123" in ids
    assert "'-2+3" in set(rows["reasons"])


def test_cli_users_contract(tmp_path, monkeypatch, capsys):
    from graphchurn.app.cli import main

    data = tmp_path / "ws"
    # serve refuses a non-loopback address while the workspace has no users
    assert main(["serve", "--data", str(data), "--host", "0.0.0.0"]) == 2
    assert "no users" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["users", "add", "carol", "--data", str(data), "--team", "green"]) == 0
    capsys.readouterr()
    assert main(["users", "token", "carol", "--data", str(data)]) == 0
    token = capsys.readouterr().out.split()[-1]
    assert main(["users", "token", "nobody", "--data", str(data)]) == 2
    app = create_workspace(data)
    with app.state.sessionmaker() as s:  # the password is stored as a salted hash only
        from graphchurn.app.web.db import User

        stored = s.query(User).filter_by(name="carol").one().password_hash
    assert "a long password" not in stored and verify_password("a long password", stored)
    client = TestClient(app)
    assert client.get("/api/runs").status_code == 401
    r = client.get("/api/runs", headers=auth(token))
    assert r.status_code == 200 and r.json() == []
    assert client.get("/api/me", headers=auth(token)).json() == {"name": "carol", "team": "green", "admin": False}
    # an admin adds users from the API; others may not
    assert client.post("/api/users", json={"name": "dave", "password": "12345678"},
                       headers=auth(token)).status_code == 403


def test_database_url_setting(tmp_path):
    from graphchurn.app.web.db import open_database

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    Session = open_database(tmp_path / "ws", url)
    with Session() as s:
        add_user(s, "erin", "password!")
    assert (tmp_path / "elsewhere.db").is_file() and not (tmp_path / "ws" / "graphchurn.db").exists()


def test_read_only_dashboard_docs_offline(tmp_path):
    from graphchurn.app.web.app import create_app

    pd.DataFrame({"customer_id": ["a"], "churn_probability": [0.5]}).to_csv(tmp_path / "scores.csv", index=False)
    client = TestClient(create_app(tmp_path))
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/openapi-ui.json").json()["openapi"] == "3.0.3"


def test_preview_and_detected_mapping(tmp_path, world_files):
    from graphchurn.app.web.runs import guess_mapping, preview_table

    log = pd.read_csv(world_files / "interactions.csv.gz", dtype=str, nrows=50)
    foreign = log.rename(columns={"src": "Caller", "dst": "Callee", "timestamp": "Start Time"})
    foreign.to_parquet(tmp_path / "log.parquet")
    columns, rows = preview_table(tmp_path / "log.parquet", nrows=5)
    assert columns[:3] == ["Caller", "Callee", "Start Time"] and len(rows) == 5
    columns, rows = preview_table(world_files / "interactions.csv.gz", nrows=3)
    assert columns[0] == "src" and len(rows) == 3
    guess = guess_mapping(["Caller", "Callee", "Start Time", "secs"], ("src", "dst", "timestamp", "duration", "kind"))
    assert guess == {"src": "Caller", "dst": "Callee", "timestamp": "Start Time", "duration": "secs", "kind": None}


def test_page_flow_with_a_foreign_log(workspace, world_files, tmp_path):
    """Upload form -> preview with the detected mapping -> start with the mapping -> done."""
    client, tokens, _ = workspace
    log = pd.read_csv(world_files / "interactions.csv.gz", dtype=str)
    log.rename(columns={"src": "Caller", "dst": "Callee", "timestamp": "time"}).to_csv(tmp_path / "cdr.csv", index=False)
    c = TestClient(client.app)
    c.post("/login", data={"name": "alice", "password": PASSWORD})
    r = c.post("/upload", files={"interactions": ("cdr.csv", (tmp_path / "cdr.csv").read_bytes()),
                                 "customers": ("", b"")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/prepare?")
    page = c.get(r.headers["location"]).text
    assert '<option value="Caller" selected>' in page and '<option value="time" selected>' in page
    assert "customers" not in r.headers["location"]  # the empty file input is no upload
    form = {"interactions.src": "Caller", "interactions.dst": "Callee", "interactions.timestamp": "time",
            "interactions.duration": "duration", "horizon_days": "30", "n_train_cutoffs": "2", "seed": "0"}
    r = c.post(r.headers["location"], data=form, follow_redirects=False)
    assert r.status_code == 303
    run_id = r.headers["location"].rsplit("/", 1)[1]
    run = wait(client, tokens["alice"], run_id)
    assert run["status"] == "done", run["error"]
    assert run["params"]["columns"] == {"src": "Caller", "dst": "Callee", "timestamp": "time"}
    bad = c.post(f"/prepare?interactions={run['inputs'][0]['upload_id']}", data={**form, "horizon_days": "99999"})
    assert bad.status_code == 422 and "horizon_days" in bad.text


# ----------------------------------------------------------------------------- foreign formats
# A European export (semicolons, decimal commas, day-first dates, Windows-1252) runs in the
# workspace with the loaders' own options and scores exactly as its plain twin.


@pytest.fixture(scope="module")
def twin_files(tmp_path_factory):
    from test_foreign_formats import real_shaped_world, write_twin_files

    folder = tmp_path_factory.mktemp("twin")
    write_twin_files(folder, *real_shaped_world())
    return folder


FAST = {"embeddings": False, "estimator": "logistic"}


@pytest.fixture(scope="module")
def twin_runs(workspace, twin_files):
    from test_foreign_formats import FOREIGN_TWIN_OPTIONS

    client, tokens, _ = workspace

    def post(log, customers, params):
        files = {"interactions": (log, (twin_files / log).read_bytes()),
                 "customers": (customers, (twin_files / customers).read_bytes())}
        r = client.post("/api/runs", files=files, data={"params": json.dumps(params)},
                        headers=auth(tokens["alice"]))
        assert r.status_code == 202, r.text
        return r.json()["id"]

    ids = {"plain": post("plain.csv", "plain_customers.csv", FAST),
           "foreign": post("log.csv", "customers.csv", {**FAST, **FOREIGN_TWIN_OPTIONS}),
           "no options": post("log.csv", "customers.csv", FAST)}
    return {name: wait(client, tokens["alice"], run_id) for name, run_id in ids.items()}


def scores_of(client, token, run):
    assert run["status"] == "done", run["error"]
    return client.get(f"/api/runs/{run['id']}/scores.csv", headers=auth(token)).content


def test_foreign_formats_through_the_api(workspace, twin_runs):
    client, tokens, _ = workspace
    foreign = twin_runs["foreign"]
    assert {k: foreign["params"][k] for k in ("decimal", "dayfirst", "encoding")} == {
        "decimal": ",", "dayfirst": True, "encoding": "cp1252"}
    plain = scores_of(client, tokens["alice"], twin_runs["plain"])
    assert len(plain.splitlines()) > 100
    assert scores_of(client, tokens["alice"], foreign) == plain
    # the same files without the options fail, naming the option by its name in params
    bare = twin_runs["no options"]
    assert bare["status"] == "failed" and "give encoding, e.g. cp1252" in bare["error"]


@pytest.mark.parametrize("params, field", [
    ({"epoch_unit": "h"}, "epoch_unit"), ({"encoding": "nope"}, "encoding"),
    ({"encoding": "base64"}, "encoding"), ({"decimal": ";"}, "decimal"),
    ({"date_format": "dd/mm/yyyy"}, "date_format"), ({"date_format": "%d" * 51}, "date_format"),
    ({"encoding": ""}, "encoding"), ({"dayfirst": "sometimes"}, "dayfirst"),
])
def test_invalid_format_options_give_422_naming_the_field(workspace, world_files, params, field):
    client, tokens, _ = workspace
    r = upload(client, tokens["alice"], world_files, params=params, customers=False)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [[field]]
    assert "input" not in detail[0]  # never echoed
    if detail[0]["type"] == "value_error":  # the loaders' own check (read_format) said why
        assert detail[0]["msg"].startswith(f"Value error, {field}: ")


def test_page_flow_with_foreign_formats(workspace, twin_files, twin_runs):
    """Upload a cp1252 pair -> the preview says how to read it -> re-read with the encoding ->
    start with the format options -> the plain twin's scores."""
    client, tokens, _ = workspace
    c = TestClient(client.app)
    c.post("/login", data={"name": "alice", "password": PASSWORD})
    r = c.post("/upload", files={"interactions": ("log.csv", (twin_files / "log.csv").read_bytes()),
                                 "customers": ("customers.csv", (twin_files / "customers.csv").read_bytes())},
               follow_redirects=False)
    prepare = r.headers["location"]
    page = c.get(prepare).text
    assert "log.csv: cannot preview, the text is not UTF-8" in page  # its first id holds an é
    for control in ('<select name="decimal">', 'name="dayfirst"', 'name="date_format"',
                    '<select name="epoch_unit">', 'name="encoding"', 'id="reread" formmethod="get"'):
        assert control in page
    # "Re-read the preview" is a GET of the same form: the ids travel as hidden fields
    form = {"interactions": prepare.split("interactions=")[1].split("&")[0],
            "customers": prepare.split("customers=")[1].split("&")[0],
            "decimal": ",", "dayfirst": "1", "encoding": "cp1252", "estimator": "logistic"}
    assert f'name="interactions" value="{form["interactions"]}"' in page
    page = c.get("/prepare", params=form).text
    assert "cannot preview" not in page and "é" in page
    assert '<option value="src" selected>' in page and '<option value="customer_id" selected>' in page
    assert ('<option value="," selected>' in page and 'name="dayfirst" value="1" checked' in page
            and 'value="cp1252"' in page)
    assert c.get("/prepare", params={**form, "encoding": "nope"}).status_code == 422
    bad = c.post(prepare, data={**form, "epoch_unit": "h"})
    assert bad.status_code == 422 and "epoch_unit" in bad.text
    r = c.post(prepare, data=form, follow_redirects=False)
    assert r.status_code == 303
    run = wait(client, tokens["alice"], r.headers["location"].rsplit("/", 1)[1])
    assert run["params"]["encoding"] == "cp1252" and run["params"]["dayfirst"] is True
    assert scores_of(client, tokens["alice"], run) == scores_of(client, tokens["alice"], twin_runs["plain"])
