"""Reference churn pipeline: the plain baseline graphchurn's `analyze` must beat in time and AUC.

This is what an analyst who knows DuckDB, igraph and scikit-learn would write in an afternoon
to predict churn from a call log and a customer table. It imports nothing from graphchurn (it
reads the files itself), so the product's scale benchmark compares against an independent,
honest pipeline rather than against a slowed-down copy of itself.

It follows the product's time contract (shared/DESIGN.md) so that the AUCs are comparable:

- as-of defaults to the day after the last interaction; nothing at or after it is read, churn
  dates after it are blanked.
- Cut-offs as_of - h, as_of - 2h, ... (h = horizon; at most 4), each needing a full h-day
  activity window of log behind it. Backtest: train on the older cut-offs (their labels are
  known by as_of - h), ROC-AUC on as_of - h. Then refit on all cut-offs and score everyone
  active at as-of.
- Churn "contract" (customer table with churn_date): active at c when churn_date is empty or
  after c (and start_date, if any, before c); churned when churn_date is in (c, c + h].
  "inactivity" (no table or no churn_date, e.g. Bitcoin OTC): active when it made an outgoing
  interaction in [c - h, c); churned when it makes none in [c, c + h).

Choices, and why:
- DuckDB aggregates the raw log once per cut-off (columnar, parallel, spills if needed); ids
  become dense integers once, so every later join and the graph use int32, not strings.
- Activity: outgoing / incoming counts and durations over 30 and 90 days, counts over the last
  7 days (leavers fade out in the weeks before they go), days since the last outgoing /
  incoming interaction, outgoing trend (last 30 vs the 30 before): the RFM core of every
  churn model.
- Graph: undirected ties aggregated per pair over the 90 days before the cut-off, weight =
  number of interactions. igraph (C core) gives degree (= distinct contacts), strength,
  PageRank and Leiden communities (modularity, seeded through Python's random module).
- Social exposure: recent leavers are contacts whose churn_date lies in the horizon before the
  cut-off (under inactivity: contacts who were active and went silent for the last horizon).
  Per customer: share of its tie weight to them and their count; per community: leavers / size.
  All vectorised with numpy bincount over the edge list.
- Customer attributes: numeric as is, text as pandas categories (native categorical splits),
  tenure in days from start_date when the table has one.
- Model: HistGradientBoostingClassifier with default settings (early stopping on above 10k
  rows): fast, handles NaN and categories, a strong default for tabular churn.

Run:  python experiments/reference_pipeline.py --interactions F [--customers F] [--as-of D]
          [--horizon 30] [--columns src=..,dst=..,timestamp=..] [--seed 0] --out DIR
Writes DIR/scores.csv (customer_id, churn_probability) and DIR/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from pathlib import Path

import duckdb
import igraph as ig
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

DAY = pd.Timedelta(days=1)
MAX_CUTOFFS = 4


def reader(path: str, types: dict | None = None, header: bool = True) -> str:
    """A DuckDB table function for a CSV, CSV.gz or Parquet file."""
    path = path.replace("'", "''")
    if path.endswith(".parquet"):
        return f"read_parquet('{path}')"
    types_sql = ", ".join(f"'{k}': '{v}'" for k, v in (types or {}).items())
    return f"read_csv('{path}', header={str(header).lower()}, types={{{types_sql}}})"


def load(con, args) -> pd.Timestamp:
    """Tables `log` (s, d int vertex ids; t timestamp; dur) and `ids` (id string, v); the as-of."""
    cols = dict(src="src", dst="dst", timestamp="timestamp", duration="duration")
    cols.update(kv.split("=", 1) for kv in filter(None, (args.columns or "").split(",")))
    headerless = all(cols[k].isdigit() for k in ("src", "dst", "timestamp"))
    if headerless:  # positional columns of a file without a header (DuckDB names them column0..)
        cols = {k: f"column{v}" if v.isdigit() else v for k, v in cols.items()}
    src = reader(args.interactions, {cols["src"]: "VARCHAR", cols["dst"]: "VARCHAR"}, not headerless)
    kinds = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    ts = f'"{cols["timestamp"]}"'
    ts = (f"make_timestamp(CAST(CAST({ts} AS DOUBLE) * 1e6 AS BIGINT))"
          if any(n in kinds[cols["timestamp"]] for n in ("INT", "DOUBLE", "DECIMAL", "FLOAT"))
          else f"CAST({ts} AS TIMESTAMP)")
    dur = f'coalesce(CAST("{cols["duration"]}" AS FLOAT), 0)' if cols["duration"] in kinds else "0::FLOAT"
    con.execute(f"""CREATE TABLE raw AS SELECT "{cols['src']}" AS src, "{cols['dst']}" AS dst,
                    {ts} AS t, {dur} AS dur FROM {src} WHERE "{cols['src']}" <> "{cols['dst']}" """)
    last = con.execute("SELECT max(t) FROM raw").fetchone()[0]
    as_of = pd.Timestamp(args.as_of) if args.as_of else pd.Timestamp(last).normalize() + DAY
    con.execute("DELETE FROM raw WHERE t >= $a", {"a": as_of})
    customer_ids = "UNION SELECT customer_id FROM cust" if args.customers else ""
    con.execute(f"""CREATE TABLE ids AS SELECT id, CAST(row_number() OVER (ORDER BY id) - 1 AS INT) AS v
                    FROM (SELECT src AS id FROM raw UNION SELECT dst FROM raw {customer_ids})""")
    con.execute("""CREATE TABLE log AS SELECT a.v AS s, b.v AS d, t, dur FROM raw
                   JOIN ids a ON raw.src = a.id JOIN ids b ON raw.dst = b.id""")
    con.execute("DROP TABLE raw")
    return as_of


def load_customers(con, path: str) -> None:
    """Table `cust`: the customer file with ids as strings and dates as dates."""
    con.execute(f"CREATE TABLE cust AS SELECT * FROM {reader(path, {'customer_id': 'VARCHAR'})}")
    names = [r[0] for r in con.execute("DESCRIBE cust").fetchall()]
    for c in ("churn_date", "start_date"):
        if c in names:
            con.execute(f"ALTER TABLE cust ALTER {c} TYPE DATE USING TRY_CAST({c} AS DATE)")


def customer_frame(con, as_of) -> pd.DataFrame:
    """The customer table indexed by vertex id; churn dates after as-of blanked."""
    df = con.execute("SELECT ids.v, cust.* EXCLUDE (customer_id) FROM cust JOIN ids "
                     "ON cust.customer_id = ids.id ORDER BY ids.v").df().set_index("v")
    for c in ("churn_date", "start_date"):
        if c in df:
            df[c] = pd.to_datetime(df[c])
    if "churn_date" in df:
        df.loc[df["churn_date"] > as_of, "churn_date"] = pd.NaT
    for c in df.columns.difference(["churn_date", "start_date"]):
        if not pd.api.types.is_numeric_dtype(df[c]):
            cat = df[c].astype("category")  # > 254 levels: plain codes, HGB bins them
            df[c] = cat if len(cat.cat.categories) < 255 else cat.cat.codes.astype(float)
    return df


def features(con, cutoff, h: int, cust: pd.DataFrame | None, contract: bool, n_ids: int, seed: int, timings):
    """Feature table, population and (if the horizon is in the log) labels at one cut-off."""
    t0 = time.perf_counter()
    c = {"c": cutoff, "c7": cutoff - 7 * DAY, "c30": cutoff - 30 * DAY, "c60": cutoff - 60 * DAY, "c90": cutoff - 90 * DAY,
         "ch": cutoff - h * DAY, "c2h": cutoff - 2 * h * DAY}
    window = "count(*) FILTER (WHERE t >= $c7) AS {p}_n_7, count(*) FILTER (WHERE t >= $c30) AS {p}_n_30, coalesce(sum(dur) FILTER (WHERE t >= $c30), 0) AS {p}_dur_30," \
             "count(*) FILTER (WHERE t >= $c90) AS {p}_n_90, coalesce(sum(dur) FILTER (WHERE t >= $c90), 0) AS {p}_dur_90," \
             "count(*) FILTER (WHERE t >= $c60 AND t < $c30) AS {p}_n_prev30, count(*) FILTER (WHERE t >= $ch) AS {p}_n_h," \
             "date_diff('second', max(t), $c) / 86400.0 AS {p}_days_since, max(t) AS {p}_last"
    params = {k: c[k] for k in ("c", "c7", "c30", "c60", "c90", "ch")}
    out = con.execute(f"SELECT s AS v, {window.format(p='out')} FROM log WHERE t < $c GROUP BY s",
                      params).df().set_index("v")
    inc = con.execute(f"SELECT d AS v, {window.format(p='in')} FROM log WHERE t < $c GROUP BY d",
                      params).df().set_index("v")
    pairs = con.execute("SELECT least(s, d) AS a, greatest(s, d) AS b, count(*) AS w FROM log "
                        "WHERE t >= $c90 AND t < $c GROUP BY 1, 2 ORDER BY 1, 2",
                        {"c": cutoff, "c90": c["c90"]}).fetchnumpy()
    t1 = time.perf_counter()
    a, b, w = pairs["a"].astype(np.int64), pairs["b"].astype(np.int64), pairs["w"].astype(float)
    g = ig.Graph(n=n_ids, edges=np.column_stack([a, b]), edge_attrs={"w": w})
    random.seed(seed)  # python-igraph draws from Python's random module
    member = np.asarray(g.community_leiden(objective_function="modularity", weights="w").membership)
    pagerank = np.asarray(g.pagerank(weights="w"))
    t2 = time.perf_counter()

    # Recent leavers known at the cut-off.
    leaver = np.zeros(n_ids, bool)
    if contract:
        d = cust["churn_date"]
        leaver[cust.index[(d > c["ch"]) & (d <= cutoff)]] = True
    else:  # active in the horizon before [cut-off - h, cut-off), silent since
        last = out["out_last"]
        leaver[out.index[(last >= c["c2h"]) & (last < c["ch"])]] = True
    strength = np.bincount(a, w, n_ids) + np.bincount(b, w, n_ids)
    to_leavers = np.bincount(a, w * leaver[b], n_ids) + np.bincount(b, w * leaver[a], n_ids)
    n_leavers = np.bincount(a, leaver[b], n_ids) + np.bincount(b, leaver[a], n_ids)
    size = np.bincount(member)
    graph = pd.DataFrame({"degree": g.degree(), "strength": strength, "pagerank": pagerank,
                          "community_size": size[member],
                          "community_leaver_rate": (np.bincount(member, leaver) / size)[member],
                          "leaver_tie_share": np.divide(to_leavers, strength, out=np.zeros(n_ids), where=strength > 0),
                          "leaver_contacts": n_leavers})

    # Population and labels.
    if contract:
        d = cust["churn_date"]
        active = d.isna() | (d > cutoff)
        if "start_date" in cust:
            active &= cust["start_date"].isna() | (cust["start_date"] < cutoff)
        pop = cust.index[active].to_numpy()
        y = ((d > cutoff) & (d <= cutoff + h * DAY)).loc[pop].to_numpy(int)
    else:
        pop = out.index[out["out_n_h"] > 0].to_numpy()
        if cust is not None:
            gone = cust.index[cust["churn_date"].notna() & (cust["churn_date"] <= cutoff)] if "churn_date" in cust else []
            pop = np.intersect1d(pop, np.setdiff1d(cust.index.to_numpy(), gone))
        pop = np.sort(pop)
        later = con.execute("SELECT DISTINCT s FROM log WHERE t >= $c AND t < $e",
                            {"c": cutoff, "e": cutoff + h * DAY}).fetchnumpy()["s"]
        y = (~np.isin(pop, later)).astype(int)

    X = out.drop(columns=["out_last", "out_n_h"]).join(inc.drop(columns=["in_last", "in_n_h"]), how="outer")
    X = X.reindex(pop)
    counts = [col for col in X.columns if "_n_" in col or "_dur_" in col]
    X[counts] = X[counts].fillna(0)
    X["out_trend"] = (X["out_n_30"] + 1) / (X["out_n_prev30"] + 1)
    X = X.join(graph.iloc[pop].set_index(pop))
    if cust is not None:
        attrs = cust.loc[pop].drop(columns=["churn_date", "start_date"], errors="ignore")
        X = X.join(attrs)
        if "start_date" in cust:
            X["tenure_days"] = (cutoff - cust.loc[pop, "start_date"]).dt.days.to_numpy()
    timings[f"features {cutoff.date()}"] = {"aggregate_s": round(t1 - t0, 2), "graph_s": round(t2 - t1, 2),
                                            "rest_s": round(time.perf_counter() - t2, 2)}
    return X, pd.Series(y, index=pop)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interactions", required=True)
    p.add_argument("--customers")
    p.add_argument("--as-of")
    p.add_argument("--horizon", type=int, default=30)
    p.add_argument("--columns")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    start, timings = time.perf_counter(), {}

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.customers:
        load_customers(con, args.customers)
    as_of = load(con, args)
    n_ids, n_rows = con.execute("SELECT (SELECT count(*) FROM ids), (SELECT count(*) FROM log)").fetchone()
    cust = customer_frame(con, as_of) if args.customers else None
    contract = cust is not None and "churn_date" in cust and cust["churn_date"].notna().any()
    timings["load_s"] = round(time.perf_counter() - start, 2)

    h = args.horizon
    first = pd.Timestamp(con.execute("SELECT min(t) FROM log").fetchone()[0]).normalize()
    reachable = int((as_of - 2 * h * DAY - first) / (h * DAY)) + 1
    cutoffs = [as_of - (i + 1) * h * DAY for i in range(min(MAX_CUTOFFS, reachable))]
    if not cutoffs:
        raise SystemExit(f"the log is too short before {as_of.date()} for a {h}-day horizon")
    labelled = [features(con, c, h, cust, contract, n_ids, args.seed, timings) for c in cutoffs]
    labelled = [(X, y) for X, y in labelled if y.nunique() == 2]  # one-class cut-offs teach nothing
    X_now, _ = features(con, as_of, h, cust, contract, n_ids, args.seed, timings)

    def fit(tables):
        X = pd.concat([t[0] for t in tables], ignore_index=True)
        y = np.concatenate([t[1].to_numpy() for t in tables])
        return HistGradientBoostingClassifier(random_state=args.seed).fit(X, y), len(y)

    auc, n_train = None, 0
    if len(labelled) > 1:
        t = time.perf_counter()
        model, n_train = fit(labelled[1:])
        X_test, y_test = labelled[0]
        auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
        timings["backtest_fit_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    model, n_all = fit(labelled)
    timings["final_fit_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = con.execute("SELECT id FROM ids ORDER BY v").fetchnumpy()["id"]
    scores = pd.DataFrame({"customer_id": names[X_now.index.to_numpy()],
                           "churn_probability": model.predict_proba(X_now)[:, 1]})
    scores.sort_values("churn_probability", ascending=False).to_csv(out / "scores.csv", index=False)
    timings["score_write_s"] = round(time.perf_counter() - t, 2)
    timings["total_s"] = round(time.perf_counter() - start, 2)
    metrics = {"roc_auc": auc, "definition": "contract" if contract else "inactivity",
               "as_of": str(as_of.date()), "horizon_days": h, "cutoffs": [str(c.date()) for c in cutoffs],
               "test_cutoff": str(cutoffs[0].date()), "n_interactions": int(n_rows), "n_ids": int(n_ids),
               "n_backtest_train_rows": n_train, "n_test_rows": len(labelled[0][1]) if labelled else 0,
               "test_churn_rate": float(labelled[0][1].mean()) if labelled else None,
               "n_final_train_rows": n_all, "n_scored": len(scores), "n_features": X_now.shape[1],
               "timings_s": timings,
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"reference: {metrics['definition']} as-of {as_of.date()} h={h}: ROC-AUC "
          f"{'n/a' if auc is None else f'{auc:.4f}'} on {metrics['n_test_rows']} rows, "
          f"{len(scores)} scored, {timings['total_s']} s, peak RSS {metrics['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
