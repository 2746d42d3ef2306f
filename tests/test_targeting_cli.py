"""`graphchurn target` with offers and flags (issue 24, item 2)."""

import json

import pandas as pd
import pytest

from graphchurn.app.cli import main


@pytest.fixture
def scores(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame({"customer_id": ["a", "b", "c"], "churn_probability": [0.5, 0.4, 0.2],
                  "value": [20.0, 10.0, None]}).to_csv(path, index=False)
    return path


def test_offers_write_one_action_per_customer(tmp_path, scores, capsys):
    offers = tmp_path / "offers.json"
    offers.write_text(json.dumps({"offers": {
        "sms": {"channel": "sms", "cost": 0.1, "effect": 0.05},
        "call": {"channel": "call", "cost": 1.0, "effect": 0.3, "capacity": 1},
        "discount": {"channel": "call", "cost": 2.0, "effect": 0.5,
                     "eligible": [{"column": "value", "op": ">=", "value": 15}]}}}))
    out = tmp_path / "actions.csv"
    # c has no value: --default-value 50 makes it the hand case of test_targeting_actions
    rc = main(["target", "--scores", str(scores), "--budget", "3.2", "--offers", str(offers),
               "--default-value", "50", "--months", "1", "--out", str(out)])
    assert rc == 0
    actions = pd.read_csv(out)
    assert list(actions.columns)[:7] == ["customer_id", "action", "channel", "expected_saving_own",
                                         "expected_saving_followers", "cost", "net_saving"]
    assert dict(zip(actions["customer_id"], actions["action"])) == {"a": "call", "b": "sms",
                                                                    "c": "discount"}
    assert actions["cost"].sum() == pytest.approx(3.1)
    printed = capsys.readouterr().out
    assert "no contagion effect available" in printed


def test_without_a_log_the_list_falls_back_to_own_saving_and_says_so(tmp_path, scores, capsys):
    out = tmp_path / "contacts.csv"
    assert main(["target", "--scores", str(scores), "--budget", "2", "--out", str(out),
                 "--months", "6", "--default-value", "10"]) == 0
    assert "saving is the customer's own" in capsys.readouterr().out
    contacts = pd.read_csv(out)
    assert contacts["expected_saving"].max() == pytest.approx(0.5 * 0.2 * 20 * 6)


def test_bad_offers_file_is_a_one_line_error(tmp_path, scores, capsys):
    bad = tmp_path / "offers.json"
    bad.write_text('{"offers": {"x": {"cost": 1}}}')
    assert main(["target", "--scores", str(scores), "--budget", "2", "--offers", str(bad),
                 "--out", str(tmp_path / "a.csv")]) == 2
    assert "effect" in capsys.readouterr().err
