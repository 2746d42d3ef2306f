import io
import json
import os

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from graphchurn.targeting.contact_list import contact_list
from graphchurn.errors import InputError
from graphchurn.app.web.app import create_app, load_analysis, serve

EVIL = "<script>alert(1)</script>"
CALL_ONLY = {"call": {"cost": 2.0, "effect": 0.2}}


@pytest.fixture
def analysis_dir(tmp_path):
    # call net saving (value * 12 * p * 0.2 - 2): 0701 -> 19.6, EVIL -> 94, 0703 (value missing,
    # median 20) -> 22, NA -> 7.6
    pd.DataFrame({
        "customer_id": ["0701", EVIL, "0703", "NA"],
        "churn_probability": [0.9, 0.8, 0.5, 0.2],
        "risk_rank": [1, 2, 3, 4],
        "community": [0, 1, 1, 0],
        "influencer_score": [0.2, 0.9, 0.1, 0.0],
        "susceptibility": [0.7, 0.5, 0.4, 0.1],
        "reasons": ["calls down", "friends left; calls & SMS down", "", "new"],
        "value": [10.0, 50.0, np.nan, 20.0],
    }).to_csv(tmp_path / "scores.csv", index=False)
    pd.DataFrame({
        "community": [0, 1], "size": [2, 2], "expected_churners": [1.1, 1.3],
        "value_at_risk": [13.0, 40.0], "top_influencers": ["0701", EVIL],
    }).to_csv(tmp_path / "groups.csv", index=False)
    pd.DataFrame({
        "customer_id": [EVIL, "0701"], "community": [1, 0], "influencer_score": [0.9, 0.2],
        "pagerank": [0.3, 0.2], "influence_spread": [2.5, 1.2], "role": ["leader", "member"],
    }).to_csv(tmp_path / "influencers.csv", index=False)
    metrics = {"cutoff": "2024-03-01", "as_of": "2024-03-31", "horizon_days": 30, "definition": "contract", "n": 4,
               "base_rate": 0.25, "roc_auc": 0.8766, "pr_auc": 0.5, "lift_top_decile": 2.0,
               "emp": 0.4, "emp_fraction": 0.1, "notes": ["tiny"]}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "report.html").write_text("<!DOCTYPE html><html><body>the report</body></html>")
    return tmp_path


@pytest.fixture
def client(analysis_dir):
    return TestClient(create_app(analysis_dir))


def test_dashboard_shows_metrics_groups_form_and_links(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    text = r.text
    assert "0.877" in text and "ROC AUC" in text
    # scored at as-of; the metrics are labelled as the backtest's, on the cut-off
    assert "scored at 2024-03-01" not in text.lower()
    assert 'class="sub">Scored 4 customers at as-of 2024-03-31 (churn within the next 30 days' in text
    scoring, backtest = text.split("Groups at risk")[0].split("<h2>Model quality on the backtest</h2>")
    assert "customers scored" in scoring and "ROC AUC" not in scoring
    assert "Backtest on cut-off 2024-03-01 (n=4, churn rate 25.0%)" in backtest and "0.877" in backtest
    assert 'name="budget"' in text and 'name="call_cost"' in text and 'name="sms_effect"' in text
    assert 'href="report.html"' in text
    assert "<script" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "http://" not in text and "https://" not in text
    groups_html = text.split("Groups at risk")[1].split("Plan a retention campaign")[0]
    # most expected churners first, one decimal (a count), churn rate and influencers in words
    assert groups_html.index('<td class="num">1.3</td>') < groups_html.index('<td class="num">1.1</td>')
    assert "expected churn rate" in groups_html and '<td class="num">65.0%</td>' in groups_html
    assert "influencers" in groups_html
    assert "Download the contact list" not in text  # no budget yet, no list


def test_dashboard_keeps_large_and_fine_numbers_exact(client):
    text = client.get("/", params={"budget": 1234567.5, "sms_cost": 0.0125}).text
    assert 'name="budget" value="1234567.5"' in text and 'name="sms_cost" value="0.0125"' in text
    assert "api/target.csv?budget=1234567.5&amp;sms_cost=0.0125&amp;" in text


def test_dashboard_builds_contact_list_with_csv_link(client):
    r = client.get("/", params={"budget": 4, "sms_effect": 0, "email_effect": 0})
    assert r.status_code == 200
    plan_html = r.text.split("Plan a retention campaign")[1].split("Customers most at risk")[0]
    assert "<b>2</b> contacts" in plan_html
    assert plan_html.index("&lt;script&gt;") < plan_html.index("0703")  # priority order
    assert 'href="api/target.csv?budget=4&amp;sms_cost=0.05&amp;sms_effect=0' in plan_html
    csv = client.get("/api/target.csv?" + plan_html.split('href="api/target.csv?')[1].split('"')[0]
                     .replace("&amp;", "&"))
    assert csv.status_code == 200
    assert pd.read_csv(io.StringIO(csv.text), dtype={"customer_id": str})["customer_id"].tolist() == [EVIL, "0703"]


def test_dashboard_free_channel_list_is_in_priority_order(client):
    # SMS free, the other channels useless: net saving = p * value * 12 * 0.03 -> EVIL 14.4,
    # 0703 3.6 (median value 20), 0701 3.24, NA 1.44. Id order would be 0701, 0703, EVIL, NA.
    r = client.get("/", params={"budget": 0, "sms_cost": 0, "email_effect": 0, "call_effect": 0})
    plan_html = r.text.split("Plan a retention campaign")[1].split("Customers most at risk")[0]
    assert "<b>4</b> contacts" in plan_html and "in priority order" in plan_html
    rows = plan_html.split("in priority order")[1]
    assert rows.index("&lt;script&gt;") < rows.index("0703") < rows.index("0701") < rows.index(">NA<")
    csv = client.get("/api/target.csv", params={"budget": 0, "sms_cost": 0, "email_effect": 0,
                                                "call_effect": 0})
    frame = pd.read_csv(io.StringIO(csv.text), dtype={"customer_id": str}, keep_default_na=False)
    assert frame["customer_id"].tolist() == [EVIL, "0703", "0701", "NA"]
    assert frame["net_saving"].tolist() == pytest.approx([14.4, 3.6, 3.24, 1.44])


def test_api_target_csv_has_no_float_noise_and_matches_the_cli_format(client, analysis_dir, tmp_path):
    from graphchurn.io.atomic import write_csv

    # four SMS at 0.1: the running total 0.1 + 0.2 is 0.30000000000000004 in binary floating point
    params = {"budget": 1, "sms_cost": 0.1, "sms_effect": 0.5, "email_effect": 0, "call_effect": 0}
    r = client.get("/api/target.csv", params=params)
    assert r.status_code == 200
    assert "0.30000000000000004" not in r.text and "000000000" not in r.text
    frame = pd.read_csv(io.StringIO(r.text), dtype={"customer_id": str}, keep_default_na=False)
    assert frame["cumulative_cost"].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert r.text.splitlines()[3].split(",")[-1] == "0.3"
    # byte for byte what `graphchurn target` writes for the same list
    plan = contact_list(load_analysis(analysis_dir).scores, 1,
                        channels={"sms": (0.1, 0.5), "email": (0.01, 0.0), "call": (2.0, 0.0)})
    write_csv(plan, tmp_path / "cli.csv")
    assert r.text == (tmp_path / "cli.csv").read_text()


def test_dashboard_reports_bad_input_as_422(client):
    r = client.get("/", params={"budget": -1})
    assert r.status_code == 422
    assert "budget must be a finite number" in r.text
    assert client.get("/", params={"budget": 1, "sms_cost": "cheap"}).status_code == 422


def test_api_metrics_groups_scores(client, analysis_dir):
    assert client.get("/api/metrics").json() == json.loads((analysis_dir / "metrics.json").read_text())
    groups = client.get("/api/groups", params={"limit": 1}).json()
    assert len(groups) == 1 and groups[0]["community"] == 1 and groups[0]["top_influencers"] == EVIL
    assert client.get("/api/groups", params={"limit": 0}).status_code == 422
    scores = client.get("/api/scores", params={"limit": 2}).json()
    assert [s["customer_id"] for s in scores] == ["0701", EVIL]
    assert scores[0]["reasons"] == "calls down"
    in_zero = client.get("/api/scores", params={"community": 0}).json()
    assert [s["customer_id"] for s in in_zero] == ["0701", "NA"]  # "NA" stays an id, not a missing value
    everyone = client.get("/api/scores").json()
    assert everyone[2]["value"] is None and everyone[2]["reasons"] == ""
    assert client.get("/api/scores", params={"community": "x"}).status_code == 422


def test_api_customer_and_unknown_customer(client):
    r = client.get("/api/customers/0701")
    assert r.status_code == 200
    body = r.json()
    assert body["customer_id"] == "0701" and body["churn_probability"] == pytest.approx(0.9)
    assert body["group"]["community"] == 0 and body["group"]["size"] == 2
    assert body["influencer"]["role"] == "member"
    assert client.get("/api/customers/NA").json()["influencer"] is None
    missing = client.get("/api/customers/0799")
    assert missing.status_code == 404
    assert "0799" not in missing.text  # identifiers are never echoed


def test_api_target_matches_campaign_module(client, analysis_dir):
    r = client.post("/api/target", json={"budget": 2.0, "channels": CALL_ONLY})
    assert r.status_code == 200
    body = r.json()
    assert body["n_contacts"] == 1 and body["total_cost"] == pytest.approx(2.0)
    assert body["contacts"][0]["customer_id"] == EVIL
    assert body["contacts"][0]["net_saving"] == pytest.approx(94.0)
    assert body["channels"] == {"call": 1}
    # the same list the campaign module gives on the same scores, default channels
    r = client.post("/api/target", json={"budget": 3.0})
    expected = contact_list(load_analysis(analysis_dir).scores, 3.0)
    got = pd.DataFrame(r.json()["contacts"])
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert np.allclose(got["net_saving"], expected["net_saving"])
    assert r.json()["total_cost"] <= 3.0 + 1e-9
    limited = client.post("/api/target", json={"budget": 100.0, "limit": 1}).json()
    assert len(limited["contacts"]) == 1 and limited["n_contacts"] == 4


@pytest.mark.parametrize("body", [
    {"budget": -1},
    {},
    {"budget": "lots"},
    {"budget": 1, "channels": {"call": {"cost": 2, "effect": 1.5}}},
    {"budget": 1, "channels": {"call": {"cost": -2, "effect": 0.5}}},
    {"budget": 1, "channels": {}},
    {"budget": 1, "horizon_months": 0},
])
def test_api_target_rejects_bad_bodies(client, body):
    r = client.post("/api/target", json=body)
    assert r.status_code == 422


def test_api_target_csv(client):
    r = client.get("/api/target.csv", params={"budget": 4, "sms_effect": 0, "email_effect": 0})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(r.text), dtype={"customer_id": str})
    assert frame["customer_id"].tolist() == [EVIL, "0703"]
    assert frame["channel"].tolist() == ["call", "call"]
    assert frame["cumulative_cost"].tolist() == pytest.approx([2.0, 4.0])
    assert client.get("/api/target.csv", params={"budget": -1}).status_code == 422
    assert client.get("/api/target.csv").status_code == 422
    assert client.get("/api/target.csv", params={"budget": 1, "call_effect": 2}).status_code == 422


def test_report_is_served_and_missing_files_are_404(client, analysis_dir):
    assert client.get("/report.html").text.endswith("the report</body></html>")
    (analysis_dir / "report.html").unlink()
    (analysis_dir / "metrics.json").unlink()
    assert client.get("/report.html").status_code == 404
    assert client.get("/api/metrics").status_code == 404
    assert 'href="report.html"' not in client.get("/").text


def test_app_rereads_changed_outputs(client, analysis_dir):
    path = analysis_dir / "scores.csv"
    scores = pd.read_csv(path, dtype={"customer_id": str}, keep_default_na=False, na_values=[""])
    scores.loc[scores["customer_id"] == "NA", "risk_rank"] = 0
    scores.to_csv(path, index=False)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert client.get("/api/scores", params={"limit": 1}).json()[0]["customer_id"] == "NA"


def test_no_value_column_needs_a_default_value(analysis_dir):
    scores = pd.read_csv(analysis_dir / "scores.csv", dtype={"customer_id": str}, keep_default_na=False,
                         na_values=[""])
    scores.drop(columns="value").to_csv(analysis_dir / "scores.csv", index=False)
    client = TestClient(create_app(analysis_dir))
    r = client.post("/api/target", json={"budget": 2.0})
    assert r.status_code == 422 and "default" in r.json()["detail"]
    ok = client.post("/api/target", json={"budget": 2.0, "channels": CALL_ONLY, "default_value": 10.0})
    assert ok.json()["contacts"][0]["customer_id"] == "0701"  # highest probability when values are equal
    assert client.get("/", params={"budget": 2}).status_code == 422


def test_create_app_needs_scores(tmp_path):
    with pytest.raises(InputError):
        create_app(tmp_path)


def test_serve_runs_uvicorn_without_access_log(analysis_dir, monkeypatch):
    import uvicorn

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    serve(analysis_dir, port=8123)
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    assert calls["access_log"] is False
    assert TestClient(calls["app"]).get("/api/groups").status_code == 200
