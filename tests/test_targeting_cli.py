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


def _history_case(tmp_path):
    """Scores, customers and a two-campaign history whose learned effect is computable by hand.

    Campaign 1 calls a-d (e-h are the control group), campaign 2 the reverse. Eight customers
    are too few for the learners to split on an attribute (30 per leaf), so every prediction
    is a share of all rows: uplift = called who stayed (7 of 8) - controls who stayed (5 of 8)
    = 0.25, control churn q = 3/8, learned effect = 0.25 / 0.375 = 2/3 for everyone.
    """
    scores = tmp_path / "scores.csv"
    ids = list("abcdefgh")
    pd.DataFrame({"customer_id": ids, "churn_probability": [0.5, 0.1] + [0.05] * 6,
                  "value": [10.0, 40.0] + [1.0] * 6}).to_csv(scores, index=False)
    customers = tmp_path / "customers.csv"
    pd.DataFrame({"customer_id": ids, "age": [25, 60, 33, 47, 52, 29, 38, 71]}).to_csv(
        customers, index=False)
    history = tmp_path / "history.csv"
    churned = {("2025-01-10", "a"), ("2025-01-10", "e"), ("2025-01-10", "f"),
               ("2025-02-10", "b")}
    rows = []
    for date, called in (("2025-01-10", "abcd"), ("2025-02-10", "efgh")):
        for c in ids:
            rows.append({"customer_id": c, "contact_date": date,
                         "offer": "call" if c in called else "none",
                         "outcome": int((date, c) in churned)})
    pd.DataFrame(rows).to_csv(history, index=False)
    return scores, customers, history


CALL = '{"call": {"cost": 2, "effect": 0.3}}'


def test_history_ranks_by_learned_effect_instead_of_the_assumed_one(tmp_path, capsys):
    # One call (cost 2), 1 month of value:
    #   assumed effect 0.3: a 0.5 * 0.3 * 10 = 1.5 < 2, b 0.1 * 0.3 * 40 = 1.2: nobody.
    #   learned effect 2/3 (docstring of _history_case): a 0.5 * 2/3 * 10 = 3.33 (net 1.33),
    #   b 0.1 * 2/3 * 40 = 2.67 (net 0.67), the others 0.05 * 2/3 * 1 -> a.
    scores, customers, history = _history_case(tmp_path)
    base = ["target", "--scores", str(scores), "--budget", "2", "--channels", CALL,
            "--months", "1", "--customers", str(customers)]
    out = tmp_path / "risk.csv"
    assert main(base + ["--out", str(out)]) == 0
    assert pd.read_csv(out).empty
    capsys.readouterr()
    out = tmp_path / "uplift.csv"
    assert main(base + ["--history", str(history), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "uplift learned from 16 past contacts in 2 campaign(s)" in printed
    assert "Qini" in printed
    actions = pd.read_csv(out)
    assert actions["customer_id"].tolist() == ["a"]
    assert actions["action"].tolist() == ["call"]
    assert actions["expected_saving_own"].iloc[0] == pytest.approx(10 / 3, abs=1e-6)
    assert "learned effect 67%" in actions["reason"].iloc[0]


def test_history_without_a_control_group_falls_back_and_says_so(tmp_path, capsys):
    scores, customers, history = _history_case(tmp_path)
    frame = pd.read_csv(history)
    frame[frame["offer"] != "none"].to_csv(history, index=False)
    out = tmp_path / "a.csv"
    assert main(["target", "--scores", str(scores), "--budget", "2", "--channels",
                 '{"call": {"cost": 1, "effect": 0.3}}', "--months", "1", "--customers",
                 str(customers), "--history", str(history), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "control group" in printed and "risk x assumed effect" in printed
    actions = pd.read_csv(out)
    # a: 0.5 * 0.3 * 10 = 1.5, b: 0.1 * 0.3 * 40 = 1.2 (both above the cost of 1)
    assert actions["customer_id"].tolist() == ["a", "b"]
    assert actions["expected_saving_own"].tolist() == pytest.approx([1.5, 1.2])
    assert "assumed effect 30%" in actions["reason"].iloc[0]


@pytest.mark.parametrize("edit, where", [
    (lambda f: f.assign(outcome=f["outcome"].where(f.index != 2, 2)), "row 3, column 'outcome'"),
    (lambda f: f.assign(contact_date=f["contact_date"].where(f.index != 4, "10/01/2025x")),
     "row 5, column 'contact_date'"),
    (lambda f: f.drop(columns="offer"), "column 'offer'"),
    (lambda f: pd.concat([f, f.iloc[[0]]]), "row 17, column 'customer_id'"),
])
def test_a_bad_history_file_is_a_one_line_error_naming_row_and_column(tmp_path, capsys, edit,
                                                                        where):
    scores, customers, history = _history_case(tmp_path)
    edit(pd.read_csv(history)).to_csv(history, index=False)
    assert main(["target", "--scores", str(scores), "--budget", "1", "--customers",
                 str(customers), "--history", str(history), "--out", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(history) in err and where in err
    assert not (tmp_path / "a.csv").exists()


def test_history_needs_the_customer_table(tmp_path, capsys):
    scores, _, history = _history_case(tmp_path)
    assert main(["target", "--scores", str(scores), "--budget", "1", "--history", str(history),
                 "--out", str(tmp_path / "a.csv")]) == 2
    assert "--customers" in capsys.readouterr().err
