"""Tests for graphchurn.embed: GraphSAGE and node2vec embeddings on tiny hand-built graphs."""

import random

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch_geometric.data import Data

from graphchurn.models.embed import (
    ChurnGNN,
    GraphSAGEEmbedder,
    Node2VecEmbedder,
    SAGEEncoder,
    mean_neighbour_weights,
    random_walks,
    skipgram_loss_and_gradients,
    weighted_adjacency,
)


def _data(n, src, dst, x=None, weight=None, y=None):
    """PyG Data with each undirected edge (src[k], dst[k]) stored in both directions."""
    src, dst = np.asarray(src), np.asarray(dst)
    edge_index = torch.as_tensor(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]), dtype=torch.long)
    weight = np.ones(src.size) if weight is None else np.asarray(weight)
    data = Data(
        x=torch.as_tensor(np.ones((n, 1)) if x is None else x, dtype=torch.float32),
        edge_index=edge_index,
        edge_weight=torch.as_tensor(np.concatenate([weight, weight]), dtype=torch.float32),
        num_nodes=n,
    )
    if y is not None:
        data.y = torch.as_tensor(y, dtype=torch.float32)
        data.train_mask = torch.ones(n, dtype=torch.bool)
    return data


def _neighbour_flag_graph(n, seed):
    """Random sparse graph where y = 1 iff some neighbour has flag 1.

    Features are [own flag, two noise columns]: independent of y, because the edges are random.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, (2, 2 * n))
    keys = np.unique(np.minimum(a, b) * n + np.maximum(a, b))
    keys = keys[keys // n != keys % n]
    src, dst = keys // n, keys % n
    flag = (rng.random(n) < 0.15).astype(float)
    flagged_neighbours = np.bincount(src, weights=flag[dst], minlength=n) + np.bincount(dst, weights=flag[src], minlength=n)
    y = (flagged_neighbours > 0).astype(float)
    x = np.column_stack([flag, rng.normal(size=(n, 2))])
    return _data(n, src, dst, x=x, y=y)


def _two_blocks(block=40, p_in=0.3, seed=0):
    """Two dense random blocks joined by a single weak bridge edge; returns (data, block label)."""
    rng = np.random.default_rng(seed)
    n = 2 * block
    label = np.repeat([0, 1], block)
    i, j = np.triu_indices(n, 1)
    keep = (label[i] == label[j]) & (rng.random(i.size) < p_in)
    src, dst = np.append(i[keep], 0), np.append(j[keep], block)
    weight = np.append(rng.uniform(0.5, 2.0, keep.sum()), 0.1)
    return _data(n, src, dst, x=rng.normal(size=(n, 3)), weight=weight), label


@pytest.fixture(scope="module")
def flag_graphs():
    return _neighbour_flag_graph(300, seed=0), _neighbour_flag_graph(180, seed=1)


@pytest.fixture(scope="module")
def fitted_sage(flag_graphs):
    return GraphSAGEEmbedder(dim=8, hidden=16, epochs=40, seed=0).fit(flag_graphs[0])


# -- building blocks --------------------------------------------------------------------------


def test_mean_neighbour_weights_are_tie_strength_shares():
    # Node 0 hears from 1 (w=1) and 2 (w=3); nodes 1 and 2 hear only from 0.
    edge_index = torch.tensor([[1, 2, 0, 0], [0, 0, 1, 2]])
    weights = mean_neighbour_weights(edge_index, 3, torch.tensor([1.0, 3.0, 1.0, 1.0]))
    assert torch.allclose(weights, torch.tensor([0.25, 0.75, 1.0, 1.0]))
    # Unweighted: the plain mean, 1 / in-degree.
    assert torch.allclose(mean_neighbour_weights(edge_index, 3), torch.tensor([0.5, 0.5, 1.0, 1.0]))


@pytest.mark.filterwarnings("ignore:Sparse")
def test_encoder_layer_is_weighted_graphsage_mean():
    # Path 0 - 1 - 2 with weights 1 and 3: node 1 aggregates 0.25 * x0 + 0.75 * x2.
    torch.manual_seed(0)
    encoder = SAGEEncoder(2, 4, 3)
    x = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    weight = torch.tensor([1.0, 1.0, 3.0, 3.0])
    conv = encoder.conv1
    out = conv(x, edge_index, mean_neighbour_weights(edge_index, 3, weight))
    expected_node1 = conv.lin_rel(0.25 * x[0] + 0.75 * x[2]) + conv.lin_root(x[1])
    assert torch.allclose(out[1], expected_node1, atol=1e-6)
    # Whole encoder: plain edge_index and the embedder's sorted EdgeIndex agree.
    from graphchurn.models.embed import _sorted_edge_index

    data = Data(x=x, edge_index=edge_index, edge_weight=weight, num_nodes=3)
    index, sorted_weight = _sorted_edge_index(data, cache_transpose=False)
    assert torch.allclose(encoder(x, edge_index, weight), encoder(x, index, sorted_weight), atol=1e-6)


def test_encoder_layer_equals_sageconv_mean_when_weights_are_equal():
    from torch_geometric.nn import SAGEConv

    torch.manual_seed(1)
    x = torch.randn(5, 3)
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])  # path 0-1-2-3, node 4 alone
    ours = SAGEEncoder(3, 4, 2).conv1
    sage = SAGEConv(3, 4, aggr="mean")
    with torch.no_grad():
        sage.lin_l.weight.copy_(ours.lin_rel.weight)
        sage.lin_l.bias.copy_(ours.lin_rel.bias)
        sage.lin_r.weight.copy_(ours.lin_root.weight)
    assert torch.allclose(ours(x, edge_index, mean_neighbour_weights(edge_index, 5)), sage(x, edge_index), atol=1e-6)


def test_churn_gnn_gives_one_logit_per_node():
    model = ChurnGNN(3, 8, 4)
    logits = model(torch.randn(6, 3), torch.tensor([[0, 1, 2], [1, 2, 0]]))
    assert logits.shape == (6,)
    assert logits.dtype == torch.float32


# -- GraphSAGE embedder ----------------------------------------------------------------------


def test_graphsage_shapes_and_dtypes(flag_graphs, fitted_sage):
    train, other = flag_graphs
    z = fitted_sage.transform(train)
    assert z.shape == (300, 8) and z.dtype == np.float32 and np.isfinite(z).all()
    proba = fitted_sage.predict_proba(train)
    assert proba.shape == (300,) and proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    assert fitted_sage.mean_.shape == (3,) and fitted_sage.std_.shape == (3,)
    assert fitted_sage.loss_history_[-1] < fitted_sage.loss_history_[0]


def test_graphsage_uses_the_graph(flag_graphs, fitted_sage):
    # y depends only on the neighbours' flags: the node's own features say nothing about it.
    train, _ = flag_graphs
    x, y = train.x.numpy(), train.y.numpy()
    assert 0.3 < y.mean() < 0.7
    tabular_auc = roc_auc_score(y, LogisticRegression().fit(x, y).predict_proba(x)[:, 1])
    assert tabular_auc < 0.65
    assert roc_auc_score(y, fitted_sage.predict_proba(train)) > 0.95


def test_graphsage_is_inductive(flag_graphs, fitted_sage):
    # Fitted on a 300-node graph, applied unchanged to another 180-node graph.
    _, other = flag_graphs
    z = fitted_sage.transform(other)
    assert z.shape == (180, 8)
    assert roc_auc_score(other.y.numpy(), fitted_sage.predict_proba(other)) > 0.95


def test_graphsage_same_seed_same_embeddings_and_no_global_rng_side_effects(flag_graphs):
    train, other = flag_graphs
    torch.manual_seed(123)
    random.seed(123)
    expected_torch, expected_py = torch.rand(1), random.random()
    torch.manual_seed(123)
    random.seed(123)
    threads = torch.get_num_threads()
    first = GraphSAGEEmbedder(dim=4, hidden=8, epochs=5, seed=7, objective="link", n_jobs=1).fit(train)
    # The caller's random streams and thread count are as they were.
    assert torch.rand(1) == expected_torch and random.random() == expected_py
    assert torch.get_num_threads() == threads
    second = GraphSAGEEmbedder(dim=4, hidden=8, epochs=5, seed=7, objective="link").fit(train)
    third = GraphSAGEEmbedder(dim=4, hidden=8, epochs=5, seed=8, objective="link").fit(train)
    assert np.array_equal(first.transform(other), second.transform(other))
    assert not np.allclose(first.transform(other), third.transform(other))


def test_graphsage_link_objective_recovers_planted_communities():
    # Features are pure noise, so any block structure in the embeddings comes from the edges.
    data, label = _two_blocks()
    model = GraphSAGEEmbedder(dim=8, hidden=16, epochs=60, objective="link", seed=0).fit(data)
    z = model.transform(data)
    clusters = KMeans(2, n_init=10, random_state=0).fit_predict(z)
    assert max((clusters == label).mean(), (clusters != label).mean()) >= 0.9
    # The link score (dot product) ranks same-block pairs above cross-block pairs.
    i, j = np.triu_indices(data.num_nodes, 1)
    assert roc_auc_score(label[i] == label[j], (z[i] * z[j]).sum(1)) > 0.9
    with pytest.raises(RuntimeError, match="supervised"):
        model.predict_proba(data)


def test_graphsage_early_stopping_keeps_it_from_memorising_noise(flag_graphs):
    train, _ = flag_graphs
    noise = train.clone()
    noise.y = train.y[torch.from_numpy(np.random.default_rng(0).permutation(train.num_nodes))]
    # Without a validation share, 200 full-batch epochs memorise shuffled labels.
    memorised = GraphSAGEEmbedder(epochs=200).fit(noise)
    assert memorised.n_iter_ == 200 and memorised.best_epoch_ is None
    assert roc_auc_score(noise.y, memorised.predict_proba(noise)) > 0.95
    # With one, it stops early near chance and keeps the best epoch.
    stopped = GraphSAGEEmbedder(epochs=200, validation_fraction=0.3, patience=10).fit(noise)
    assert stopped.n_iter_ < 200 and len(stopped.validation_scores_) == stopped.n_iter_
    assert stopped.best_validation_score_ == max(stopped.validation_scores_) < 0.75
    assert roc_auc_score(noise.y, stopped.predict_proba(noise)) < 0.9
    # On the real neighbourhood labels the held-out share is predicted well.
    real = GraphSAGEEmbedder(epochs=200, validation_fraction=0.3, patience=10).fit(train)
    assert real.best_validation_score_ > 0.95


def test_graphsage_handles_isolated_nodes_and_missing_values():
    x = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 2.0], [4.0, 3.0], [0.0, 0.0]])
    data = _data(5, [0, 1, 2], [1, 2, 3], x=x, y=[1, 0, 1, 0, 0])  # node 4 is isolated
    model = GraphSAGEEmbedder(dim=3, hidden=4, epochs=3).fit(data)
    assert np.isfinite(model.transform(data)).all()
    assert np.isfinite(model.predict_proba(data)).all()


def test_graphsage_input_errors(flag_graphs):
    train, _ = flag_graphs
    with pytest.raises(RuntimeError, match="not fitted"):
        GraphSAGEEmbedder().transform(train)
    with pytest.raises(ValueError, match="objective"):
        GraphSAGEEmbedder(objective="magic").fit(train)
    with pytest.raises(ValueError, match="labels"):
        GraphSAGEEmbedder(epochs=1).fit(_data(3, [0, 1], [1, 2]))
    one_class = _data(3, [0, 1], [1, 2], y=[0, 0, 0])
    with pytest.raises(ValueError, match="both"):
        GraphSAGEEmbedder(epochs=1).fit(one_class)
    model = GraphSAGEEmbedder(epochs=1).fit(train)
    with pytest.raises(ValueError, match="features"):
        model.transform(_data(3, [0], [1], x=np.ones((3, 2))))


# -- random walks ----------------------------------------------------------------------------


def test_random_walks_follow_edges_and_tie_strengths():
    # Star: centre 0 with leaves 1 (w=1), 2 (w=3); leaf 3 isolated.
    data = _data(4, [0, 0], [1, 2], weight=[1.0, 3.0])
    adjacency = weighted_adjacency(data)
    walks = random_walks(adjacency, np.zeros(20000, dtype=np.int64), 3, seed=0)
    assert walks.shape == (20000, 3) and walks.dtype == np.int64
    # Every step of every walk is an edge; from a leaf the walk must return to the centre.
    assert (adjacency[walks[:, :-1].ravel(), walks[:, 1:].ravel()] > 0).all()
    assert (walks[:, 2] == 0).all()
    assert abs((walks[:, 1] == 2).mean() - 0.75) < 0.015
    isolated = random_walks(adjacency, np.array([3]), 4, seed=0)
    assert isolated.tolist() == [[3, -1, -1, -1]]


def test_random_walks_node2vec_bias():
    # Triangle 0-1-2 plus a tail 1-3: from 1, having come from 0, the three choices are
    # return (0: alpha 1/p), a common neighbour (2: alpha 1), or away (3: alpha 1/q).
    adjacency = weighted_adjacency(_data(4, [0, 1, 0, 1], [1, 2, 2, 3]))
    starts = np.zeros(30000, dtype=np.int64)
    # Keep the walks whose first step was 0 -> 1.
    walks = random_walks(adjacency, starts, 3, p=0.5, q=2.0, seed=1)
    third = walks[walks[:, 1] == 1, 2]
    alpha = np.array([1 / 0.5, 1.0, 1 / 2.0])  # to 0, 2, 3
    expected = alpha / alpha.sum()
    observed = np.array([(third == v).mean() for v in (0, 2, 3)])
    assert np.abs(observed - expected).max() < 0.02
    # p = q = 1: uniform over the three neighbours.
    walks = random_walks(adjacency, starts, 3, seed=1)
    third = walks[walks[:, 1] == 1, 2]
    assert np.abs(np.array([(third == v).mean() for v in (0, 2, 3)]) - 1 / 3).max() < 0.02


def test_random_walks_same_seed_same_walks():
    adjacency = weighted_adjacency(_two_blocks()[0])
    starts = np.arange(80)
    first = random_walks(adjacency, starts, 10, p=0.5, q=2.0, seed=3)
    assert np.array_equal(first, random_walks(adjacency, starts, 10, p=0.5, q=2.0, seed=3))
    assert not np.array_equal(first, random_walks(adjacency, starts, 10, p=0.5, q=2.0, seed=4))


# -- node2vec --------------------------------------------------------------------------------


def test_skipgram_gradients_match_autograd():
    torch.manual_seed(0)
    u, v, noise = torch.randn(7, 4), torch.randn(7, 4), torch.randn(7, 3, 4)
    loss, grad_u, grad_v, grad_noise = skipgram_loss_and_gradients(u, v, noise)
    leaves = [t.clone().requires_grad_() for t in (u, v, noise)]
    lu, lv, ln = leaves
    expected = -(
        torch.nn.functional.logsigmoid((lu * lv).sum(-1)).sum()
        + torch.nn.functional.logsigmoid(-(ln @ lu.unsqueeze(-1)).squeeze(-1)).sum()
    )
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    for mine, leaf in zip((grad_u, grad_v, grad_noise), leaves):
        assert torch.allclose(mine, leaf.grad, atol=1e-6)


N2V_SMALL = dict(dim=8)  # library defaults otherwise


def test_node2vec_separates_planted_communities():
    data, label = _two_blocks()
    z = Node2VecEmbedder(**N2V_SMALL, seed=0).fit_transform(data)
    assert z.shape == (80, 8) and z.dtype == np.float32
    clusters = KMeans(2, n_init=10, random_state=0).fit_predict(z)
    accuracy = max((clusters == label).mean(), (clusters != label).mean())
    assert accuracy >= 0.9


def test_node2vec_biased_walks_separate_communities_too():
    data, label = _two_blocks(seed=1)
    z = Node2VecEmbedder(**N2V_SMALL, p=4.0, q=0.5, seed=0).fit_transform(data)
    clusters = KMeans(2, n_init=10, random_state=0).fit_predict(z)
    assert max((clusters == label).mean(), (clusters != label).mean()) >= 0.9


def test_node2vec_same_seed_same_embeddings():
    data, _ = _two_blocks()
    settings = dict(dim=4, walks_per_node=2, walk_length=8, batch_size=32)
    first = Node2VecEmbedder(**settings, seed=5).fit_transform(data)
    assert np.array_equal(first, Node2VecEmbedder(**settings, seed=5).fit_transform(data))
    assert not np.allclose(first, Node2VecEmbedder(**settings, seed=6).fit_transform(data))


def test_node2vec_is_transductive():
    data, _ = _two_blocks()
    model = Node2VecEmbedder(dim=4, walks_per_node=1, walk_length=5).fit(data)
    assert model.transform(data).shape == (80, 4)
    with pytest.raises(ValueError, match="transductive"):
        model.transform(_data(5, [0], [1]))
    with pytest.raises(RuntimeError, match="not fitted"):
        Node2VecEmbedder().transform()


def test_weighted_adjacency_is_symmetric_csr():
    adjacency = weighted_adjacency(_data(3, [0, 1], [1, 2], weight=[2.0, 5.0]))
    assert isinstance(adjacency, sp.csr_matrix)
    assert adjacency.toarray().tolist() == [[0, 2, 0], [2, 0, 5], [0, 5, 0]]
