"""Profile the feature stage of `analyze` (every cut-off's build_features, no model, no embeddings).

Loads a generator world's files, runs ``ChurnPipeline.prepare`` under cProfile with a CPU-time
clock and records wall and CPU seconds per stage: on a shared machine CPU time is the figure
other people's load disturbs least. Used for experiments/results/scale_features.md (the code
before and after is compared by running this script with PYTHONPATH at each version).

Run:  PYTHONPATH=. nice -n 5 .venv/bin/python experiments/profile_features.py /work/data/w100k OUT
Writes OUT.json (timings) and OUT.txt (the profile, by cumulative and by own time).
"""
import sys, time, cProfile, pstats, logging, json
from graphchurn.io import load_interactions, load_customers
import graphchurn.pipeline as P
d = sys.argv[1]; out = sys.argv[2]
t = time.perf_counter(); c = time.process_time()
inter = load_interactions(f"{d}/interactions.parquet"); cust = load_customers(f"{d}/customers.csv")
res = {"load_wall": time.perf_counter() - t, "load_cpu": time.process_time() - c}
cfg = P.AnalyzeConfig(embeddings=False)
orig = P._Stages.run
cpu = {}
def run(self, name, fn, *a, **k):
    c0 = time.process_time(); r = orig(self, name, fn, *a, **k); cpu[name] = round(time.process_time() - c0, 2); return r
P._Stages.run = run
p = P.ChurnPipeline(cfg)
pr = cProfile.Profile(time.process_time); pr.enable()
p.prepare(inter, cust)
pr.disable()
res["wall"] = p.timings_; res["cpu"] = cpu
import os; res["load_avg"] = os.getloadavg()
json.dump(res, open(out + ".json", "w"), indent=1)
st = pstats.Stats(pr, stream=open(out + ".txt", "w")); st.sort_stats("cumulative").print_stats(50); st.sort_stats("tottime").print_stats(30)
print(json.dumps(res))
