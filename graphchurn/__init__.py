"""graphchurn: predict customer churn from the social graph of a subscription business.

The package exports the stages a researcher composes, in pipeline order (each also lives in
its stage's subpackage, e.g. :mod:`graphchurn.features`):

    load_interactions / load_customers  ->  CustomerGraph.from_interactions
      ->  detect_communities, influencer_scores, susceptibility  ->  build_features
      ->  GraphSAGEEmbedder  ->  ChurnModel  ->  what_if / Watcher  ->  contact_list

and :class:`ChurnPipeline`, which runs them all (``fit`` / ``backtest`` / ``score``), as the
command line, the web app and the experiments do. Names are imported on first use, so
``import graphchurn`` is quick and torch is loaded only for the embeddings.

Example
-------
>>> import graphchurn as gc
>>> world = gc.generate_world(n_customers=300, days=100, seed=0)
>>> pipe = gc.ChurnPipeline(gc.AnalyzeConfig(embeddings=False, seed=0))
>>> result = pipe.fit(world.interactions, world.customers)
>>> scores = pipe.score()
>>> list(scores.columns[:3])
['customer_id', 'churn_probability', 'risk_rank']
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> the module that defines it (a table, so that `dir()` and the docs agree)
_EXPORTS = {
    # io: read and validate
    "load_interactions": "graphchurn.io.readers",
    "load_customers": "graphchurn.io.readers",
    "parse_column_mapping": "graphchurn.io.readers",
    "check_customers_match": "graphchurn.io.readers",
    "pseudonymise": "graphchurn.io.readers",
    "InputError": "graphchurn.errors",
    # windows: cut-offs and labels
    "training_cutoffs": "graphchurn.windows.labels",
    "churn_labels": "graphchurn.windows.labels",
    "active_at": "graphchurn.windows.labels",
    # graph at a cut-off
    "CustomerGraph": "graphchurn.graph.customer_graph",
    # social structure
    "detect_communities": "graphchurn.social.communities",
    "influencer_scores": "graphchurn.social.roles",
    "leaders_and_followers": "graphchurn.social.roles",
    "susceptibility": "graphchurn.social.roles",
    # features
    "build_features": "graphchurn.features.build",
    "FeatureSet": "graphchurn.features.build",
    "exposure": "graphchurn.features.exposure",
    "describe_reasons": "graphchurn.features.reasons",
    # models
    "ChurnModel": "graphchurn.models.churn",
    "top_reasons": "graphchurn.models.explain",
    "evaluate": "graphchurn.models.metrics",
    "GraphSAGEEmbedder": "graphchurn.models.embed",
    # contagion
    "ContagionModel": "graphchurn.contagion.model",
    "Watcher": "graphchurn.contagion.watch",
    # targeting
    "contact_list": "graphchurn.targeting.contact_list",
    # synthetic worlds
    "generate_world": "graphchurn.synth.world",
    # the pipeline
    "AnalyzeConfig": "graphchurn.pipeline",
    "Analysis": "graphchurn.pipeline",
    "ChurnPipeline": "graphchurn.pipeline",
    "analyze": "graphchurn.pipeline",
    "whatif_basis": "graphchurn.pipeline",
    "what_if": "graphchurn.pipeline",
    "write_outputs": "graphchurn.app.outputs",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'graphchurn' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
