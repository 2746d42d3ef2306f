import re

import numpy as np
import pandas as pd
import pytest

from graphchurn.app.report import (
    feature_label,
    format_number,
    html_table,
    importance_ranking,
    write_report,
    write_text_atomic,
)

EVIL = "<script>alert('x')</script>"


@pytest.fixture
def analysis():
    scores = pd.DataFrame({
        "customer_id": ["0701", EVIL, "0703", "0704"],
        "churn_probability": [0.10, 0.90, 0.55, 0.20],
        "risk_rank": [4, 1, 2, 3],
        "community": [0, 1, 1, 0],
        "influencer_score": [0.1, 0.7, 0.2, 0.0],
        "susceptibility": [0.3, 0.9, 0.5, 0.1],
        "reasons": ["few calls", "friends left; calls & SMS down", "friends left", ""],
        "value": [10.0, 20.0, np.nan, 5.0],
    })
    groups = pd.DataFrame({
        "community": [0, 1],
        "size": [2, 2],
        "expected_churners": [0.3, 1.45],
        "value_at_risk": [2.0, 18.0],
        "top_influencers": ["0701", EVIL],
    })
    metrics = {
        "cutoff": "2024-03-01", "as_of": "2024-03-31", "horizon_days": 30, "definition": "contract", "n": 400,
        "base_rate": 0.08, "roc_auc": 0.8123, "pr_auc": 0.41, "lift_top_decile": 3.2,
        "emp": 1.7, "emp_fraction": 0.12,
        "baseline_rfm_logistic": {"roc_auc": 0.7011, "pr_auc": 0.3, "lift_top_decile": 2.1},
        "notes": ["backtest <b>cut-off</b> 2024-02-01"],
    }
    lift = pd.DataFrame({"bucket": np.arange(1, 11), "lift": np.linspace(3.2, 0.1, 10),
                         "cumulative_gain": np.linspace(0.32, 1.0, 10)})
    calibration = pd.DataFrame({"mean_predicted": [0.05, 0.3, 0.7], "observed_rate": [0.04, 0.33, 0.6],
                                "count": [300, 70, 30]})
    importance = pd.Series({"calls_last_week": 0.3, "departed_neighbours": 0.5, "tenure": -0.1})
    return dict(scores=scores, groups=groups, metrics=metrics, lift=lift, calibration=calibration,
                importance=importance)


def _charts(text):
    """The inline SVG charts of a report, by their aria-label (the alt text)."""
    return dict(re.findall(r'<svg role="img" aria-label="([^"]*)"[^>]*>(.*?)</svg>', text, flags=re.S))


def _texts(svg, cls):
    """(x, y, text) of the <text class="cls"> elements of an SVG, in document order."""
    return [(float(x), float(y), t) for x, y, t in
            re.findall(rf'<text class="{cls}" x="([-0-9.]+)" y="([-0-9.]+)"[^>]*>([^<]*)</text>', svg)]


def _axis_labels(svg, axis):
    """The tick labels of the "axis x" / "axis y" group of an SVG (and whether it is a log axis)."""
    match = re.search(rf'<g class="axis {axis}( log)?">(.*?)</g>', svg, flags=re.S)
    return _texts(match.group(2), "tick"), bool(match.group(1))


def test_report_is_self_contained_with_embedded_charts(tmp_path, analysis):
    path = write_report(tmp_path / "sub" / "report.html", **analysis,
                        graph_summary={"vertices": 1234, "mean_degree": 3.14159}, notes=["sample & demo"])
    assert path == tmp_path / "sub" / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    # nothing fetched from anywhere: no URLs, no external scripts/styles/fonts
    assert "http://" not in text and "https://" not in text
    assert not re.search(r'(src|href)\s*=\s*"(?!data:)', text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    charts = _charts(text)
    # lift+gains, calibration, importance, risk histogram: inline SVG, no image to fetch or decode
    assert list(charts) == ["lift chart", "calibration chart", "feature importance chart", "risk distribution"]
    assert text.count("<svg") == 4 and "<img" not in text and "data:" not in text
    assert "xmlns" not in text and "<script" not in text
    for title in ("Lift", "Cumulative gains", "Calibration", "What drives the predictions", "Risk distribution"):
        assert f'font-weight="600">{title}</text>' in text
    assert "<figcaption>Backtest: how many more churners the top risk buckets held" in text
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["report.html"]  # no temp left


def test_report_escapes_data_and_shows_headline_tables(tmp_path, analysis):
    text = write_report(tmp_path / "r.html", **analysis, notes=["<i>mind</i> the gap"]).read_text()
    assert "<script" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "<b>cut-off</b>" not in text and "&lt;b&gt;cut-off&lt;/b&gt;" in text
    assert "&lt;i&gt;mind&lt;/i&gt; the gap" in text
    assert "calls &amp; SMS down" in text
    # headline numbers and the baseline comparison
    assert "0.812" in text and "0.701" in text and "ROC AUC" in text
    assert "Scored 4 customers at as-of 2024-03-31 (churn within the next 30 days" in text
    # ids stay strings: the leading zero survives
    assert "0701" in text
    # groups ordered by expected churners: community 1 (1.45) before community 0 (0.3)
    groups_html = text.split("Groups at risk")[1].split("Customers most at risk")[0]
    assert groups_html.index('<td class="num">1.5</td>') < groups_html.index('<td class="num">0.3</td>')
    # customers ordered by risk rank: the evil id (rank 1) before 0703 (rank 2) before 0701 (rank 4)
    cust_html = text.split("Customers most at risk")[1]
    assert cust_html.index("&lt;script") < cust_html.index("0703") < cust_html.index("0701")
    # expected churners card = sum of probabilities = 1.75, one decimal (a count)
    assert '<div class="v">1.8</div><div class="k">expected churners</div>' in text


def test_report_without_optional_parts(tmp_path, analysis):
    text = write_report(tmp_path / "r.html", scores=analysis["scores"], groups=analysis["groups"].iloc[:0],
                        metrics={}).read_text()
    assert list(_charts(text)) == ["risk distribution"]  # only the histogram, drawn from the scores
    assert "no groups" in text
    assert "Interaction graph" not in text and "Notes" not in text


def test_gains_only_lift_table_is_drawn(tmp_path, analysis):
    gains = pd.DataFrame({"bucket": [1, 2, 3, 4], "captured": [0.5, 0.7, 0.9, 1.0]})
    text = write_report(tmp_path / "r.html", scores=analysis["scores"], groups=analysis["groups"],
                        metrics={}, lift=gains).read_text()
    assert list(_charts(text)) == ["lift chart", "risk distribution"]
    lift = _charts(text)["lift chart"]
    assert "Cumulative gains" in lift and ">Lift</text>" not in lift


def test_model_table_shapes_are_drawn(tmp_path, analysis):
    # the column names graphchurn.model.lift_curve / calibration_table use
    lift = pd.DataFrame({"bin": [1, 2, 3], "fraction": [0.1, 0.5, 1.0], "lift": [3.0, 1.0, 0.5],
                         "cumulative_lift": [3.0, 1.4, 1.0], "captured": [0.3, 0.7, 1.0]})
    calibration = pd.DataFrame({"bin": [1, 2], "customers": [90, 10], "mean_predicted": [0.1, 0.6],
                                "observed_rate": [0.12, 0.5]})
    text = write_report(tmp_path / "r.html", scores=analysis["scores"], groups=analysis["groups"], metrics={},
                        lift=lift, calibration=calibration).read_text()
    assert list(_charts(text)) == ["lift chart", "calibration chart", "risk distribution"]
    unusable = pd.DataFrame({"bin": [1], "something": [2.0]})
    text = write_report(tmp_path / "r.html", scores=analysis["scores"], groups=analysis["groups"], metrics={},
                        lift=unusable, calibration=unusable).read_text()
    assert list(_charts(text)) == ["risk distribution"]


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.html"
    write_text_atomic(target, "old")
    with pytest.raises(TypeError):
        write_text_atomic(target, 12345)  # not text: fails after the temp file was opened
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_format_number_and_table_escaping():
    assert format_number(12345) == "12,345"
    assert format_number(0.12345) == "0.123"
    assert format_number(2.0) == "2"
    assert format_number(float("nan")) == "–"
    assert format_number(None) == "–"
    assert format_number(12345.678) == "12,346"
    table = html_table(pd.DataFrame({"a<b": ["<x>"], "n": [1.5]}))
    assert "<th>a&lt;b</th>" in table and "<td>&lt;x&gt;</td>" in table and '<td class="num">1.50</td>' in table
    assert "nothing" in html_table(pd.DataFrame({"a": []}))


def _between(text, start, end):
    return text.split(start, 1)[1].split(end, 1)[0]


def test_headline_says_scored_at_as_of_and_labels_the_backtest_cutoff(tmp_path, analysis):
    metrics = dict(analysis["metrics"], estimator="ensemble",
                   backtest="trained on cut-offs 2024-01-31, 2024-01-01")
    text = write_report(tmp_path / "r.html", **dict(analysis, metrics=metrics)).read_text()
    # customers are scored at as-of, never "at" the backtest cut-off
    assert "scored at 2024-03-01" not in text.lower()
    assert 'class="sub">Scored 4 customers at as-of 2024-03-31 (churn within the next 30 days, ' \
           'contract churn definition)' in text
    headline = _between(text, "<h2>Headline</h2>", "<h2>Charts</h2>")
    scoring, backtest = headline.split("Model quality on the backtest")
    assert "customers scored" in scoring and "ROC AUC" not in scoring and "2024-03-01" not in scoring
    assert ("Backtest on cut-off 2024-03-01 (n=400, churn rate 8.0%, ensemble model); trained on "
            "cut-offs 2024-01-31, 2024-01-01") in backtest
    assert "0.812" in backtest and "ROC AUC" in backtest
    assert "Model against the RFM-only logistic baseline on the same backtest" in backtest
    assert "0.701" in backtest


def test_each_note_is_shown_once(tmp_path, analysis):
    # the pipeline passes its notes both inside metrics.json and as notes=
    note = "GraphSAGE embeddings (8 dimensions, link objective) fitted on the graph before 2024-03-01"
    metrics = dict(analysis["metrics"], notes=[note, "second"])
    text = write_report(tmp_path / "r.html", **dict(analysis, metrics=metrics),
                        notes=[note, "second", "extra"]).read_text()
    notes_html = text.split("<h2>Notes</h2>")[1]
    assert notes_html.count(note) == 1 and notes_html.count("<li>") == 3
    assert notes_html.index(note) < notes_html.index("second") < notes_html.index("extra")


def test_importance_chart_ranks_signed_values_and_leaves_out_features_that_do_not_help(tmp_path, analysis):
    importance = pd.Series({"tenure": -0.5, "calls_last_week": 0.1, "departed_neighbours": 0.3,
                            "noise": 0.0})
    shown, more, no_help = importance_ranking(importance)
    assert list(shown.index) == ["departed_neighbours", "calls_last_week"]  # tenure's -0.5 is no help
    assert (more, no_help) == (0, 2)
    shown, more, _ = importance_ranking(importance, top=1)
    assert list(shown.index) == ["departed_neighbours"] and more == 1
    text = write_report(tmp_path / "r.html", **dict(analysis, importance=importance)).read_text()
    caption = _between(text.split('aria-label="feature importance chart"')[1], "<figcaption>", "</figcaption>")
    assert "The 2 features that help the model most" in caption
    assert "drop in ROC AUC on held-out rows when the feature is shuffled" in caption
    assert "Not shown: 2 features with zero or negative importance, i.e. no help" in caption
    # nothing helps: no bar chart, a plain statement instead
    text = write_report(tmp_path / "r.html", **dict(analysis, importance=pd.Series({"a": -0.1, "b": 0.0}))
                        ).read_text()
    assert len(_charts(text)) == 3 and "feature importance chart" not in text
    assert "No feature helps the model: all 2 features have zero or negative permutation importance" in text
    # the caption says what the importance is when the model measured path contributions
    metrics = dict(analysis["metrics"], importance="contribution")
    text = write_report(tmp_path / "r.html", **dict(analysis, metrics=metrics,
                                                    importance=importance)).read_text()
    caption = _between(text.split('aria-label="feature importance chart"')[1], "<figcaption>", "</figcaption>")
    assert "Mean absolute contribution" in caption and "shuffled" not in caption


def test_format_number_reads_for_people():
    # hand-checked cases: never a thousands-ambiguous "43.192"
    assert format_number(43.192) == "43.2"
    assert format_number(43.192, kind="count") == "43.2"
    assert format_number(1234567) == "1,234,567"
    assert format_number(1234567.0, kind="count") == "1,234,567"
    assert format_number(1234.56, kind="count") == "1,234.6"
    assert format_number(0.0345, kind="percent") == "3.5%"  # half up on the decimal, not 3.4
    assert format_number(0.08, kind="percent") == "8.0%"
    assert format_number(1.0, kind="percent") == "100%"
    assert format_number(0.0001, kind="percent") == "<0.1%"
    assert format_number(3.14159) == "3.14"
    assert format_number(0.8123) == "0.812"  # below 1 the leading "0." is unambiguous
    assert format_number(-0.04, kind="count") == "0.0"  # no "-0.0"
    assert format_number(12.5, kind="money") == "12.50"
    assert format_number(1234.5, kind="money", currency="€") == "€1,235"
    assert format_number(-3.456, kind="money", currency="EUR") == "-EUR 3.46"
    assert format_number(None, kind="money", currency="€") == "–"
    with pytest.raises(ValueError):
        format_number(1.0, kind="ratio")
    for value in (1.0005, 9.99999, 43.192, 999.999, 1234.5678, 12.3456):
        for kind in ("number", "count"):
            assert not re.fullmatch(r"-?\d{1,3}\.\d{3}", format_number(value, kind=kind)), (value, kind)


def test_charts_speak_words_show_bin_counts_and_the_risk_tail(tmp_path, analysis):
    importance = pd.Series({"fade_out_evidence": 0.3, "share_to_departed": 0.2, "attr_contract_type": 0.1})
    text = write_report(tmp_path / "r.html", **dict(analysis, importance=importance)).read_text()
    charts = _charts(text)
    ticks, _ = _axis_labels(charts["feature importance chart"], "y")
    labels = [t for _, _, t in sorted(ticks, key=lambda tick: tick[1])]  # top to bottom: most important first
    assert labels == ["calls and messages tapering off", "share of calling with recent leavers", "contract type"]
    assert not any("_" in label for label in labels)
    assert feature_label("embedding_3") == "network embedding 3"
    assert [t for _, _, t in _texts(charts["calibration chart"], "annotation")] == ["n=300", "n=70", "n=30"]
    histogram = charts["risk distribution"]
    ticks, log = _axis_labels(histogram, "y")
    assert log and [t for _, _, t in ticks] == ["1", "10"]  # one customer per bin at most: 1 and 10
    assert not _axis_labels(histogram, "x")[1]
    # counts are written over the bins from 30%: 0.55 and the lone 0.9 customer, not 0.10 or 0.20
    counts = _texts(histogram, "count")
    x_ticks = {t: x for x, _, t in _axis_labels(histogram, "x")[0]}
    assert [t for _, _, t in counts] == ["1", "1"]
    assert x_ticks["0.4"] < counts[0][0] < x_ticks["0.6"] and x_ticks["0.8"] < counts[1][0] < x_ticks["1.0"]
    assert "2 (50.0%) at 30% or more; 2 (50.0%) at 50% or more" in text


def test_chart_text_from_data_is_escaped_and_charts_are_deterministic(tmp_path, analysis):
    importance = pd.Series({EVIL: 0.3, "tenure_months": 0.1})
    first = write_report(tmp_path / "a.html", **dict(analysis, importance=importance)).read_text()
    svg = _charts(first)["feature importance chart"]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in svg and "<script" not in first
    second = write_report(tmp_path / "b.html", **dict(analysis, importance=importance)).read_text()
    assert _charts(first) == _charts(second)  # byte-identical charts (the page carries a time stamp)


def test_non_finite_values_are_not_drawn(tmp_path, analysis):
    lift = pd.DataFrame({"bucket": [1, 2, 3], "lift": [2.0, np.nan, np.inf],
                         "cumulative_lift": [2.0, np.inf, 1.0], "captured": [0.5, np.nan, 1.0]})
    calibration = pd.DataFrame({"mean_predicted": [0.1, np.nan, 0.5], "observed_rate": [0.1, 0.2, np.inf],
                                "count": [10, 20, 30]})
    scores = analysis["scores"].assign(churn_probability=[0.1, np.inf, np.nan, 0.35])
    text = write_report(tmp_path / "r.html", **dict(analysis, scores=scores, lift=lift,
                                                    calibration=calibration)).read_text()
    charts = _charts(text)
    drawn = "".join(charts.values()).lower()
    assert "nan" not in drawn and "inf" not in drawn
    bars = re.sub(r'<g class="legend">.*?</g>', "", charts["lift chart"], flags=re.S).count("<rect")
    assert bars == 1  # the one finite lift bar
    assert [t for _, _, t in _texts(charts["calibration chart"], "annotation")] == ["n=10"]
    assert [t for _, _, t in _texts(charts["risk distribution"], "count")] == ["1"]  # 0.35; inf skipped
    assert "1 (50.0%) at 30% or more" in text  # two finite scores


def test_report_has_what_to_do_group_rates_and_words(tmp_path, analysis):
    text = write_report(tmp_path / "r.html", **analysis).read_text()
    todo = _between(text, '<h2 id="what-to-do">What to do</h2>', "<h2>Charts</h2>")
    # default budget: a call (2.0) to 5% of 4 customers, rounded up to one customer
    assert "With a campaign budget of <b>2.00</b>" in todo and "contact <b>" in todo
    assert "expected to keep" in todo and "saving" in todo
    assert "Groups to watch" in todo and "Group 1: 2 customers, 1.5 expected churners (72.5%)" in todo
    assert "talk to its influencers first: &lt;script&gt;" in todo  # escaped
    groups_html = _between(text, "<h2>Groups at risk</h2>", "<h2>Customers most at risk</h2>")
    assert "<th>expected churn rate</th>" in groups_html and '<td class="num">72.5%</td>' in groups_html
    assert "<th>influencers (most influential first)</th>" in groups_html
    assert "expected_churners" not in text and "value_at_risk" not in text and "churn_probability" not in text
    customers = text.split("<h2>Customers most at risk</h2>")[1]
    assert "<th>churn risk</th>" in customers and '<td class="num">90.0%</td>' in customers
    # an explicit budget too small for any contact says so
    text = write_report(tmp_path / "r.html", **analysis, budget=0.0).read_text()
    assert "nobody is worth contacting" in _between(text, "What to do</h2>", "<h2>Charts</h2>")


def test_currency_is_shown_when_set(tmp_path, analysis):
    plain = write_report(tmp_path / "r.html", **analysis).read_text()
    assert "€" not in plain and "EUR" not in plain
    text = write_report(tmp_path / "r.html", **analysis, currency="€").read_text()
    assert '<div class="v">€20.00</div><div class="k">monthly value at risk</div>' in text
    assert "With a campaign budget of <b>€2.00</b>" in text
    groups_html = _between(text, "<h2>Groups at risk</h2>", "<h2>Customers most at risk</h2>")
    assert '<td class="num">€18.00</td>' in groups_html
    assert "EUR 1.70" in write_report(tmp_path / "r.html", **analysis, currency="EUR").read_text()  # EMP card


def test_analyze_takes_a_currency_option():
    from graphchurn.app.cli import build_parser

    base = ["analyze", "--interactions", "x.csv", "--out", "o"]
    assert build_parser().parse_args(base).currency is None
    assert build_parser().parse_args([*base, "--currency", "€"]).currency == "€"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--currency", "euros and cents"])
