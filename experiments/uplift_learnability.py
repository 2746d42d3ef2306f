"""How much campaign history the uplift model needs to find the planted responders (issue 24).

For a few campaign-simulator settings (world size, past campaigns, outcome window), on
``--worlds`` seeds each: fit :func:`graphchurn.targeting.uplift.fit_uplift` on the simulated
history and compare the learned effect of a call with the planted one over the customers
active at as-of (Spearman), and report the Qini coefficient of the selected learner on the
held-out (latest) campaign. The settings: the simulator's old default (two campaigns, 45-day
windows, 2,000 customers), five monthly campaigns with 60-day windows on 2,000 customers, and
the same on 5,000 customers (what ``experiments/campaigns.py`` runs).

    python experiments/uplift_learnability.py [--worlds 4]

Writes experiments/results/uplift_learnability.{json,md}.
"""

from __future__ import annotations

import os

# Many small gradient-boosting fits: on a shared machine their thread pool only contends.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, library_version, markdown_table  # noqa: E402

from graphchurn.synth.campaign import CampaignWorld  # noqa: E402
from graphchurn.targeting.uplift import fit_uplift  # noqa: E402

SETTINGS = {
    "2 campaigns, 45-day windows, 2,000 customers": (
        2000, {"as_of_day": 90, "history_days": (15, 40), "history_window": 45}),
    "5 monthly campaigns, 60-day windows, 2,000 customers": (
        2000, {"as_of_day": 180, "history_days": (0, 30, 60, 90, 120), "history_window": 60}),
    "5 monthly campaigns, 60-day windows, 5,000 customers": (
        5000, {"as_of_day": 180, "history_days": (0, 30, 60, 90, 120), "history_window": 60}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=4)
    args = ap.parse_args()
    t0 = time.time()
    rows = []
    for name, (n, kw) in SETTINGS.items():
        for seed in range(args.worlds):
            cw = CampaignWorld({"n_customers": n, "seed": seed}, **kw)
            up = fit_uplift(cw.history, cw.world.customers)
            risk = cw.true_risk()
            active = risk.index[risk.notna().to_numpy()]
            planted = cw.effects.loc[active, "call"]
            learned = up.effects(fallback=False)["call"].reindex(active)
            chosen = up.comparison.query("offer == 'call' and selected").iloc[0]
            rows.append({"setting": name, "world": seed, "history_rows": len(cw.history),
                         "spearman_learned_planted": float(spearmanr(learned, planted)[0]),
                         "qini_call": float(chosen["qini"]), "learner": chosen["learner"]})
            print(rows[-1], flush=True)
    raw = pd.DataFrame(rows)
    out = ROOT / "experiments" / "results"
    (out / "uplift_learnability.json").write_text(json.dumps(
        {"command": f"python experiments/uplift_learnability.py --worlds {args.worlds}",
         "library": library_version(), "rows": rows}, indent=1))
    table = raw.groupby("setting", sort=False).agg(
        history_rows=("history_rows", "mean"),
        spearman=("spearman_learned_planted", "mean"),
        spearman_se=("spearman_learned_planted", lambda x: x.std(ddof=1) / np.sqrt(len(x))),
        qini=("qini_call", "mean"),
        qini_se=("qini_call", lambda x: x.std(ddof=1) / np.sqrt(len(x))))
    text = f"""# How much history the uplift model needs (issue 24)

`python experiments/uplift_learnability.py --worlds {args.worlds}` ({time.time() - t0:.0f} s,
library {library_version()}). Spearman correlation of the learned effect of a call with the
planted one over the customers active at as-of, and the Qini coefficient of the selected
learner on the held-out (latest) campaign; mean and standard error over {args.worlds} worlds.

{markdown_table(table.round(4).rename_axis('setting'), floatfmt='.4f')}
"""
    (out / "uplift_learnability.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
