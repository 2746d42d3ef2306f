"""Graph embeddings for churn: inductive GraphSAGE and transductive node2vec.

Two ways to turn the customer graph into per-customer vectors that a churn model can use:

- :class:`GraphSAGEEmbedder` learns a 2-layer GraphSAGE encoder (Hamilton, Ying & Leskovec
  2017), either supervised on the churn labels of the training cut-off or unsupervised by link
  prediction. It is *inductive*: the fitted weights are a function of a node's features and its
  neighbourhood, so the encoder trained on the training cut-off's graph embeds the scoring
  cut-off's graph (other customers, other edges, another size) without retraining.
- :class:`Node2VecEmbedder` learns one free vector per node from random walks with skip-gram
  and negative sampling (Perozzi, Al-Rfou & Skiena 2014; Grover & Leskovec 2016). It is
  *transductive*: vectors exist only for the graph it was fitted on.

Inputs are :class:`torch_geometric.data.Data` objects as made by
``CustomerGraph.to_pyg(features)``: ``x`` float32 [N, F], ``edge_index`` [2, 2E] holding each
undirected edge in both directions, ``edge_weight`` [2E] tie strengths (optional: 1 when
absent), and for supervised training ``y`` (0/1 float) with ``train_mask``.

Everything runs on the CPU and is seeded: same data + seed => the same embeddings, bit for bit.

Notes on what this installation offers (checked against torch-geometric 2.8 with neither
``pyg-lib`` nor ``torch-sparse`` / ``torch-cluster`` installed):

- ``torch_geometric.loader.NeighborLoader`` raises ImportError without pyg-lib or torch-sparse,
  so GraphSAGE trains full-batch. Aggregation runs as a sparse-matrix product through
  :class:`torch_geometric.EdgeIndex` (CSC for the forward pass, a cached CSR for the backward
  pass), which never materialises one message per edge.
- ``torch_geometric.nn.Node2Vec`` raises ImportError without pyg-lib, so the walks are
  generated here with vectorised numpy on the CSR adjacency (all walkers step at once), and
  skip-gram with negative sampling is trained in torch with row-wise Adagrad (see
  :class:`Node2VecEmbedder` for why not ``SparseAdam``).
"""

from __future__ import annotations

import contextlib
import random
import warnings

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.nn import GraphConv
from torch_geometric.utils import negative_sampling

__all__ = [
    "SAGEEncoder",
    "ChurnGNN",
    "GraphSAGEEmbedder",
    "Node2VecEmbedder",
    "mean_neighbour_weights",
    "weighted_adjacency",
    "random_walks",
    "skipgram_loss_and_gradients",
]


# --------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _seeded(seed: int, n_jobs: int | None):
    """Run a block with torch's and Python's global RNGs seeded, then restore both.

    Module initialisation and dropout read torch's global generator and
    ``torch_geometric.utils.negative_sampling`` reads Python's :mod:`random`; forking both keeps
    a fit reproducible without disturbing the caller's random state. ``n_jobs`` sets torch's
    thread count for the block (None: leave it); the caller's count is restored afterwards.
    """
    py_state = random.getstate()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # torch's sparse CSR/CSC tensors warn once that they are "beta"; the kernels used here
        # (sparse x dense products) are long-standing.
        warnings.filterwarnings("ignore", message="Sparse (CSR|CSC) tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        torch.manual_seed(seed)
        random.seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if n_jobs is not None:
            torch.set_num_threads(max(1, int(n_jobs)))
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            random.setstate(py_state)


# --------------------------------------------------------------------------------------------
# GraphSAGE
# --------------------------------------------------------------------------------------------


def mean_neighbour_weights(edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None) -> Tensor:
    """Edge weights that turn a sum over in-neighbours into a tie-strength-weighted mean.

    Edge ``j -> i`` (``edge_index[:, e] == (j, i)``) gets ``w_ji / sum_k w_ki``, so the weights
    into each target sum to 1; with no ``edge_weight`` every edge into ``i`` gets
    ``1 / deg(i)``, the plain mean of GraphSAGE-mean.

    Parameters
    ----------
    edge_index : Tensor [2, E]
        Source (row 0) and target (row 1) of each directed edge.
    num_nodes : int
        Number of nodes N.
    edge_weight : Tensor [E], optional
        Positive tie strengths (default: all 1).

    Returns
    -------
    Tensor [E], float32

    Example
    -------
    >>> ei = torch.tensor([[1, 2, 0, 0], [0, 0, 1, 2]])
    >>> mean_neighbour_weights(ei, 3, torch.tensor([1.0, 3.0, 1.0, 1.0]))
    tensor([0.2500, 0.7500, 1.0000, 1.0000])
    """
    target = edge_index[1].as_subclass(Tensor)  # a plain index even when given an EdgeIndex
    if edge_weight is None:
        edge_weight = torch.ones(target.numel(), dtype=torch.float32)
    edge_weight = edge_weight.to(torch.float32)
    strength = torch.zeros(num_nodes, dtype=torch.float32).index_add_(0, target, edge_weight)
    return edge_weight / strength[target]


def _sorted_edge_index(data, *, cache_transpose: bool) -> tuple[EdgeIndex, Tensor | None]:
    """``data.edge_index`` as an :class:`EdgeIndex` sorted by target, with weights to match.

    Sorting by target lets the aggregation run as one CSC sparse-matrix product; the cached
    CSR (``cache_transpose``) makes the backward pass another one instead of a transpose per
    step.
    """
    n = int(data.num_nodes)
    edge_index = data.edge_index.to(torch.long)
    edge_weight = getattr(data, "edge_weight", None)
    order = torch.argsort(edge_index[1] * n + edge_index[0])
    edge_index = edge_index[:, order]
    if edge_weight is not None:
        edge_weight = edge_weight.to(torch.float32)[order]
    index = EdgeIndex(edge_index, sparse_size=(n, n), sort_order="col")
    if cache_transpose:
        index.fill_cache_()
    return index, edge_weight


class SAGEEncoder(torch.nn.Module):
    r"""Two-layer GraphSAGE encoder with tie-strength-weighted mean aggregation.

    Each layer computes

    .. math::
        h_i' = W_\text{root} h_i + W_\text{nbr} \sum_{j \in N(i)} \frac{w_{ij}}{\sum_k w_{ik}} h_j

    i.e. GraphSAGE-mean (Hamilton et al. 2017, eq. 1 with the "mean" aggregator and the
    concatenation written as two weight matrices) where the mean over neighbours is weighted by
    tie strength. It is built from :class:`torch_geometric.nn.GraphConv`, which accepts
    ``edge_weight`` (``SAGEConv`` does not), fed with :func:`mean_neighbour_weights`; with equal
    weights it is exactly ``SAGEConv(aggr="mean")``. Layer 1 is followed by ReLU; the output
    layer is linear.

    Parameters
    ----------
    in_channels : int
        Number of input features F.
    hidden_channels : int, default 32
    out_channels : int, default 16
        Embedding dimension.
    dropout : float, default 0.0
        Dropout on the hidden layer while training.

    Example
    -------
    >>> enc = SAGEEncoder(3, 8, 4)
    >>> enc(torch.randn(5, 3), torch.tensor([[0, 1], [1, 0]])).shape
    torch.Size([5, 4])

    References
    ----------
    Hamilton, Ying & Leskovec (2017). Inductive Representation Learning on Large Graphs. NeurIPS.
    Morris et al. (2019). Weisfeiler and Leman Go Neural: Higher-order Graph Neural Networks. AAAI.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 16, dropout: float = 0.0):
        super().__init__()
        self.conv1 = GraphConv(in_channels, hidden_channels, aggr="add")
        self.conv2 = GraphConv(hidden_channels, out_channels, aggr="add")
        self.dropout = dropout

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Embed every node: ``x`` [N, F], ``edge_index`` [2, E] (Tensor or EdgeIndex sorted by
        target), optional raw tie strengths ``edge_weight`` [E] -> Tensor [N, out_channels]."""
        norm = mean_neighbour_weights(edge_index, x.size(0), edge_weight)
        h = self.conv1(x, edge_index, norm).relu()
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.conv2(h, edge_index, norm)


class ChurnGNN(torch.nn.Module):
    """End-to-end churn GNN: :class:`SAGEEncoder` followed by a linear head giving a logit.

    Parameters
    ----------
    in_channels : int
    hidden_channels : int, default 32
    embedding_dim : int, default 16
    dropout : float, default 0.0

    Example
    -------
    >>> model = ChurnGNN(3)
    >>> model(torch.randn(5, 3), torch.tensor([[0, 1], [1, 0]])).shape
    torch.Size([5])

    References
    ----------
    Hamilton, Ying & Leskovec (2017). Inductive Representation Learning on Large Graphs. NeurIPS.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, embedding_dim: int = 16, dropout: float = 0.0):
        super().__init__()
        self.encoder = SAGEEncoder(in_channels, hidden_channels, embedding_dim, dropout)
        self.head = torch.nn.Linear(embedding_dim, 1)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Churn logits, Tensor [N]."""
        return self.head(self.encoder(x, edge_index, edge_weight)).squeeze(-1)


class GraphSAGEEmbedder:
    """Inductive GraphSAGE node embeddings, scikit-learn style.

    ``fit`` on the training cut-off's graph, ``transform`` / ``predict_proba`` on any graph with
    the same feature columns (typically the scoring cut-off's). Input features are standardised
    with the mean and standard deviation of the fitted graph (``mean_``, ``std_``); missing
    values (NaN) become the mean.

    Training is full-batch: every epoch is one forward/backward pass over the whole graph and
    one Adam step (NeighborLoader needs pyg-lib or torch-sparse, which are not installed).

    Parameters
    ----------
    dim : int, default 16
        Embedding dimension.
    hidden : int, default 32
        Hidden layer width.
    epochs : int, default 60
        Full-batch optimisation steps.
    lr : float, default 0.02
        Adam learning rate.
    objective : {"supervised", "link"}, default "supervised"
        ``"supervised"``: class-weighted binary cross-entropy of a linear head on the nodes in
        ``data.train_mask`` with labels ``data.y`` (the :class:`ChurnGNN`); the embedding is the
        encoder output. ``"link"``: unsupervised link prediction, the dot product of two
        embeddings scores an edge against pairs from
        :func:`torch_geometric.utils.negative_sampling` (Hamilton et al. 2017, sec. 3.2).
    seed : int, default 0
    batch_size : int, optional
        Number of loss terms (labelled nodes, or edges plus as many non-edges) sampled per
        epoch; None uses them all. Message passing stays full-batch either way.
    weighted : bool, default True
        Weight the neighbour mean by tie strength (``data.edge_weight``).
    dropout : float, default 0.0
        Dropout on the hidden layer while training.
    weight_decay : float, default 0.0
        Adam's L2 penalty.
    validation_fraction : float, optional
        Supervised only: hold out this share of the labelled nodes (seeded), score them by ROC
        AUC after every epoch, keep the best epoch's weights and stop after ``patience`` epochs
        without improvement. A full-batch GNN otherwise memorises its training labels.
    patience : int, default 20
    n_jobs : int or None, default 1
        Torch threads while fitting and embedding (None: torch's current setting). With the
        default, results are bit-identical on any machine (threads add partial sums in another
        order); see docs/results.md for how it compares in speed.

    Attributes
    ----------
    model_ : ChurnGNN or SAGEEncoder
    encoder_ : SAGEEncoder
    mean_, std_ : ndarray [F]
    n_features_in_ : int
    loss_history_ : list of float
        Training loss per epoch.
    n_iter_ : int
        Epochs run.
    validation_scores_ : list of float
        Validation ROC AUC per epoch (empty without ``validation_fraction``).
    best_validation_score_, best_epoch_ : float, int
        The kept epoch (0-based) and its validation AUC (None without ``validation_fraction``).

    Example
    -------
    Two triangles joined by one tie; the embeddings of a graph seen in training or of a new
    one come from the same weights (inductive):

    >>> import torch
    >>> from torch_geometric.data import Data
    >>> edges = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3, 2, 3],
    ...                       [1, 0, 2, 1, 0, 2, 4, 3, 5, 4, 3, 5, 3, 2]])
    >>> data = Data(x=torch.rand(6, 3, generator=torch.Generator().manual_seed(0)),
    ...             edge_index=edges)
    >>> emb = GraphSAGEEmbedder(dim=4, epochs=5, objective="link", seed=0).fit(data)
    >>> emb.transform(data).shape
    (6, 4)

    References
    ----------
    Hamilton, Ying & Leskovec (2017). Inductive Representation Learning on Large Graphs. NeurIPS.
    """

    def __init__(
        self,
        dim: int = 16,
        hidden: int = 32,
        epochs: int = 60,
        lr: float = 0.02,
        objective: str = "supervised",
        seed: int = 0,
        batch_size: int | None = None,
        weighted: bool = True,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        validation_fraction: float | None = None,
        patience: int = 20,
        n_jobs: int | None = 1,
    ):
        self.dim = dim
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.objective = objective
        self.seed = seed
        self.batch_size = batch_size
        self.weighted = weighted
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_jobs = n_jobs

    # -- helpers ---------------------------------------------------------------------------

    def _features(self, data) -> Tensor:
        x = np.asarray(data.x.detach().cpu().numpy() if isinstance(data.x, Tensor) else data.x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != int(data.num_nodes):
            raise ValueError(f"data.x must have shape [num_nodes, n_features], got {x.shape}")
        if hasattr(self, "n_features_in_") and x.shape[1] != self.n_features_in_:
            raise ValueError(f"data.x has {x.shape[1]} features, the embedder was fitted on {self.n_features_in_}")
        z = (x - self.mean_) / self.std_
        return torch.from_numpy(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32))

    def _graph(self, data, *, training: bool):
        index, weight = _sorted_edge_index(data, cache_transpose=training)
        return index, (weight if self.weighted else None)

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("GraphSAGEEmbedder is not fitted yet: call fit(data) first")

    # -- API -------------------------------------------------------------------------------

    def fit(self, data) -> GraphSAGEEmbedder:
        """Learn the encoder on ``data`` (the training cut-off's graph). Returns self."""
        if self.objective not in ("supervised", "link"):
            raise ValueError(f"objective must be 'supervised' or 'link', got {self.objective!r}")
        for name in ("n_features_in_", "mean_", "std_"):
            self.__dict__.pop(name, None)
        x_raw = np.asarray(data.x.detach().cpu().numpy(), dtype=np.float64)
        with np.errstate(all="ignore"):
            mean = np.nanmean(x_raw, axis=0) if x_raw.shape[0] else np.zeros(x_raw.shape[1])
            std = np.nanstd(x_raw, axis=0) if x_raw.shape[0] else np.ones(x_raw.shape[1])
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.mean_, self.std_ = mean.astype(np.float32), std.astype(np.float32)
        x = self._features(data)
        self.n_features_in_ = x.shape[1]
        edge_index, edge_weight = self._graph(data, training=True)
        n = x.shape[0]

        validation_idx = None
        if self.objective == "supervised":
            if getattr(data, "y", None) is None:
                raise ValueError("objective='supervised' needs node labels data.y (or use objective='link')")
            y = torch.as_tensor(data.y, dtype=torch.float32).reshape(-1)
            mask = getattr(data, "train_mask", None)
            mask = torch.isfinite(y) if mask is None else torch.as_tensor(mask, dtype=torch.bool) & torch.isfinite(y)
            train_idx = mask.nonzero().view(-1)
            if self.validation_fraction:
                held_out = np.random.default_rng(self.seed).random(train_idx.numel()) < self.validation_fraction
                held_out = torch.from_numpy(held_out)
                validation_idx, train_idx = train_idx[held_out], train_idx[~held_out]
                y_validation = y[validation_idx].numpy()
                if not 0 < y_validation.sum() < y_validation.size:
                    raise ValueError("validation_fraction leaves no churner or no non-churner in the validation share")
            n_pos = int((y[train_idx] > 0.5).sum())
            n_neg = train_idx.numel() - n_pos
            if n_pos == 0 or n_neg == 0:
                raise ValueError("supervised GraphSAGE needs both churners and non-churners in train_mask")
            pos_weight = torch.tensor(n_neg / n_pos)  # class weighting: both classes weigh the same in total
        else:
            ei = data.edge_index.to(torch.long)
            positive = ei[:, ei[0] < ei[1]]  # each undirected edge once
            if positive.size(1) == 0:
                raise ValueError("link objective needs at least one edge")

        validating = validation_idx is not None
        self.loss_history_, self.validation_scores_ = [], []
        self.best_validation_score_, self.best_epoch_ = None, None
        with _seeded(self.seed, self.n_jobs):
            if self.objective == "supervised":
                self.model_ = ChurnGNN(self.n_features_in_, self.hidden, self.dim, self.dropout)
                self.encoder_ = self.model_.encoder
            else:
                self.model_ = SAGEEncoder(self.n_features_in_, self.hidden, self.dim, self.dropout)
                self.encoder_ = self.model_
            optimiser = torch.optim.Adam(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            best_state = None
            self.model_.train()
            for epoch in range(self.epochs):
                optimiser.zero_grad()
                if self.objective == "supervised":
                    batch = train_idx
                    if self.batch_size is not None and self.batch_size < batch.numel():
                        batch = batch[torch.randperm(batch.numel())[: self.batch_size]]
                    logits = self.model_(x, edge_index, edge_weight)
                    loss = F.binary_cross_entropy_with_logits(logits[batch], y[batch], pos_weight=pos_weight)
                else:
                    pos = positive
                    if self.batch_size is not None and self.batch_size < pos.size(1):
                        pos = pos[:, torch.randperm(pos.size(1))[: self.batch_size]]
                    neg = negative_sampling(ei, num_nodes=n, num_neg_samples=pos.size(1))
                    z = self.model_(x, edge_index, edge_weight)
                    pos_score = (z[pos[0]] * z[pos[1]]).sum(-1)
                    neg_score = (z[neg[0]] * z[neg[1]]).sum(-1)
                    loss = F.binary_cross_entropy_with_logits(
                        pos_score, torch.ones_like(pos_score)
                    ) + F.binary_cross_entropy_with_logits(neg_score, torch.zeros_like(neg_score))
                loss.backward()
                optimiser.step()
                self.loss_history_.append(loss.item())
                if validating:
                    score = self._validation_auc(x, edge_index, edge_weight, validation_idx, y_validation)
                    self.validation_scores_.append(score)
                    if self.best_validation_score_ is None or score > self.best_validation_score_:
                        self.best_validation_score_, self.best_epoch_ = score, epoch
                        best_state = {k: v.clone() for k, v in self.model_.state_dict().items()}
                    elif epoch - self.best_epoch_ >= self.patience:
                        break
            if best_state is not None:
                self.model_.load_state_dict(best_state)
            self.n_iter_ = len(self.loss_history_)
            self.model_.eval()
        return self

    def _validation_auc(self, x, edge_index, edge_weight, validation_idx, y_validation) -> float:
        from sklearn.metrics import roc_auc_score

        self.model_.eval()
        with torch.no_grad():
            logits = self.model_(x, edge_index, edge_weight)[validation_idx].numpy()
        self.model_.train()
        return float(roc_auc_score(y_validation, logits))

    @torch.no_grad()
    def transform(self, data) -> np.ndarray:
        """Embeddings of every node of ``data`` (any graph with the fitted feature columns).

        Returns
        -------
        ndarray [N, dim], float32
        """
        self._check_fitted()
        x = self._features(data)
        edge_index, edge_weight = self._graph(data, training=False)
        with _seeded(self.seed, self.n_jobs):
            return self.encoder_(x, edge_index, edge_weight).numpy()

    def fit_transform(self, data) -> np.ndarray:
        """``fit(data).transform(data)``."""
        return self.fit(data).transform(data)

    @torch.no_grad()
    def predict_proba(self, data) -> np.ndarray:
        """Churn probability of every node of ``data`` (supervised objective only).

        Returns
        -------
        ndarray [N], float64
        """
        self._check_fitted()
        if self.objective != "supervised":
            raise RuntimeError("predict_proba needs objective='supervised'")
        x = self._features(data)
        edge_index, edge_weight = self._graph(data, training=False)
        with _seeded(self.seed, self.n_jobs):
            return torch.sigmoid(self.model_(x, edge_index, edge_weight)).double().numpy()


# --------------------------------------------------------------------------------------------
# node2vec
# --------------------------------------------------------------------------------------------


def weighted_adjacency(data) -> sp.csr_matrix:
    """The graph of ``data`` as a CSR matrix of tie strengths (1 where ``edge_weight`` is absent).

    Row ``i`` lists the out-neighbours of ``i`` (sorted); duplicate edges are summed.
    """
    n = int(data.num_nodes)
    ei = data.edge_index.detach().cpu().numpy()
    w = getattr(data, "edge_weight", None)
    w = np.ones(ei.shape[1]) if w is None else w.detach().cpu().numpy().astype(np.float64)
    adjacency = sp.csr_matrix((w, (ei[0], ei[1])), shape=(n, n))
    adjacency.sum_duplicates()
    return adjacency


def random_walks(
    adjacency: sp.csr_matrix,
    starts: np.ndarray,
    walk_length: int,
    p: float = 1.0,
    q: float = 1.0,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Weighted node2vec random walks, all walkers stepping at once.

    From node ``v`` reached from ``t`` the walk moves to neighbour ``x`` with probability
    proportional to ``w_vx * alpha(t, x)``, where ``alpha = 1/p`` if ``x == t``, ``1`` if ``x``
    is a neighbour of ``t`` and ``1/q`` otherwise; the first step (no ``t``) and ``p = q = 1``
    give the tie-strength-weighted DeepWalk walk. The second-order bias is sampled exactly by
    rejection (propose by weight, accept with ``alpha / max(alpha)``), as in KnightKing (Yang et
    al. 2019), so no per-edge transition table is stored.

    Parameters
    ----------
    adjacency : scipy.sparse.csr_matrix [N, N]
        Tie strengths > 0, sorted indices (see :func:`weighted_adjacency`).
    starts : ndarray of int [W]
        Start node of each walk.
    walk_length : int
        Nodes per walk, the start included.
    p, q : float, default 1.0
        Return and in-out parameters of node2vec.
    seed : int or numpy Generator

    Returns
    -------
    ndarray [W, walk_length], int64
        Node ids; -1 after a walk reaches a node without out-edges (e.g. an isolated start).

    Example
    -------
    >>> A = sp.csr_matrix(np.array([[0, 1.0], [1.0, 0]]))
    >>> random_walks(A, np.array([0, 1]), 4)
    array([[0, 1, 0, 1],
           [1, 0, 1, 0]])

    References
    ----------
    Perozzi, Al-Rfou & Skiena (2014). DeepWalk: Online Learning of Social Representations. KDD.
    Grover & Leskovec (2016). node2vec: Scalable Feature Learning for Networks. KDD.
    Yang et al. (2019). KnightKing: A Fast Distributed Graph Random Walk Engine. SOSP.
    """
    return _WalkSampler(adjacency).walk(starts, walk_length, p, q, seed)


class _WalkSampler:
    """The CSR arrays :func:`random_walks` needs, computed once per graph (a fit walks in blocks)."""

    def __init__(self, adjacency: sp.csr_matrix):
        self.n = adjacency.shape[0]
        self.indptr = adjacency.indptr.astype(np.int64)
        self.indices = adjacency.indices.astype(np.int64)
        self.cumulative = np.cumsum(adjacency.data, dtype=np.float64)
        padded = np.concatenate([[0.0], self.cumulative])
        self.row_start = padded[self.indptr[:-1]]  # weight mass before each row
        self.row_mass = padded[self.indptr[1:]] - self.row_start
        self.degree = np.diff(self.indptr)
        self._edge_keys = None

    @property
    def edge_keys(self) -> np.ndarray:
        # Edge (t, x) exists iff t * n + x is among these keys (sorted: rows, then columns).
        if self._edge_keys is None:
            rows = np.repeat(np.arange(self.n, dtype=np.int64), self.degree)
            self._edge_keys = rows * self.n + self.indices
        return self._edge_keys

    def step_by_weight(self, current: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One neighbour of each node in ``current``, drawn with probability proportional to weight."""
        # Inverse-CDF sampling inside each node's row of the global cumulative weights. The
        # targets are searched in sorted order: consecutive binary searches then walk the
        # cumulative array forwards, which is cache-friendly where random order is not
        # (measured in docs/results.md).
        target = self.row_start[current] + rng.random(current.size) * self.row_mass[current]
        order = np.argsort(target)
        pos = np.empty(current.size, dtype=np.int64)
        pos[order] = np.searchsorted(self.cumulative, target[order], side="right")
        return self.indices[np.clip(pos, self.indptr[current], self.indptr[current + 1] - 1)]

    def walk(self, starts, walk_length: int, p: float = 1.0, q: float = 1.0, seed=0) -> np.ndarray:
        if p <= 0 or q <= 0:
            raise ValueError("p and q must be positive")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        biased = p != 1.0 or q != 1.0
        max_alpha = max(1.0 / p, 1.0, 1.0 / q)
        starts = np.asarray(starts, dtype=np.int64)
        walks = np.full((starts.size, walk_length), -1, dtype=np.int64)
        if walk_length == 0:
            return walks
        walks[:, 0] = starts
        for k in range(1, walk_length):
            current = walks[:, k - 1]
            alive = np.flatnonzero(current >= 0)
            alive = alive[self.degree[current[alive]] > 0]
            if alive.size == 0:
                break
            if not biased or k == 1:
                walks[alive, k] = self.step_by_weight(current[alive], rng)
                continue
            # node2vec bias by rejection: propose by weight, accept with alpha / max(alpha).
            edge_keys, pending = self.edge_keys, alive
            while pending.size:
                previous = walks[pending, k - 2]
                proposal = self.step_by_weight(current[pending], rng)
                keys = previous * self.n + proposal
                pos = np.minimum(np.searchsorted(edge_keys, keys), edge_keys.size - 1)
                alpha = np.where(proposal == previous, 1.0 / p, np.where(edge_keys[pos] == keys, 1.0, 1.0 / q))
                accept = rng.random(pending.size) * max_alpha < alpha
                walks[pending[accept], k] = proposal[accept]
                pending = pending[~accept]
        return walks


def _skipgram_pairs(walks: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) pairs: each node with the nodes up to ``b`` steps after it.

    ``b`` is drawn uniformly from 1..``window`` for every walk position, word2vec's "dynamic
    window": near neighbours in the walk weigh more, and an epoch costs (window + 1) / 2 pairs
    per position instead of ``window``. Pairs are taken in walk order only: a random walk on an
    undirected graph is reversible, so the reversed pair is as likely to come from another walk,
    and taking both orders (as word2vec does on text) would double the cost for the same
    statistics.
    """
    reach = rng.integers(1, window + 1, size=walks.shape, dtype=np.int32) if window > 0 else None
    centres, contexts = [], []
    for offset in range(1, min(window, walks.shape[1] - 1) + 1):
        a, b = walks[:, :-offset], walks[:, offset:]
        keep = (a >= 0) & (b >= 0) & (reach[:, :-offset] >= offset)
        centres.append(a[keep])
        contexts.append(b[keep])
    if not centres:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


def skipgram_loss_and_gradients(u: Tensor, v: Tensor, v_noise: Tensor) -> tuple[float, Tensor, Tensor, Tensor]:
    r"""Skip-gram negative-sampling loss of a batch of pairs and its gradients, in closed form.

    .. math::
        L = -\sum_b \Big[\log\sigma(u_b \cdot v_b) + \sum_k \log\sigma(-u_b \cdot n_{bk})\Big]

    The gradients are word2vec's: ``dL/du = (sigma(u.v) - 1) v + sum_k sigma(u.n_k) n_k``,
    ``dL/dv = (sigma(u.v) - 1) u``, ``dL/dn_k = sigma(u.n_k) u``. Written out because they
    are faster than autograd through the gathers on CPU (docs/results.md); a test checks them
    against autograd.

    Parameters
    ----------
    u : Tensor [B, D]
        Centre-node vectors.
    v : Tensor [B, D]
        Context-node vectors.
    v_noise : Tensor [B, K, D]
        Context vectors of the K noise nodes of each pair.

    Returns
    -------
    loss : float
        Summed over the batch.
    grad_u, grad_v, grad_noise : Tensor [B, D], [B, D], [B, K, D]

    References
    ----------
    Mikolov et al. (2013). Distributed Representations of Words and Phrases and their
    Compositionality. NeurIPS.
    """
    score = (u * v).sum(-1)
    noise_score = torch.bmm(v_noise, u.unsqueeze(-1)).squeeze(-1)
    loss = -(F.logsigmoid(score).sum() + F.logsigmoid(-noise_score).sum())
    pull = torch.sigmoid(score) - 1.0  # dL/d score
    push = torch.sigmoid(noise_score)  # dL/d noise_score
    grad_u = pull.unsqueeze(-1) * v + torch.bmm(push.unsqueeze(1), v_noise).squeeze(1)
    grad_v = pull.unsqueeze(-1) * u
    grad_noise = push.unsqueeze(-1) * u.unsqueeze(1)
    return loss.item(), grad_u, grad_v, grad_noise


def _rowwise_adagrad_(table: Tensor, state: Tensor, rows: Tensor, grad: Tensor, lr: float) -> None:
    """Row-wise Adagrad step on ``table[rows]`` (distinct rows), in place.

    ``state[r]`` accumulates the mean squared gradient of row ``r``; the row moves by
    ``lr * grad / sqrt(state[r])``. One scalar of state per row (Lerer et al. 2019, PyTorch-
    BigGraph) instead of Adam's two vectors: the update touches a third of the memory, and
    there is no sparse bookkeeping as in SparseAdam, which dominated each step
    (docs/results.md).
    """
    state.index_add_(0, rows, grad.pow(2).mean(1))
    scale = torch.index_select(state, 0, rows).sqrt_().clamp_(min=1e-10).reciprocal_().mul_(-lr)
    table.index_add_(0, rows, grad * scale.unsqueeze(1))


class Node2VecEmbedder:
    """node2vec / DeepWalk embeddings from tie-strength-weighted random walks.

    Walks come from :func:`random_walks` (weighted by ``data.edge_weight``; ``p = q = 1`` is
    DeepWalk biased by tie strength); node pairs within ``window`` steps of each other train a
    skip-gram model with negative sampling: an input vector per node (the embedding) and a
    context vector per node, ``negative`` noise nodes per pair drawn from the walk frequency
    (node strength) to the power 3/4, as in word2vec. Training uses row-wise Adagrad on the rows
    present in each batch (as PyTorch-BigGraph does): the adaptive step keeps hubs, which recur
    many times in a batch, from taking outsized steps, and with one scalar of state per node it
    is much faster per step on large graphs than ``nn.Embedding(sparse=True)`` +
    ``SparseAdam`` (with closed-form gradients and sorted CDF searches; measurements in
    docs/results.md and ``experiments/results/bench_embed.md``). Isolated nodes appear in no
    walk and keep their small random initial vectors.

    Transductive: the vectors belong to the nodes of the fitted graph; to embed another
    cut-off's graph, fit again (or use :class:`GraphSAGEEmbedder`, which is inductive).

    Parameters
    ----------
    dim : int, default 16
    walk_length : int, default 20
    walks_per_node : int, default 5
    window : int, default 5
        Context size: nodes at most ``window`` steps apart form a pair.
    p, q : float, default 1.0
        node2vec return and in-out parameters.
    epochs : int, default 1
        Passes over a fresh set of walks.
    seed : int, default 0
    negative : int, default 1
        Noise nodes per positive pair.
    lr : float, default 0.1
        Row-wise Adagrad learning rate.
    batch_size : int, default 512
        Walks per optimisation step, lowered on small graphs so that an epoch makes at least
        100 steps.
    n_jobs : int or None, default 1
        Torch threads while fitting and embedding (None: torch's current setting). With the
        default, results are bit-identical on any machine (threads add partial sums in another
        order); see docs/results.md for how it compares in speed.

    Attributes
    ----------
    embedding_ : ndarray [N, dim], float32
    n_nodes_ : int
    loss_history_ : list of float
        Mean loss per epoch.

    Example
    -------
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> ring = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    >>> data = Data(edge_index=torch.cat([ring, ring.flip(0)], dim=1), num_nodes=6)
    >>> Node2VecEmbedder(dim=8, epochs=1, seed=0).fit_transform(data).shape
    (6, 8)

    References
    ----------
    Perozzi, Al-Rfou & Skiena (2014). DeepWalk: Online Learning of Social Representations. KDD.
    Grover & Leskovec (2016). node2vec: Scalable Feature Learning for Networks. KDD.
    Mikolov et al. (2013). Distributed Representations of Words and Phrases and their
    Compositionality. NeurIPS.
    Lerer et al. (2019). PyTorch-BigGraph: A Large-scale Graph Embedding System. SysML.
    """

    # Walks are generated in blocks of this many walkers (vectorised) and then fed to the
    # optimiser `batch_size` walks at a time; bounds memory at 1M nodes.
    _WALK_BLOCK = 65536
    # Small graphs have few walks: shrink the batch so an epoch still makes this many steps.
    _MIN_STEPS_PER_EPOCH = 100

    def __init__(
        self,
        dim: int = 16,
        walk_length: int = 20,
        walks_per_node: int = 5,
        window: int = 5,
        p: float = 1.0,
        q: float = 1.0,
        epochs: int = 1,
        seed: int = 0,
        negative: int = 1,
        lr: float = 0.1,
        batch_size: int = 512,
        n_jobs: int | None = 1,
    ):
        self.dim = dim
        self.walk_length = walk_length
        self.walks_per_node = walks_per_node
        self.window = window
        self.p = p
        self.q = q
        self.epochs = epochs
        self.seed = seed
        self.negative = negative
        self.lr = lr
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def fit(self, data) -> Node2VecEmbedder:
        """Generate walks on ``data``'s graph and train the skip-gram model. Returns self."""
        adjacency = weighted_adjacency(data)
        n = adjacency.shape[0]
        strength = np.asarray(adjacency.sum(axis=1)).ravel()
        walkable = np.flatnonzero(np.diff(adjacency.indptr) > 0)

        # Noise distribution as a lookup table (word2vec's unigram table): O(1) per draw.
        noise = strength**0.75
        table_size = max(8 * n, 1 << 16)
        counts = np.floor(noise / max(noise.sum(), 1e-300) * table_size + 0.5).astype(np.int64)
        noise_table = np.repeat(np.arange(n, dtype=np.int64), counts)
        if noise_table.size == 0:
            noise_table = np.arange(n, dtype=np.int64)

        sampler = _WalkSampler(adjacency)
        rng = np.random.default_rng(self.seed)
        self.loss_history_ = []
        with _seeded(self.seed, self.n_jobs):
            node_vectors = torch.empty(n, self.dim).uniform_(-0.5 / self.dim, 0.5 / self.dim)
            context_vectors = torch.zeros(n, self.dim)  # word2vec's initialisation
            node_state, context_state = torch.zeros(n), torch.zeros(n)
            for _ in range(self.epochs):
                starts = rng.permutation(np.repeat(walkable, self.walks_per_node))
                batch_size = max(1, min(self.batch_size, -(-starts.size // self._MIN_STEPS_PER_EPOCH)))
                total, pairs_seen = 0.0, 0
                for block_start in range(0, starts.size, self._WALK_BLOCK):
                    walks = sampler.walk(
                        starts[block_start : block_start + self._WALK_BLOCK], self.walk_length, self.p, self.q, rng
                    )
                    for batch_start in range(0, walks.shape[0], batch_size):
                        centre, context = _skipgram_pairs(walks[batch_start : batch_start + batch_size], self.window, rng)
                        if centre.size == 0:
                            continue
                        noise_nodes = noise_table[rng.integers(0, noise_table.size, centre.size * self.negative)]
                        total += self._step(
                            node_vectors, context_vectors, node_state, context_state,
                            torch.from_numpy(centre), torch.from_numpy(context), torch.from_numpy(noise_nodes),
                        )
                        pairs_seen += centre.size
                self.loss_history_.append(total / max(pairs_seen, 1))
            self.embedding_ = node_vectors.numpy().copy()
        self.n_nodes_ = n
        return self

    def _step(self, node_vectors, context_vectors, node_state, context_state, centre, context, noise) -> float:
        """One row-wise Adagrad step on the skip-gram loss of a batch of pairs; returns the loss sum.

        Only the batch's distinct rows are read and written (``torch.unique`` +
        ``index_select``), so the cost is proportional to the batch, not to N.
        """
        centre_rows, centre_at = torch.unique(centre, return_inverse=True)
        context_rows, context_at = torch.unique(torch.cat([context, noise]), return_inverse=True)
        u_rows = torch.index_select(node_vectors, 0, centre_rows)
        c_rows = torch.index_select(context_vectors, 0, context_rows)
        u = F.embedding(centre_at, u_rows)
        v = F.embedding(context_at[: centre.numel()], c_rows)
        v_noise = F.embedding(context_at[centre.numel() :], c_rows).view(centre.numel(), self.negative, self.dim)
        loss, grad_u, grad_v, grad_noise = skipgram_loss_and_gradients(u, v, v_noise)
        u_grad = torch.zeros_like(u_rows).index_add_(0, centre_at, grad_u)
        c_grad = torch.zeros_like(c_rows).index_add_(0, context_at, torch.cat([grad_v, grad_noise.reshape(-1, self.dim)]))
        _rowwise_adagrad_(node_vectors, node_state, centre_rows, u_grad, self.lr)
        _rowwise_adagrad_(context_vectors, context_state, context_rows, c_grad, self.lr)
        return loss

    def transform(self, data=None) -> np.ndarray:
        """The fitted embeddings, ndarray [N, dim] float32.

        ``data``, if given, must be the fitted graph (node2vec is transductive): only its node
        count is checked.
        """
        if not hasattr(self, "embedding_"):
            raise RuntimeError("Node2VecEmbedder is not fitted yet: call fit(data) first")
        if data is not None and int(data.num_nodes) != self.n_nodes_:
            raise ValueError(
                f"node2vec is transductive: fitted on {self.n_nodes_} nodes, got a graph with "
                f"{int(data.num_nodes)}; fit on that graph or use GraphSAGEEmbedder"
            )
        return self.embedding_.copy()

    def fit_transform(self, data) -> np.ndarray:
        """``fit(data).transform()``."""
        return self.fit(data).transform()
