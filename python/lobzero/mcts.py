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
``gumbel_c_visit`` (50), ``gumbel_c_scale`` (0.1), ``gumbel_scale`` (1: the multiplier of the
root's Gumbel draws with noise, mctx's ``gumbel_scale``), ``reuse_subtree`` (False), ``seed`` (0).

PUCT follows the MuZero pseudocode: ``pb_c = ln((N + base + 1) / base) + init``, times
``sqrt(N) / (n + 1)``, times the prior, plus the child's Q ``reward + discount * value``
normalized to [0, 1] by the tree's min-max statistics (0 while fewer than two distinct Q values
were seen, and for unvisited children under the "zero" rule). Ties go to the lowest action index.

Stochastic MuZero (Antonoglou et al., 2022): `StochasticMctsBatch` adds chance nodes. Decision
nodes (states, children = A actions) alternate with chance nodes (afterstates, children = the C
codes of the chance encoder)::

    batch = StochasticMctsBatch(B, A, S, C, discount=0.997)
    batch.reset(prior_logits, values)                      # the roots are decision nodes
    for s in range(S):
        slot = batch.next_slots()                          # [B] int64, slot of the new node
        parent_slot, index, from_chance = batch.select()   # [B] int64, [B] int64, [B] bool
        # from_chance False: index is an action, the new node an afterstate
        #     afterstate[slot], value, outcome_logits = afterstate_fn(state[parent_slot], index)
        # from_chance True: index is a code, the new node a state
        #     state[slot], reward, value, prior_logits = dynamics_fn(afterstate[parent_slot], index)
        batch.backup(reward, value, prior_logits, outcome_logits)   # [B], [B], [B, A], [B, C]

Each lane reads only the outputs of its kind (reward and prior_logits for a new state,
outcome_logits for a new afterstate; value for both); the other rows are not read. At a chance
node the code `argmax_c prior(c) / (N(c) + 1)` is followed (a deterministic stand-in for
sampling from the chance prior); the Q of an action is the mean value of its afterstate (no
reward, no discount on that edge) and a state's return into its afterstate is
``reward + discount * return`` (one discount per environment step). `stochastic_search` runs
the loop above with three functions. See ``rust/core/src/mcts/chance.rs`` for the rules and
their sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from lobzero._core import MctsBatch, StochasticMctsBatch

__all__ = ["MctsBatch", "SearchResult", "StochasticMctsBatch", "search", "stochastic_search"]

RootFn = Callable[[Any], tuple[Any, Any, Any]]
"""observation -> (latent [B, ...], value [B], prior_logits [B, A])"""
RecurrentFn = Callable[[Any, Any], tuple[Any, Any, Any, Any]]
"""(latent [B, ...], action [B] int64) -> (next_latent [B, ...], reward [B], value [B],
prior_logits [B, A])"""
AfterstateFn = Callable[[Any, Any], tuple[Any, Any, Any]]
"""(state latent [K, ...], action [K] int64) -> (afterstate latent [K, ...], value [K],
outcome_logits [K, C])"""
DynamicsFn = Callable[[Any, Any], tuple[Any, Any, Any, Any]]
"""(afterstate latent [K, ...], code [K] int64) -> (next state latent [K, ...], reward [K],
value [K], prior_logits [K, A])"""


BatchT = TypeVar("BatchT", MctsBatch, StochasticMctsBatch)


@dataclass(frozen=True)
class SearchResult(Generic[BatchT]):
    """What `search` (``SearchResult[MctsBatch]``) and `stochastic_search`
    (``SearchResult[StochasticMctsBatch]``) return (B roots, A actions)."""

    action: npt.NDArray[np.int64]
    """[B] action to play (see `MctsBatch.select_action`)."""
    policy_target: npt.NDArray[np.float32]
    """[B, A] training target for the policy head; rows sum to 1."""
    root_value: npt.NDArray[np.float32]
    """[B] mean value of each root after the search."""
    root_visit_counts: npt.NDArray[np.int64]
    """[B, A] visits of each root action."""
    batch: BatchT
    """The searched trees (for inspection or, deterministic trees only, `reuse_subtree`)."""


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
) -> SearchResult[MctsBatch]:
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


def _checked(logits: Any, shape: tuple[int, int], fn: str) -> np.ndarray:
    """`logits` as float32 numpy, which must have `shape` ([K, C] or [K, A])."""
    out = _to_numpy(logits, np.float32)
    if out.shape != shape:
        raise ValueError(f"{fn} must return logits of shape {list(shape)}, got {list(out.shape)}")
    return out


class _SlotStore:
    """Latents of one kind (states or afterstates), [B, N, ...] indexed by tree and slot, numpy
    or torch; allocated on the first write (its shape and dtype are those of the first batch
    written)."""

    def __init__(self, num_roots: int, capacity: int, like: Any) -> None:
        self.shape = (num_roots, capacity)
        self.torch = _is_torch(like)
        self.data: Any = None
        if self.torch:
            import torch

            device = like.device
            self.index: Callable[[npt.NDArray[np.int64]], Any] = lambda a: torch.from_numpy(a).to(
                device
            )
        else:
            self.index = lambda a: a

    def put(self, rows: npt.NDArray[np.int64], slots: npt.NDArray[np.int64], latent: Any) -> None:
        if self.data is None:
            if self.torch:
                self.data = latent.new_empty((*self.shape, *latent.shape[1:]))
            else:
                latent = np.asarray(latent)
                self.data = np.empty((*self.shape, *latent.shape[1:]), dtype=latent.dtype)
        self.data[self.index(rows), self.index(slots)] = latent

    def get(self, rows: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]) -> Any:
        return self.data[self.index(rows), self.index(slots)]


def stochastic_search(
    root_fn: RootFn,
    afterstate_fn: AfterstateFn,
    dynamics_fn: DynamicsFn,
    observation: Any,
    *,
    chance_outcomes: int | None = None,
    num_simulations: int = 50,
    noise: bool = True,
    legal_mask: npt.ArrayLike | None = None,
    temperature: float = 0.0,
    batch: StochasticMctsBatch | None = None,
    **config: Any,
) -> SearchResult[StochasticMctsBatch]:
    """One batched Stochastic MuZero search (decision and chance nodes) in one call.

    ``root_fn(observation)`` returns ``(state latent [B, ...], value [B], prior_logits [B, A])``;
    ``afterstate_fn(state latent [K, ...], action [K])`` returns ``(afterstate latent [K, ...],
    value [K], outcome_logits [K, C])`` (afterstate dynamics and prediction);
    ``dynamics_fn(afterstate latent [K, ...], code [K])`` returns ``(state latent [K, ...],
    reward [K], value [K], prior_logits [K, A])`` (dynamics and prediction). Each simulation
    calls each function at most once, on the ``K <= B`` lanes whose new node is of its kind
    (not at all when no lane is). Latents may be numpy arrays or torch tensors (kept on their
    device; actions and codes are int64 numpy arrays, or int64 tensors on the latent's device).
    ``chance_outcomes`` is the codebook size C (needed unless ``batch`` is given); ``batch``
    reuses a `StochasticMctsBatch` of the right shape. The other arguments are those of
    `search`.
    """
    latent, value, logits = root_fn(observation)
    logits_np = _to_numpy(logits, np.float32)
    if logits_np.ndim != 2:
        raise ValueError(f"root_fn must return prior_logits of shape [B, A], got {logits_np.shape}")
    num_roots, num_actions = logits_np.shape
    if batch is None:
        if chance_outcomes is None:
            raise TypeError("stochastic_search needs chance_outcomes (C) or a batch")
        batch = StochasticMctsBatch(
            num_roots, num_actions, num_simulations, chance_outcomes, **config
        )
    elif config or chance_outcomes not in (None, batch.chance_outcomes):
        raise TypeError(
            "pass chance_outcomes and configuration keywords either to StochasticMctsBatch "
            "or to stochastic_search, not both"
        )
    batch.reset(logits_np, _to_numpy(value, np.float32), noise, legal_mask)
    states = _SlotStore(num_roots, batch.capacity, latent)
    afterstates = _SlotStore(num_roots, batch.capacity, latent)
    lanes = np.arange(num_roots, dtype=np.int64)
    states.put(lanes, np.zeros(num_roots, np.int64), latent)
    # rows a lane does not fill are not read by backup, so the buffers are reused as they are
    reward_in = np.zeros(num_roots, np.float32)
    value_in = np.zeros(num_roots, np.float32)
    prior_in = np.zeros((num_roots, num_actions), np.float32)
    outcome_in = np.zeros((num_roots, batch.chance_outcomes), np.float32)
    for _ in range(batch.num_simulations - batch.simulations_done):
        slot = batch.next_slots()
        parent, index, from_chance = batch.select()
        if from_chance.all():
            to_state, to_afterstate = lanes, lanes[:0]
        elif not from_chance.any():
            to_state, to_afterstate = lanes[:0], lanes
        else:
            to_state, to_afterstate = np.flatnonzero(from_chance), np.flatnonzero(~from_chance)
        if to_afterstate.size:
            k = to_afterstate
            nxt, v, outcome = afterstate_fn(states.get(k, parent[k]), states.index(index[k]))
            afterstates.put(k, slot[k], nxt)
            value_in[k] = _to_numpy(v, np.float32)
            outcome_in[k] = _checked(outcome, (k.size, batch.chance_outcomes), "afterstate_fn")
        if to_state.size:
            k = to_state
            nxt, r, v, prior = dynamics_fn(afterstates.get(k, parent[k]), states.index(index[k]))
            states.put(k, slot[k], nxt)
            reward_in[k] = _to_numpy(r, np.float32)
            value_in[k] = _to_numpy(v, np.float32)
            prior_in[k] = _checked(prior, (k.size, num_actions), "dynamics_fn")
        batch.backup(reward_in, value_in, prior_in, outcome_in)
    return SearchResult(
        action=batch.select_action(temperature),
        policy_target=batch.policy_target(),
        root_value=batch.root_values(),
        root_visit_counts=batch.root_visit_counts(),
        batch=batch,
    )
