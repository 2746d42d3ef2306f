"""The command-line contract, end to end on a small generated world."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from graphchurn.app.cli import main
from graphchurn.synth.world import generate_world, write_world

SCORE_COLUMNS = ["customer_id", "churn_probability", "risk_rank", "community",
                 "influencer_score", "susceptibility", "reasons"]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    world = generate_world(n_customers=500, days=100, seed=11)
    write_world(world, out)
    # A customer who never called anyone must still get a score.
    customers = pd.read_csv(out / "customers.csv", dtype=str)
    silent = customers.iloc[[0]].copy()
    silent["customer_id"] = "+440000000000"
    silent["churn_date"] = ""
    pd.concat([customers, silent]).to_csv(out / "customers.csv", index=False)
    return out


@pytest.fixture(scope="module")
def analyzed(world_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    code = main(["-q", "analyze", "--interactions", str(world_dir / "interactions.csv.gz"),
                 "--customers", str(world_dir / "customers.csv"), "--no-embeddings",
                 "--out", str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_analyze_writes_the_contract(analyzed, world_dir):
    for name in ["scores.csv", "groups.csv", "influencers.csv", "metrics.json", "report.html"]:
        assert (analyzed / name).stat().st_size > 0
    scores = pd.read_csv(analyzed / "scores.csv", dtype={"customer_id": str}, keep_default_na=False)
    assert list(scores.columns[:7]) == SCORE_COLUMNS
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["risk_rank"].tolist() == list(range(1, len(scores) + 1))
    assert scores["churn_probability"].is_monotonic_decreasing
    # Every customer of the table still active at as-of is scored, the silent one included,
    # and nobody else (off-net numbers never are).
    customers = pd.read_csv(world_dir / "customers.csv", dtype=str, keep_default_na=False)
    as_of = pd.Timestamp(json.loads((analyzed / "metrics.json").read_text())["as_of"])
    churn = pd.to_datetime(customers["churn_date"].replace("", None))
    active = set(customers.loc[churn.isna() | (churn > as_of), "customer_id"])
    assert set(scores["customer_id"]) == active
    assert "+440000000000" in active
    assert (scores["reasons"].str.len() > 0).mean() > 0.9

    groups = pd.read_csv(analyzed / "groups.csv")
    assert {"community", "size", "expected_churners", "value_at_risk", "top_influencers"} <= set(groups.columns)
    assert groups["expected_churners"].sum() == pytest.approx(scores["churn_probability"].sum(), rel=1e-3)
    metrics = json.loads((analyzed / "metrics.json").read_text())
    for key in ["roc_auc", "pr_auc", "lift_top_decile", "emp", "baseline_rfm_logistic",
                "mean_probability", "log_loss", "level_shift"]:
        assert key in metrics
    # The stored settings are the ones that ran, defaults resolved, not the nulls typed.
    config = metrics["config"]
    assert pd.Timestamp(config["as_of"]) == as_of and config["definition"] == "contract"
    assert config["active_window_days"] == config["train_cutoff_step_days"] == 30
    assert not [p.name for p in analyzed.iterdir() if p.name.startswith(".")]  # no staging left
    html = (analyzed / "report.html").read_text()
    assert html.count("<svg role=\"img\"") >= 3 and "<img" not in html and "http://" not in html


@pytest.mark.slow
def test_analyze_options_reach_the_config():
    from graphchurn.app.cli import _config, build_parser

    base = ["analyze", "--interactions", "log.csv", "--out", "out"]
    args = build_parser().parse_args(base)
    assert _config(args, None).pooled_churn_rate is False
    args = build_parser().parse_args(base + ["--pooled-churn-rate", "--train-cutoffs", "3"])
    cfg = _config(args, None)
    assert cfg.pooled_churn_rate is True and cfg.n_train_cutoffs == 3


@pytest.mark.slow
def test_same_seed_same_scores_in_another_process(world_dir, analyzed, tmp_path):
    # A fresh process: solver noise in the last bits must not change any output.
    result = run_cli("-q", "analyze", "--interactions", str(world_dir / "interactions.csv.gz"),
                     "--customers", str(world_dir / "customers.csv"), "--no-embeddings",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ["scores.csv", "groups.csv", "influencers.csv"]:
        assert (tmp_path / name).read_text() == (analyzed / name).read_text(), name


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "graphchurn", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", ["missing", "empty", "as_of", "horizon", "column"])
def test_bad_input_is_one_line_and_exit_2(case, world_dir, tmp_path):
    log = str(world_dir / "interactions.csv.gz")
    args = {
        "missing": ["--interactions", str(tmp_path / "nope.csv")],
        "empty": ["--interactions", str(_write(tmp_path / "empty.csv", ""))],
        "as_of": ["--interactions", log, "--as-of", "next tuesday"],
        "horizon": ["--interactions", log, "--horizon", "-5"],
        "column": ["--interactions", str(_write(tmp_path / "x.csv", "a,b,timestamp\n1,2,2025-01-01\n"))],
    }[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.csv").write_text("previous run\n")
    result = run_cli("analyze", *args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert (out / "scores.csv").read_text() == "previous run\n"  # nothing overwritten


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        return stop.code


@pytest.mark.parametrize("option, value", [
    ("--horizon", "100000"), ("--window", "10000000"), ("--active-window", "9999999"),
    ("--train-cutoff-step", "10000000"), ("--resolution", "0"), ("--resolution", "nan"),
    ("--seed", "-1"), ("--seed", str(2**32)), ("--jobs", "0"), ("--jobs", "two"),
])
def test_out_of_range_options_are_one_line_errors(option, value, world_dir, tmp_path, capsys):
    code = _exit_code(["analyze", "--interactions", str(world_dir / "interactions.csv.gz"),
                       option, value, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and option in err
    assert not (tmp_path / "out").exists()


def test_quiet_is_accepted_before_and_after_the_subcommand():
    from graphchurn.app.cli import build_parser

    parser = build_parser()
    tail = ["--scores", "s.csv", "--budget", "1", "--out", "c.csv"]
    assert parser.parse_args(["-q", "target", *tail]).quiet is True
    assert parser.parse_args(["target", *tail, "-q"]).quiet is True
    assert parser.parse_args(["target", *tail]).quiet is False


@pytest.mark.slow
def test_each_column_option_maps_its_own_file(world_dir, tmp_path, capsys):
    log = str(world_dir / "interactions.csv.gz")
    code = _exit_code(["analyze", "--interactions", log, "--columns", "customer_id=id",
                       "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--columns" in err and "use --customer-columns" in err
    code = _exit_code(["analyze", "--interactions", log, "--customers",
                       str(world_dir / "customers.csv"), "--customer-columns", "src=a",
                       "--out", str(tmp_path)])
    assert code == 2 and "use --columns" in capsys.readouterr().err
    # A customer table without customer_id: the hint names the option that maps it.
    bad = _write(tmp_path / "c.csv", "msisdn,churn_date\nx,\n")
    code = _exit_code(["analyze", "--interactions", log, "--customers", str(bad),
                       "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--customer-columns customer_id=NAME" in err


@pytest.mark.slow
def test_more_training_cutoffs_than_the_log_reaches_are_dropped(world_dir, tmp_path):
    # A huge count used to step cut-offs past the dates pandas can hold; only reachable ones run.
    assert main(["-q", "analyze", "--interactions", str(world_dir / "interactions.csv.gz"),
                 "--customers", str(world_dir / "customers.csv"), "--no-embeddings",
                 "--train-cutoffs", "10000000", "--out", str(tmp_path)]) == 0
    cutoffs = json.loads((tmp_path / "metrics.json").read_text())["training_cutoffs"]
    assert 1 <= len(cutoffs) < 10


def test_out_that_is_a_file_fails_before_any_work(world_dir, tmp_path, capsys):
    taken = _write(tmp_path / "taken", "keep me\n")
    for out in (taken, taken / "sub"):
        code = _exit_code(["analyze", "--interactions", str(tmp_path / "missing.csv"),
                           "--out", str(out)])
        # --out is checked first: the missing log is not even looked at.
        assert code == 2 and "--out" in capsys.readouterr().err
    assert taken.read_text() == "keep me\n"
    # The same for target's file and watch's events, and for serve's directory.
    assert _exit_code(["target", "--scores", str(tmp_path), "--budget", "1",
                       "--out", str(taken / "c.csv")]) == 2
    assert f"cannot be created: {taken} is a file" in capsys.readouterr().err
    assert _exit_code(["watch", "--interactions", str(tmp_path / "missing.csv"),
                       "--events", str(tmp_path / "no-events.csv")]) == 2
    assert "no-events.csv: no such file" in capsys.readouterr().err
    assert _exit_code(["serve", "--dir", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "no scores.csv here" in err and "Traceback" not in err


def test_target_rejects_bad_channels_json_and_a_directory_out(analyzed, tmp_path, capsys):
    code = _exit_code(["target", "--scores", str(analyzed), "--budget", "5",
                       "--channels", "notjson", "--out", str(tmp_path / "c.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "--channels" in err and "Traceback" not in err
    code = _exit_code(["target", "--scores", str(analyzed), "--budget", "5", "--out", str(tmp_path)])
    assert code == 2 and "is a directory" in capsys.readouterr().err
    code = _exit_code(["target", "--scores", str(analyzed), "--budget", "nan",
                       "--out", str(tmp_path / "c.csv")])
    assert code == 2 and "--budget" in capsys.readouterr().err


def _write(path, text):
    path.write_text(text)
    return path


def test_whatif_without_history_puts_the_leavers_group_first(tmp_path):
    # Two tight groups of four joined by one weak tie; two weeks of calls, nobody has left.
    rows = []
    groups = [["a1", "a2", "a3", "a4"], ["b1", "b2", "b3", "b4"], ["c1", "c2", "c3", "c4"]]
    for day in range(14):
        for g in groups:
            for i, u in enumerate(g):
                for v in g[i + 1:]:
                    rows.append((u, v, f"2025-03-{day + 1:02d}T10:00:00", 60))
    rows.append(("a4", "b1", "2025-03-05T12:00:00", 5))
    log = pd.DataFrame(rows, columns=["src", "dst", "timestamp", "duration"])
    log.to_csv(tmp_path / "log.csv", index=False)
    result = run_cli("whatif", "--interactions", str(tmp_path / "log.csv"), "--leaves", "a2",
                     "--no-embeddings", "--out", str(tmp_path / "w"))
    assert result.returncode == 0, result.stderr
    alerts = pd.read_csv(tmp_path / "w" / "alerts.csv")
    at_risk = pd.read_csv(tmp_path / "w" / "at_risk.csv")
    assert "structural prior" in json.loads((tmp_path / "w" / "whatif.json").read_text())["source"]
    leaver_group = alerts.iloc[0]["community"]
    assert set(at_risk.loc[at_risk["community"] == leaver_group, "customer_id"]) == {"a1", "a3", "a4"}
    assert "a2" not in set(at_risk["customer_id"])
    # The prior's exposure reaches direct contacts only: the b and c groups are unchanged,
    # so they are not alerts.
    assert len(alerts) == 1 and alerts.iloc[0]["increase"] > 0

    # A leaver who already left (churn_date before as-of) is warned about, by count only.
    _write(tmp_path / "customers.csv", "customer_id,churn_date\n" + "".join(
        f"{c},{'2025-03-10' if c == 'c2' else ''}\n" for g in groups for c in g))
    result = run_cli("whatif", "--interactions", str(tmp_path / "log.csv"), "--customers",
                     str(tmp_path / "customers.csv"), "--leaves", "c2", "--no-embeddings",
                     "--out", str(tmp_path / "w3"))
    assert result.returncode == 0, result.stderr
    assert "1 of 1 leaver(s) are not current customers" in result.stderr
    _write(tmp_path / "late.csv", "c2,2025-03-16\n")
    result = run_cli("watch", "--interactions", str(tmp_path / "log.csv"), "--customers",
                     str(tmp_path / "customers.csv"), "--events", str(tmp_path / "late.csv"),
                     "--no-embeddings")
    assert result.returncode == 0, result.stderr
    assert "not a current customer" in json.loads(result.stdout)["note"]

    # An unknown leaver is a one-line error naming the option, never echoing the id.
    result = run_cli("whatif", "--interactions", str(tmp_path / "log.csv"), "--leaves", "+449999",
                     "--no-embeddings", "--out", str(tmp_path / "w2"))
    assert result.returncode == 2 and "+449999" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    # Watch mode on the same log: one JSON line per departure.
    events = tmp_path / "events.csv"
    events.write_text("customer_id,date\na2,2025-03-16\nb3,2025-03-17\n")
    result = run_cli("watch", "--interactions", str(tmp_path / "log.csv"), "--events", str(events),
                     "--no-embeddings")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["event"] for r in records] == [1, 2]  # data rows: the header is not counted
    assert records[0]["alerts"][0]["community"] == leaver_group
    assert all("note" not in r for r in records)
    increase = records[0]["alerts"][0]["increase"]
    assert increase > 0 and len(repr(increase).lstrip("0.").replace(".", "")) <= 10

    # A bad event is reported on its row and skipped; the stream goes on; exit 2 at the end.
    events.write_text("customer_id,date\na2,2025-03-16\nnot a row\n+449999,2025-03-17\n"
                      "a2,2025-03-18\nb3,2025-03-19\n")
    result = run_cli("watch", "--interactions", str(tmp_path / "log.csv"), "--events", str(events),
                     "--no-embeddings", "-q")
    assert result.returncode == 2
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["event"] for r in records] == [1, 4, 5]
    assert "already registered" in records[1]["note"] and records[1]["alerts"] == []
    errors = result.stderr.strip().splitlines()
    assert "row 2" in errors[0] and "row 3" in errors[1] and "2 event(s) skipped" in errors[2]
    assert "+449999" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_target_fits_the_budget(analyzed, tmp_path):
    out = tmp_path / "contacts.csv"
    assert main(["-q", "target", "--scores", str(analyzed), "--budget", "25", "--out", str(out)]) == 0
    contacts = pd.read_csv(out)
    assert 0 < contacts["cost"].sum() <= 25 + 1e-9
    assert set(contacts["channel"]) <= {"sms", "email", "call"}


def test_generate_writes_a_world(tmp_path):
    assert main(["-q", "generate", "--customers", "150", "--days", "30", "--seed", "2",
                 "--out", str(tmp_path)]) == 0
    customers = pd.read_csv(tmp_path / "customers.csv")
    assert len(customers) == 150
    assert (tmp_path / "interactions.csv.gz").exists() and (tmp_path / "truth.csv").exists()


def test_an_interrupt_says_so_and_exits_130(monkeypatch, capsys):
    import graphchurn.app.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_generate", interrupted)
    assert main(["generate", "--out", "x"]) == 130
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("variable, default, chosen, loads", [
    # OpenMP threads (scikit-learn's boosting) wait passively instead of spinning.
    ("OMP_WAIT_POLICY", "PASSIVE", "ACTIVE", "sklearn.ensemble"),
    # OpenBLAS threads sleep after a short spin between matrix products.
    ("OPENBLAS_THREAD_TIMEOUT", "4", "20", "numpy"),
])
def test_command_line_sets_thread_waits_unless_the_user_chose(variable, default, chosen, loads):
    """The CLI sets the thread libraries' wait settings before they load, and keeps a value
    the user set."""
    import os
    import subprocess
    import sys

    code = f"import os; import graphchurn.app.cli, {loads}; print(os.environ['{variable}'])"
    env = {k: v for k, v in os.environ.items() if k != variable}
    for given, expected in ((None, default), (chosen, chosen)):
        run_env = env if given is None else {**env, variable: given}
        out = subprocess.run([sys.executable, "-c", code], env=run_env, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected
