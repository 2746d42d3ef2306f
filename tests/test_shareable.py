"""Shareable outputs (issue 22): CSV cells that a spreadsheet would run are neutralised, and
--pseudonymise writes keyed-hash ids in every output, mapped back by `graphchurn unmask`."""

import pandas as pd
import pytest

from graphchurn.app.cli import main
from graphchurn.io.atomic import csv_text, spreadsheet_safe, spreadsheet_text
from graphchurn.io.pseudonyms import Pseudonymiser, is_pseudonym, keyed_pseudonyms, read_key
from graphchurn.synth.world import generate_world

HOSTILE = '=HYPERLINK("http://x","y")'


def test_spreadsheet_safe_neutralises_formulas_but_keeps_numbers_and_phones():
    frame = pd.DataFrame({
        "id": [HOSTILE, "+447700900123", "-12.5", "+44 (0)20 7946-0958", "@SUM(A1)", "\tx",
               "\rx", "-x", "+x", "plain", None],
        "p": [0.5] * 11,
        "=bad header": [1] * 11})
    safe = spreadsheet_safe(frame)
    assert safe["id"].tolist()[:10] == ["'" + HOSTILE, "+447700900123", "-12.5",
                                        "+44 (0)20 7946-0958", "'@SUM(A1)", "'\tx", "'\rx",
                                        "'-x", "'+x", "plain"]
    assert pd.isna(safe["id"].iloc[10])
    assert list(safe.columns) == ["id", "p", "'=bad header"]
    assert frame["id"].iloc[0] == HOSTILE  # the caller's frame is untouched
    assert spreadsheet_text(safe["id"]).tolist()[:3] == [HOSTILE, "+447700900123", "-12.5"]
    assert csv_text(pd.DataFrame({"x": [-1.5, 2.0]})) == "x\n-1.5\n2\n"


def test_keyed_pseudonyms(tmp_path):
    key = read_key(tmp_path / "key")  # created, random, owner-only
    assert (tmp_path / "key").stat().st_mode & 0o077 == 0
    assert read_key(tmp_path / "key") == key
    ids = ["+447700900123", "0123", "+447700900123"]
    p = keyed_pseudonyms(ids, key)
    assert p[0] == p[2] != p[1] and all(is_pseudonym(p))
    assert list(keyed_pseudonyms(p, key)) == list(p)  # already pseudonyms: kept
    assert keyed_pseudonyms(ids, b"another key 123456")[0] != p[0]
    masker = Pseudonymiser(key)
    masker.frame(pd.DataFrame({"customer_id": ids}))
    assert sorted(masker.mapping()["customer_id"]) == ["+447700900123", "0123"]


@pytest.mark.slow
def test_analyze_target_whatif_pseudonymised_and_unmasked(tmp_path):
    world = generate_world(n_customers=300, days=100, seed=5)
    hostile, formula = world.customers["customer_id"].iloc[0], "=HYPERLINK(x)"  # ids hold no quote
    log = world.interactions.replace({"src": {hostile: formula}, "dst": {hostile: formula}})
    customers = world.customers.replace({"customer_id": {hostile: formula}})
    log.to_csv(tmp_path / "log.csv", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    inputs = ["--interactions", str(tmp_path / "log.csv"), "--customers",
              str(tmp_path / "customers.csv")]
    common = ["-q", "analyze", *inputs, "--no-embeddings", "--estimator", "logistic"]
    assert main([*common, "--out", str(tmp_path / "plain")]) == 0
    plain = (tmp_path / "plain" / "scores.csv").read_text()
    assert "'" + formula in plain and "\n" + formula not in plain  # neutralised
    key = tmp_path / "secret.key"
    assert main([*common, "--out", str(tmp_path / "masked"), "--pseudonymise", str(key),
                 "--pseudonymise-map", str(tmp_path / "map.csv")]) == 0
    masked = pd.read_csv(tmp_path / "masked" / "scores.csv", dtype=str, keep_default_na=False)
    assert all(is_pseudonym(masked["customer_id"]))
    for name in ("groups.csv", "influencers.csv", "metrics.json", "report.html"):
        text = (tmp_path / "masked" / name).read_text()
        assert not any(i in text for i in customers["customer_id"]), name
    # The key holder maps the shared file back: the plain run's scores, byte for byte.
    assert main(["-q", "unmask", "--key", str(key), "--ids", str(tmp_path / "masked" / "scores.csv"),
                 *inputs, "--out", str(tmp_path / "unmasked.csv")]) == 0
    assert (tmp_path / "unmasked.csv").read_text() == plain
    assert main(["-q", "unmask", "--key", str(key), "--ids", str(tmp_path / "masked" / "scores.csv"),
                 "--map", str(tmp_path / "map.csv"), "--out", str(tmp_path / "by_map.csv")]) == 0
    assert (tmp_path / "by_map.csv").read_text() == plain
    # target on the pseudonymised scores, with the key: the contact list keeps pseudonyms
    assert main(["-q", "target", "--scores", str(tmp_path / "masked"), "--budget", "50",
                 "--customers", str(tmp_path / "customers.csv"), "--no-network",
                 "--pseudonymise", str(key), "--out", str(tmp_path / "contacts.csv")]) == 0
    contacts = pd.read_csv(tmp_path / "contacts.csv", dtype=str, keep_default_na=False)
    assert len(contacts) and all(is_pseudonym(contacts["customer_id"]))
    # whatif: at_risk ids pseudonymised
    leaver = log["src"].iloc[0]
    assert main(["-q", "whatif", *inputs, "--leaves", leaver, "--no-embeddings",
                 "--pseudonymise", str(key), "--out", str(tmp_path / "w")]) == 0
    at_risk = pd.read_csv(tmp_path / "w" / "at_risk.csv", dtype=str, keep_default_na=False)
    assert len(at_risk) and all(is_pseudonym(at_risk["customer_id"]))
