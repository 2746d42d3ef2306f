"""The package's shape: public API, declared surfaces, and one-way dependencies between stages."""

import ast
import subprocess
import sys
from pathlib import Path

import graphchurn

PACKAGE = Path(graphchurn.__file__).parent

# Pipeline order: a module may import from its own stage or an earlier one, never a later one.
STAGES = ["errors", "rng", "io", "synth", "windows", "graph", "social", "features", "models",
          "contagion", "targeting", "pipeline", "engines", "app"]
RANK = {name: i for i, name in enumerate(STAGES)}
# synth produces inputs (it sits beside io, and nothing before it may import it).
# engines run the pipeline's stages elsewhere (Spark): they wrap the pipeline, which only has
# a hook for them: pipeline.engine_pipeline imports the engine asked for inside the function
# (AnalyzeConfig(engine="spark") from Python), never at module level; the one backward import
# allowed, and only that way.
LAZY_BACKWARD = {("pipeline", "engines")}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).with_suffix("").parts


def _stage(parts):
    return parts[0] if parts[0] in RANK else None


def _imports(path, lazy_ok=False):
    tree = ast.parse(path.read_text())
    # With lazy_ok, imports inside a function body are skipped (module level, classes and
    # module-level conditionals still count).
    nodes = list(ast.walk(tree))
    if lazy_ok:
        inner = {id(n) for f in nodes if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for n in ast.walk(f)}
        nodes = [n for n in nodes if id(n) not in inner]
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use graphchurn.<stage>.<module>")
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_every_library_module_declares_its_public_surface():
    missing = [str(p) for p, parts in _modules()
               if parts[-1] not in ("__init__", "__main__") and not parts[-1].startswith("_")
               and "__all__" not in p.read_text()]
    assert missing == []


def test_no_stage_imports_a_later_stage():
    backwards = []
    for path, parts in _modules():
        if parts[-1] in ("__init__", "__main__") and len(parts) == 1:
            continue  # the package's own lazy export table and `python -m graphchurn`
        here = _stage(parts)
        assert here is not None, f"{path} lies outside the known stages {STAGES}"
        for module in _imports(path):
            if not module.startswith("graphchurn."):
                continue
            there = module.split(".")[1]
            assert there in RANK, f"{path} imports {module}, outside the known stages"
            if RANK[there] > RANK[here] and not (
                    (here, there) in LAZY_BACKWARD
                    and module not in _imports(path, lazy_ok=True)):
                backwards.append(f"{'/'.join(parts)} -> {module}")
    assert backwards == []


def test_importing_the_pipeline_loads_no_engine():
    code = ("import sys, graphchurn.pipeline; "
            "print(sorted(m for m in sys.modules if m.startswith(('graphchurn.engines', "
            "'pyspark'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_library_module_names_a_command_line_flag():
    # Only the application layer knows the command line; the library names parameters.
    offenders = []
    for path, parts in _modules():
        if parts[0] == "app":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                    flag in node.value for flag in ("--as-of", "--churn", "--horizon",
                                                    "--active-window", "--train-cutoffs")):
                offenders.append(f"{'/'.join(parts)}:{node.lineno}")
    assert offenders == []


def test_the_package_exports_the_pipeline_stages():
    for name in ("load_interactions", "CustomerGraph", "detect_communities", "influencer_scores",
                 "build_features", "ChurnModel", "GraphSAGEEmbedder", "what_if", "contact_list",
                 "ChurnPipeline", "generate_world"):
        assert name in graphchurn.__all__
    for name in graphchurn.__all__:
        assert getattr(graphchurn, name) is not None


def test_importing_the_package_loads_neither_torch_nor_the_web_stack():
    code = ("import sys, graphchurn; graphchurn.ChurnPipeline; "
            "print(sorted(m for m in ('torch', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
