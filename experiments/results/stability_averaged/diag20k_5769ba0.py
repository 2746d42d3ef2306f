import sys, time
import numpy as np, pandas as pd
sys.path.insert(0, "/work/wt/stable22/experiments")
from graphchurn.features import build
build.FEATURE_INFLUENCE_DRAWS = int(sys.argv[1]) if len(sys.argv) > 1 else 8
from graphchurn.pipeline import AnalyzeConfig, ChurnPipeline, averaged_over_draws, model_table
from stability import load_world
inter, cust, name = load_world(20000, 120)
pipes = {}
for s in (0, 1):
    t = time.perf_counter()
    pipes[s] = ChurnPipeline(AnalyzeConfig(seed=s)).fit(inter, cust)
    print("seed", s, round(time.perf_counter() - t, 1), flush=True)
cfg = AnalyzeConfig()
X = {s: model_table(pipes[s].scoring_.table, cfg) for s in (0, 1)}
D = {s: pipes[s].scoring_.influence_draws for s in (0, 1)}
def avg(m, s, draws=True):
    f = lambda t: pipes[m].model_.predict_proba(t)[:, 1]
    return pd.Series(averaged_over_draws(f, X[s], D[s] if draws else []), index=X[s].index)
p00, p11, p01, p10 = avg(0, 0), avg(1, 1), avg(0, 1), avg(1, 0)
s00, s11, s01 = avg(0, 0, False), avg(1, 1, False), avg(0, 1, False)
p11, p01, p10, s11, s01 = (v.reindex(p00.index) for v in (p11, p01, p10, s11, s01))
def mx(a, b): return round(float(np.max(np.abs(a - b))), 4)
print("outputs (averaged) seed0 vs seed1:", mx(p00, p11))
print("same model 0, inputs seed0 vs seed1, averaged:", mx(p00, p01), " single draw:", mx(s00, s01))
print("same inputs seed1, model 0 vs 1 (averaged):", mx(p01, p11), " inputs seed0:", mx(p00, p10))
print("single draw outputs seed0 vs seed1:", mx(s00, s11))
i = (p00 - p11).abs().idxmax()
print("top mover", i, p00[i], p11[i], p01[i], p10[i], s00[i], s11[i])
print("estimators", pipes[0].model_.estimator, pipes[1].model_.estimator)
