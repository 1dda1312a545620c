"""Typed stubs for the Rust extension `lobzero._core` (checked by `make stubtest`)."""

from collections.abc import Sequence
from os import PathLike
from typing import Any, final

import numpy as np
import numpy.typing as npt

__version__: str

class LobzeroError(Exception): ...
class DataError(LobzeroError): ...
class ParseError(DataError): ...
class InvalidValueError(DataError): ...
class TimestampOrderError(DataError): ...
class CrossedBookError(DataError): ...
class SequenceGapError(DataError): ...
class TruncatedFileError(DataError): ...
class FormatError(DataError): ...
class DataIOError(DataError): ...
class ConfigError(LobzeroError): ...

@final
class Stream:
    """An event stream held in Rust memory. Immutable: its columns are handed to numpy as read-only
    views that keep the stream alive, and environments share it without copies.
    """

    @staticmethod
    def from_columns(
        ts_ns: npt.NDArray[np.int64],
        recv_ts_ns: npt.NDArray[np.int64],
        kind: npt.NDArray[np.uint8],
        side: npt.NDArray[np.int8],
        price_ticks: npt.NDArray[np.int64],
        qty_lots: npt.NDArray[np.int64],
        symbol: str,
        venue: str,
        tick_size: str,
        lot_size: str,
        source: str = "columns",
        contract_size: str = "1",
        inverse: bool = False,
        multiplier: str = "1",
    ) -> Stream:
        """Builds and validates a stream from columns (see the module docs of `lobzero.data` for the
        column meanings). `source` names the input in error messages; `contract_size`,
        `inverse` and `multiplier` are the instrument's contract terms (decimal strings; see
        `lobzero.Instrument`).
        """
    def __len__(self) -> int: ...
    @property
    def start_ns(self) -> int | None:
        """Receive time of the first event, ns (None when empty)."""
    @property
    def end_ns(self) -> int | None:
        """Receive time of the last event, ns (None when empty)."""
    @property
    def instrument(self) -> dict[str, Any]:
        """Instrument as a dict: symbol, venue, tick_size, lot_size, contract_size, multiplier
        (decimal strings) and inverse (bool).
        """
    def with_contract(self, contract_size: str, inverse: bool, multiplier: str) -> Stream:
        """The same events (shared, not copied) with the instrument's contract terms replaced:
        `contract_size` and `multiplier` decimal strings, `inverse` a bool.
        """
    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """The six columns as read-only numpy arrays that share the stream's memory."""
    def summary(self) -> dict[str, Any]:
        """Replays the stream once: the deepest book seen on each side (levels) and the events by
        kind, as a dict.
        """
    def slice(self, start: int, end: int) -> Stream:
        """Rows [start, end) as a new stream with the same instrument."""
    def sample_book(self, step_ns: int, levels: int) -> dict[str, npt.NDArray[np.int64]]:
        """Replays the stream and reads `levels` levels a side every `step_ns` of receive time.
        Returns a dict: `ts_ns` [T] and `bid_price_ticks`, `bid_qty_lots`, `ask_price_ticks`,
        `ask_qty_lots` [T, levels] (int64; empty levels are 0).
        """

def import_files(
    format: str,
    paths: list[str | PathLike[str]],
    *,
    symbol: str | None = None,
    venue: str | None = None,
    tick_size: str | None = None,
    lot_size: str | None = None,
    on_gap: str = "error",
    round_qty: bool = False,
    date: str | None = None,
    levels: int | None = None,
    on_book_mismatch: str = "error",
) -> tuple[Stream, str]:
    """Imports text files of one recording, in order: `format` is "binance-stream", "binance-csv",
    "tardis", "lobster" or "hyperliquid". `date` (YYYY-MM-DD), `levels` and `on_book_mismatch`
    ("error" or "count") are LOBSTER's.
    """

def synth_market(config: dict[str, Any]) -> tuple[Stream, str]:
    """Generates the synthetic market from a dict of `SynthConfig` fields (missing ones keep their
    defaults). Returns `(Stream, report_json)`.
    """

@final
class BinanceLiveImporter:
    """The Binance stream importer fed one line at a time (a live feed): each line as the
    recording holds it (`<receive time ns> <JSON>`), then `drain()` for the events made since
    the last drain, as a `Stream` in ticks and lots of the given tick and lot sizes (decimal
    strings; a live import cannot infer them from data not received yet). Gaps resync by
    default (`on_gap="resync"`: the book cleared until the next snapshot), as a live feed must."""

    def __new__(
        cls,
        tick_size: str,
        lot_size: str,
        *,
        symbol: str | None = None,
        venue: str | None = None,
        on_gap: str = "resync",
        round_qty: bool = False,
    ) -> BinanceLiveImporter: ...
    def feed_line(self, line: str) -> None:
        """Reads one line (`<receive time ns> <JSON>`, no newline)."""
    def drain(self) -> Stream | None:
        """The events since the last drain as a validated `Stream` (None: no new event)."""
    def report(self) -> str:
        """The import report so far, as JSON."""

@final
class EnvCore:
    """One trading environment over a `Stream`, built from the dict `EnvConfig.to_core()` writes
    (sizes in lots, times in ns); `lobzero.envs.TradingEnv` is its gymnasium face. Observations
    are float32 [obs_dim], rewards in the settlement currency (quote; the coin if inverse).
    """

    def __new__(cls, stream: Stream, config: dict[str, Any]) -> EnvCore: ...
    @property
    def obs_dim(self) -> int:
        """Length of an observation: features per frame times `frame_stack`."""
    def spaces(self) -> dict[str, Any]:
        """obs_low, obs_high (float32 [obs_dim]), frame_names, frame_stack."""
    def force_perturbations(self, mask: int, gap_sign: int = 0) -> None:
        """Forces the next step's perturbations: bit k of `mask` fires kind k (PERTURBATIONS order);
        `gap_sign` +1 / -1 / 0 (coin flip) for a price gap.
        """
    def reset(
        self, seed: int | None = None, start_ns: int | None = None
    ) -> npt.NDArray[np.float32]:
        """Starts an episode and returns its first observation, float32 [obs_dim]. `seed` reseeds
        the environment's generator (None: it goes on); `start_ns` is the receive time (ns) to
        start from (None: a start drawn from the seeded stream).
        """
    def step(
        self, action: Any
    ) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        """One decision: (obs, reward, terminated, truncated, info)."""
    def extend_market(self, chunk: Stream | None, known_through_ns: int) -> None:
        """Appends a live market's new events (`chunk`, a `Stream` continuing this environment's,
        same instrument; None: no new event) and declares the market complete up to
        `known_through_ns` (the feed's clock). Amortized O(new events) (see the core's
        `extend_stream`)."""
    def info(self) -> dict[str, Any]:
        """The current state as a step's `info` (with the last step's fills)."""
    def round_trips(self) -> list[tuple[int, int, int, int, float, float]]:
        """Round trips of the episode so far: list of (entry_ts_ns, exit_ts_ns, side, max_qty_lots,
        pnl, fees), pnl and fees in the settlement currency (quote; the coin if inverse).
        """
    @property
    def traded_notional(self) -> float:
        """Traded notional of the episode so far, settlement currency."""

#: names of the rows `VecEnvCore.infos` and `VecEnvCore.step` write, in order
VEC_INFO_ARRAYS: list[str]

def check_env_config(config: dict[str, Any]) -> None:
    """Runs the checks an environment runs on its config table (`EnvConfig.to_core()`'s dict), with
    no market: the dataclasses call it when they are made, so a bad value fails there, under
    the core's own rule.
    """

@final
class VecEnvCore:
    """A batch of N = `num_envs` trading environments over one `Stream` (or, built with
    `from_markets`, each on its own), stepped in one call (same-step autoreset) into caller
    buffers; environment i is seeded with `seed + i`.
    `lobzero.envs.VecTradingEnv` is its gymnasium face; the config dict is `EnvCore`'s, plus
    an optional `num_threads`.
    """

    def __new__(cls, stream: Stream, num_envs: int, config: dict[str, Any]) -> VecEnvCore: ...
    @staticmethod
    def from_markets(
        streams: Sequence[Stream], configs: Sequence[dict[str, Any]], num_threads: int | None = None
    ) -> VecEnvCore:
        """A batch over several markets: environment i on `streams[i]` with the config dict
        `configs[i]` (its own seed and sizes in its own lots; `EnvCore`'s dict), one of each per
        environment. `num_threads` as the constructor's config key.
        """
    @property
    def num_envs(self) -> int:
        """N, the number of environments."""
    @property
    def obs_dim(self) -> int:
        """Length of one environment's observation (features per frame times `frame_stack`)."""
    def spaces(self) -> dict[str, Any]:
        """obs_low, obs_high (float32 [obs_dim]), frame_names, frame_stack (as `EnvCore.spaces`)."""
    def force_perturbations(
        self, masks: npt.NDArray[np.uint8], gap_signs: npt.NDArray[np.int8]
    ) -> None:
        """Forces the next step's perturbations of every environment: `masks` uint8 [N], `gap_signs`
        int8 [N] (see `EnvCore.force_perturbations`).
        """
    def reset(
        self,
        obs: npt.NDArray[np.float32],
        seeds: Sequence[int | None],
        start_ns: Sequence[int | None],
    ) -> None:
        """Resets all environments into `obs` [N, obs_dim] float32: environment i with `seeds[i]`
        (None: not reseeded) from `start_ns[i]` (None: a drawn start); both lists of N entries.
        """
    def step(
        self,
        actions: npt.NDArray[Any],
        obs: npt.NDArray[np.float32],
        rewards: npt.NDArray[np.float64],
        terminated: npt.NDArray[np.bool_],
        truncated: npt.NDArray[np.bool_],
        final_obs: npt.NDArray[np.float32],
        info_values: npt.NDArray[np.float64],
        info_ts_ns: npt.NDArray[np.int64],
    ) -> int:
        """Steps all environments. `actions`: int64 [N] (discrete modes) or float64 [N]
        (continuous); outputs are written in place, the state after the step into `info_values` /
        `info_ts_ns` (see `infos`). Returns how many episodes ended (and were reset).
        """
    def infos(self, values: npt.NDArray[np.float64], ts_ns: npt.NDArray[np.int64]) -> None:
        """Writes the current state of every environment in user units: `values` float64
        [len(VEC_INFO_ARRAYS), N] rows in `VEC_INFO_ARRAYS` order, `ts_ns` int64 [N].
        """
    def final_infos(self) -> dict[int, dict[str, Any]]:
        """For the environments whose episode ended in the last step: {index: info dict of its
        last step}.
        """

def import_hftbacktest(
    ev: npt.NDArray[np.uint64],
    exch_ts: npt.NDArray[np.int64],
    local_ts: npt.NDArray[np.int64],
    px: npt.NDArray[np.float64],
    qty: npt.NDArray[np.float64],
    source: str,
    *,
    files: list[tuple[str, int]] | None = None,
    symbol: str | None = None,
    venue: str | None = None,
    tick_size: str | None = None,
    lot_size: str | None = None,
    round_qty: bool = False,
) -> tuple[Stream, str]:
    """Converts hftbacktest event columns (numpy arrays of its `event_dtype` fields). `files`, when
    the columns concatenate several files: `(name, rows)` of each, so errors name the file and
    its row.
    """

# --- MCTS (rust/bindings/src/mcts.rs; documented in lobzero.mcts) ---
@final
class MctsBatch:
    """`num_roots` (B) MuZero / Gumbel MuZero search trees stepped together from Python: one
    model call per simulation for the whole batch, the latents kept by the caller in a
    `[B, N, ...]` store indexed by slot (N = `capacity`: the root is slot 0, the node expanded
    by simulation s of a fresh search is slot s + 1). A = `num_actions`, S = `num_simulations`.
    Arrays are float32 (bool for masks), read in place when C-contiguous.

    Configuration keywords (`**config`, defaults in brackets):

    - `algorithm` ["muzero"]: "muzero" (PUCT, Dirichlet root noise, visit-count target) or
      "gumbel" (Gumbel MuZero: Gumbel-top-k, sequential halving, improved-policy target).
    - `discount` [0.997]: per-step discount of rewards along a path, in [0, 1].
    - `pb_c_base` [19652], `pb_c_init` [1.25]: PUCT exploration
      `ln((N + base + 1) / base) + init` (MuZero only).
    - `dirichlet_alpha` [0.3], `exploration_fraction` [0.25]: root noise concentration and its
      weight in the root prior (MuZero only; applied when `reset(noise=True)`).
    - `value_bounds` [None]: known (min, max) of Q values; None normalizes Q by the min-max
      seen in each tree.
    - `unvisited_value` ["zero"]: PUCT value of an unvisited child, "zero" (MuZero
      pseudocode) or "parent" (the parent's mean value).
    - `max_considered_actions` [16]: Gumbel's k (root actions kept by Gumbel-top-k).
    - `gumbel_c_visit` [50], `gumbel_c_scale` [0.1]: Gumbel's
      `sigma(q) = (c_visit + max visits) * c_scale * q`.
    - `gumbel_scale` [1]: multiplier of the root's Gumbel draws with noise (mctx's
      `gumbel_scale`; 0 searches as without noise).
    - `reuse_subtree` [False]: doubles `capacity` to 2 S + 1 so that `reuse_subtree` can keep
      the chosen subtree as the next root (algorithm "muzero" only: Gumbel's sequential
      halving needs a fresh root).
    - `seed` [0]: seed of the noise, Gumbel draws and temperature sampling (integer >= 0).

    Raises `ConfigError` for an unknown key, a value of the wrong type or out of range, and
    for arrays of the wrong shape or calls out of order (`select` before `reset`, two
    `select` without a `backup`, more than S simulations).
    """

    def __new__(
        cls, num_roots: int, num_actions: int, num_simulations: int, **config: Any
    ) -> MctsBatch: ...
    @property
    def num_roots(self) -> int:
        """B, the number of trees."""
    @property
    def num_actions(self) -> int:
        """A, the number of actions of every decision node."""
    @property
    def num_simulations(self) -> int:
        """S, the simulation budget of one search."""
    @property
    def capacity(self) -> int:
        """N, slots per tree: S + 1, or 2 S + 1 with `reuse_subtree=True`."""
    @property
    def simulations_done(self) -> int:
        """Simulations run since the last `reset` (or `reuse_subtree`), 0..=S."""
    @property
    def algorithm(self) -> str:
        """ "muzero" (PUCT) or "gumbel" (Gumbel MuZero), from the `algorithm` keyword."""
    def reset(
        self,
        prior_logits: npt.ArrayLike,
        values: npt.ArrayLike,
        noise: bool = True,
        legal_mask: npt.ArrayLike | None = None,
    ) -> None:
        """Starts a new search: expands every root from the representation/prediction output
        and backs its value up once. `prior_logits` [B, A] (unnormalized log-probabilities),
        `values` [B]; `legal_mask` [B, A] bool (None: all legal) restricts the root actions.
        `noise=True` mixes Dirichlet noise into the root prior (MuZero) or draws the Gumbel
        variables (Gumbel); `noise=False` gives a deterministic search for evaluation.
        """
    def select(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(parent_slot [B], action [B]) of the leaf edge each tree expands next."""
    def backup(
        self, reward: npt.ArrayLike, value: npt.ArrayLike, prior_logits: npt.ArrayLike
    ) -> None:
        """Expands the leaves the last `select` chose with the model's output and backs the
        value up their paths: `reward` [B] on the new edge, `value` [B] and `prior_logits`
        [B, A] of the new node (slot `next_slots()` before the `select`).
        """
    def next_slots(self) -> npt.NDArray[np.int64]:
        """[B] int64: the slot each tree's next expansion writes (s + 1 at simulation s
        of a fresh search); where to store the latent `backup` is given for.
        """
    def root_visit_counts(self) -> npt.NDArray[np.int64]:
        """[B, A] int64: visits of each root action."""
    def root_values(self) -> npt.NDArray[np.float32]:
        """[B] float32: mean value of each root (`value_sum / visit_count`, the root's
        own expansion included).
        """
    def root_q_values(self, normalized: bool = False) -> npt.NDArray[np.float32]:
        """[B, A] float32: Q `reward + discount * value` of each root action (NaN for
        unvisited actions); with `normalized`, mapped into [0, 1] by the tree's min-max
        statistics.
        """
    def policy_target(self) -> npt.NDArray[np.float32]:
        """[B, A] float32 training target for the policy head, each row summing to 1
        (illegal actions 0). MuZero: root visit counts over their sum. Gumbel: the improved
        policy softmax(log prior + sigma(completed Q)).
        """
    def select_action(self, temperature: float = 0.0) -> npt.NDArray[np.int64]:
        """[B] int64 action to play. MuZero: `temperature == 0` takes the most visited
        root action (lowest index on ties), `temperature > 0` samples with probability
        proportional to `N(a) ** (1 / temperature)` from the seeded stream. Gumbel: the
        sequential-halving winner (`temperature` unused: the Gumbel draws already explore).
        """
    def considered_actions(self) -> npt.NDArray[np.bool_]:
        """[B, A] bool: root actions the search may visit (the legal ones for
        MuZero, the Gumbel-top-k for Gumbel).
        """
    def node_visit_counts(self) -> npt.NDArray[np.int64]:
        """[B, N] int64: visit count of every slot (0 for unused slots)."""
    def node_parents(self) -> npt.NDArray[np.int64]:
        """[B, N] int64: parent slot of every slot (-1 for the root and unused slots)."""
    def reuse_subtree(
        self,
        actions: npt.ArrayLike,
        prior_logits: npt.ArrayLike,
        values: npt.ArrayLike,
        noise: bool = True,
        legal_mask: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.int64]:
        """Moves each tree's root to the child reached by `actions` [B] int64 (needs
        `reuse_subtree=True`), compacting the kept subtree into slots 0..k. Trees whose child
        was never expanded restart from `prior_logits` [B, A] / `values` [B] like `reset`; for
        the others those rows are ignored (but must be finite). `legal_mask` [B, A] and `noise`
        apply to the new roots. Returns `kept_slot` [B, N] int64: the old slot now held by each
        new slot, -1 for free slots (and for slot 0 of a restarted tree, whose latent the caller
        writes from the representation network).
        """

@final
class StochasticMctsBatch:
    """`num_roots` (B) Stochastic MuZero search trees (Antonoglou et al., 2022): decision nodes
    (states, A = `num_actions` children) alternate with chance nodes (afterstates, C =
    `chance_outcomes` children, the codes of the chance encoder). Slots: N = `capacity` =
    `num_simulations` + 1 per tree, the root is slot 0 and simulation s expands slot s + 1.
    The roots are decision nodes; at a chance node the code `argmax_c prior(c) / (N(c) + 1)`
    is followed. Arrays are float32, read in place when C-contiguous.

    Configuration keywords (`**config`) are those of `MctsBatch` (`algorithm`, `discount`,
    `pb_c_base`, `pb_c_init`, `dirichlet_alpha`, `exploration_fraction`, `value_bounds`,
    `unvisited_value`, `max_considered_actions`, `gumbel_c_visit`, `gumbel_c_scale`,
    `gumbel_scale`, `seed`)
    with the same defaults; subtree reuse is not supported with chance nodes. Raises
    `ConfigError` like `MctsBatch`.
    """

    def __new__(
        cls,
        num_roots: int,
        num_actions: int,
        num_simulations: int,
        chance_outcomes: int,
        **config: Any,
    ) -> StochasticMctsBatch: ...
    @property
    def num_roots(self) -> int:
        """B, the number of trees."""
    @property
    def num_actions(self) -> int:
        """A, the number of actions of a decision node."""
    @property
    def chance_outcomes(self) -> int:
        """C, the number of codes (children) of a chance node."""
    @property
    def num_simulations(self) -> int:
        """S, the simulation budget of one search."""
    @property
    def capacity(self) -> int:
        """N = S + 1, slots per tree."""
    @property
    def simulations_done(self) -> int:
        """Simulations run since the last `reset`, 0..=S."""
    @property
    def algorithm(self) -> str:
        """ "muzero" (PUCT) or "gumbel" (Gumbel MuZero), from the `algorithm` keyword."""
    def reset(
        self,
        prior_logits: npt.ArrayLike,
        values: npt.ArrayLike,
        noise: bool = True,
        legal_mask: npt.ArrayLike | None = None,
    ) -> None:
        """Starts a new search: expands every root (a decision node) from `prior_logits`
        [B, A] and `values` [B]; `legal_mask` [B, A] bool (None: all legal), `noise` as in
        `MctsBatch.reset`.
        """
    def select(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """(parent_slot [B], index [B], from_chance [B]) of the leaf each tree expands next."""
    def backup(
        self,
        reward: npt.ArrayLike,
        value: npt.ArrayLike,
        prior_logits: npt.ArrayLike,
        outcome_logits: npt.ArrayLike,
    ) -> None:
        """Expands the leaves the last `select` chose: `reward` [B], `value` [B],
        `prior_logits` [B, A], `outcome_logits` [B, C]. A lane whose new node is a state reads
        `reward`, `value` and `prior_logits`; a lane whose new node is an afterstate reads `value`
        and `outcome_logits`; the other rows are not read.
        """
    def next_slots(self) -> npt.NDArray[np.int64]:
        """[B] int64: the slot each tree's next expansion writes (s + 1 at simulation s
        of a fresh search); where to store the latent `backup` is given for.
        """
    def root_visit_counts(self) -> npt.NDArray[np.int64]:
        """[B, A] int64: visits of each root action."""
    def root_values(self) -> npt.NDArray[np.float32]:
        """[B] float32: mean value of each root (`value_sum / visit_count`, the root's
        own expansion included).
        """
    def root_q_values(self, normalized: bool = False) -> npt.NDArray[np.float32]:
        """[B, A] float32: Q of each root action, the mean value of its afterstate (no
        reward, no discount on that edge; NaN when unvisited); `normalized` maps it into [0, 1]
        by the tree's min-max statistics.
        """
    def policy_target(self) -> npt.NDArray[np.float32]:
        """[B, A] float32 training target for the policy head (rows sum to 1), as
        `MctsBatch.policy_target` (the root and its children read as in the deterministic
        search).
        """
    def select_action(self, temperature: float = 0.0) -> npt.NDArray[np.int64]:
        """[B] int64 action to play, as `MctsBatch.select_action`."""
    def considered_actions(self) -> npt.NDArray[np.bool_]:
        """[B, A] bool: root actions the search may visit (the legal ones for
        MuZero, the Gumbel-top-k for Gumbel).
        """
    def node_visit_counts(self) -> npt.NDArray[np.int64]:
        """[B, N] int64: visit count of every slot (0 for unused slots)."""
    def node_parents(self) -> npt.NDArray[np.int64]:
        """[B, N] int64: parent slot of every slot (-1 for the root and unused slots)."""
    def node_is_chance(self) -> npt.NDArray[np.bool_]:
        """[B, N] bool: the slot holds a chance node (False for unused slots)."""
    def node_values(self) -> npt.NDArray[np.float64]:
        """[B, N] float64: `value_sum / visit_count` of each slot (NaN for unused slots)."""
    def outcome_priors(self) -> npt.NDArray[np.float64]:
        """[B, N, C] float64: the chance prior at each chance node (0 elsewhere)."""

def import_databento(
    paths: list[str | PathLike[str]],
    *,
    symbol: str | None = None,
    venue: str | None = None,
    tick_size: str | None = None,
    lot_size: str | None = None,
    round_qty: bool = False,
    definition: str | PathLike[str] | None = None,
    instrument_id: int | None = None,
    on_unknown_order: str = "error",
    on_cross: str = "error",
) -> tuple[Stream, str, dict[str, npt.NDArray[Any]] | None]:
    """Imports Databento DBN files (MBO, MBP-1, MBP-10) of one session, in order."""

def import_order_events(
    paths: list[str | PathLike[str]],
    *,
    symbol: str | None = None,
    venue: str | None = None,
    tick_size: str | None = None,
    lot_size: str | None = None,
    round_qty: bool = False,
    id_column: str = "id",
    time_column: str = "timestamp",
    exchange_time_column: str = "exchange.timestamp",
    side_column: str = "direction",
    price_column: str = "price",
    size_column: str = "volume",
    action_column: str = "action",
    time_unit: str = "ms",
    size_scale: str | None = None,
    on_unknown_order: str = "error",
    on_cross: str = "error",
) -> tuple[Stream, str, dict[str, npt.NDArray[Any]] | None]:
    """Imports order-event CSV files (plain, gzip or xz) of one log, in order."""

def order_queues_at(
    order_id: npt.NDArray[np.uint64],
    recv_ts_ns: npt.NDArray[np.int64],
    action: npt.NDArray[np.uint8],
    side: npt.NDArray[np.int8],
    price_ticks: npt.NDArray[np.int64],
    qty_lots: npt.NDArray[np.int64],
    l2_row: npt.NDArray[np.uint64],
    row: int,
    *,
    source: str = "orders",
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """The per-level FIFO of resting orders once L2 rows `[0, row)` are applied, from the order
    log's columns: `[(side, price_ticks, [(order_id, qty_lots), ...]), ...]`, bids best first
    then asks best first.
    """
