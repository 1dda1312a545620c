"""Batched Monte Carlo tree search for MuZero, on lobzero's Rust tree.

`MctsBatch` holds B search trees in struct-of-arrays form, preallocated for the simulation
budget. A search is driven from Python, one model call per simulation for the whole batch::

    batch = MctsBatch(num_roots=B, num_actions=A, num_simulations=S, discount=0.997, seed=0)
    batch.reset(prior_logits, values, noise=True)         # [B, A] float32, [B] float32
    latents[:, 0] = root_latent                            # caller's store, [B, N, ...]
    for s in range(S):
        parent_slot, action = batch.select()               # [B] int64 each
        reward, value, logits, nxt = model(latents[arange(B), parent_slot], action)
        latents[:, s + 1] = nxt                            # simulation s expands slot s + 1
        batch.backup(reward, value, logits)                # [B], [B], [B, A]
    target = batch.policy_target()                         # [B, A] float32, rows sum to 1
    action = batch.select_action(temperature=1.0)          # [B] int64

Slots: the root is slot 0 and the node expanded by simulation s is slot s + 1, so the store has
`batch.capacity` (N) slots per tree; with `reuse_subtree=True`, `batch.next_slots()` gives the
slot each tree writes next. Inputs are read in place when they are C-contiguous float32 (bool
for masks); other dtypes are converted. The GIL is released during the tree work.

Configuration keywords (defaults): ``algorithm`` ("muzero" PUCT or "gumbel" Gumbel MuZero),
``discount`` (0.997), ``pb_c_base`` (19652), ``pb_c_init`` (1.25), ``dirichlet_alpha`` (0.3),
``exploration_fraction`` (0.25), ``value_bounds`` (None: min-max over each tree),
``unvisited_value`` ("zero", as the MuZero pseudocode, or "parent"),
``max_considered_actions`` (16),
``gumbel_c_visit`` (50), ``gumbel_c_scale`` (0.1), ``reuse_subtree`` (False), ``seed`` (0).

PUCT follows the MuZero pseudocode: ``pb_c = ln((N + base + 1) / base) + init``, times
``sqrt(N) / (n + 1)``, times the prior, plus the child's Q ``reward + discount * value``
normalized to [0, 1] by the tree's min-max statistics (0 while fewer than two distinct Q values
were seen, and for unvisited children under the "zero" rule). Ties go to the lowest action index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lobzero._core import MctsBatch

__all__ = ["MctsBatch", "SearchResult", "search"]

RootFn = Callable[[Any], tuple[Any, Any, Any]]
"""observation -> (latent [B, ...], value [B], prior_logits [B, A])"""
RecurrentFn = Callable[[Any, Any], tuple[Any, Any, Any, Any]]
"""(latent [B, ...], action [B] int64) -> (next_latent [B, ...], reward [B], value [B],
prior_logits [B, A])"""


@dataclass(frozen=True)
class SearchResult:
    """What `search` returns (B roots, A actions)."""

    action: npt.NDArray[np.int64]
    """[B] action to play (see `MctsBatch.select_action`)."""
    policy_target: npt.NDArray[np.float32]
    """[B, A] training target for the policy head; rows sum to 1."""
    root_value: npt.NDArray[np.float32]
    """[B] mean value of each root after the search."""
    root_visit_counts: npt.NDArray[np.int64]
    """[B, A] visits of each root action."""
    batch: MctsBatch
    """The searched trees (for inspection or `reuse_subtree`)."""


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _to_numpy(x: Any, dtype: type) -> np.ndarray:
    """A numpy view of a numpy array or (CPU copy of a) torch tensor."""
    if _is_torch(x):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=dtype)


class _LatentStore:
    """The caller's latents, [B, N, ...], indexed by tree and slot (numpy or torch)."""

    def __init__(self, root_latent: Any, capacity: int) -> None:
        self.torch = _is_torch(root_latent)
        b, *rest = root_latent.shape
        if self.torch:
            self.data = root_latent.new_empty((b, capacity, *rest))
            import torch

            self._index = lambda a: torch.from_numpy(a).to(root_latent.device)
        else:
            root_latent = np.asarray(root_latent)
            self.data = np.empty((b, capacity, *rest), dtype=root_latent.dtype)
            self._index = lambda a: a
        self.rows = self._index(np.arange(b, dtype=np.int64))
        self.data[:, 0] = root_latent

    def get(self, slots: npt.NDArray[np.int64]) -> Any:
        return self.data[self.rows, self._index(slots)]

    def put(self, slots: npt.NDArray[np.int64], latent: Any) -> None:
        self.data[self.rows, self._index(slots)] = latent


def search(
    root_fn: RootFn,
    recurrent_fn: RecurrentFn,
    observation: Any,
    *,
    num_simulations: int = 50,
    noise: bool = True,
    legal_mask: npt.ArrayLike | None = None,
    temperature: float = 0.0,
    batch: MctsBatch | None = None,
    **config: Any,
) -> SearchResult:
    """One batched search in one call, in the spirit of mctx's ``muzero_policy``.

    ``root_fn(observation)`` returns ``(latent [B, ...], value [B], prior_logits [B, A])`` and
    ``recurrent_fn(latent [B, ...], action [B])`` returns ``(next_latent [B, ...], reward [B],
    value [B], prior_logits [B, A])``; latents may be numpy arrays or torch tensors (kept on
    their device; actions are passed as int64 numpy arrays, or as int64 tensors on the latent's
    device for torch). ``legal_mask`` [B, A] bool restricts the root actions. ``batch`` reuses an
    existing `MctsBatch` of the right shape (faster than building one per call); otherwise one
    is built from ``num_simulations`` and the configuration keywords (see the module docs).
    ``temperature`` is passed to `MctsBatch.select_action`.
    """
    latent, value, logits = root_fn(observation)
    logits_np = _to_numpy(logits, np.float32)
    if logits_np.ndim != 2:
        raise ValueError(f"root_fn must return prior_logits of shape [B, A], got {logits_np.shape}")
    num_roots, num_actions = logits_np.shape
    if batch is None:
        batch = MctsBatch(num_roots, num_actions, num_simulations, **config)
    elif config:
        raise TypeError("pass configuration keywords either to MctsBatch or to search, not both")
    batch.reset(logits_np, _to_numpy(value, np.float32), noise, legal_mask)
    store = _LatentStore(latent, batch.capacity)
    to_action = store._index
    for _ in range(batch.num_simulations - batch.simulations_done):
        next_slot = batch.next_slots()
        parent_slot, action = batch.select()
        nxt, reward, value, logits = recurrent_fn(store.get(parent_slot), to_action(action))
        store.put(next_slot, nxt)
        batch.backup(
            _to_numpy(reward, np.float32),
            _to_numpy(value, np.float32),
            _to_numpy(logits, np.float32),
        )
    return SearchResult(
        action=batch.select_action(temperature),
        policy_target=batch.policy_target(),
        root_value=batch.root_values(),
        root_visit_counts=batch.root_visit_counts(),
        batch=batch,
    )
