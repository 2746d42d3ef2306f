"""The library's random-number helpers: one seed convention for every random step.

Every function that draws random numbers takes ``seed`` (an int; the same seed gives the same
result in any process). Two kinds of generator are used:

- :func:`seeded_igraph_rng` for igraph's algorithms (community detection, ARPACK starts),
  which draw through a process-wide Python generator;
- :func:`counter_uniform`, counter-based numbers: a pure function of ``(seed, stream, key)``,
  so that a Monte Carlo cascade's simulation ``s`` is one fixed "possible world" whatever the
  seed set is. A before/after comparison then uses common random numbers, and a vertex's reach
  can be recomputed locally (watch mode) and equal a full recompute exactly.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import igraph
import numpy as np

__all__ = ["seeded_igraph_rng", "counter_uniform", "mix64"]


@contextlib.contextmanager
def seeded_igraph_rng(seed: int) -> Iterator[None]:
    """Make igraph's random steps reproducible inside a ``with`` block.

    igraph draws random numbers through a Python object (by default the ``random`` module).
    A private ``random.Random(seed)`` is installed for the block and the default generator is
    put back afterwards, so the global ``random`` state is neither read nor advanced. The
    generator is process-wide igraph state: do not run seeded igraph calls from several
    threads at once.

    Parameters
    ----------
    seed : int
        Seed of the private generator.

    Example
    -------
    >>> g = igraph.Graph.Famous("Zachary")
    >>> with seeded_igraph_rng(3):
    ...     a = g.community_label_propagation().membership
    >>> with seeded_igraph_rng(3):
    ...     b = g.community_label_propagation().membership
    >>> a == b
    True
    """
    igraph.set_random_number_generator(random.Random(int(seed)))
    try:
        yield
    finally:
        # igraph's default generator is the ``random`` module itself.
        igraph.set_random_number_generator(random)


def mix64(z):
    """SplitMix64 finaliser (Steele, Lea & Flood 2014) on a uint64 array."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def counter_uniform(seed, stream, keys):
    """Uniform numbers in [0, 1), a pure function of ``(seed, stream, key)`` for each key."""
    with np.errstate(over="ignore"):
        base = mix64(np.asarray([(int(seed) % (1 << 60)) * 8 + stream], dtype=np.uint64))
        z = mix64(np.asarray(keys, dtype=np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                   + base)
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
