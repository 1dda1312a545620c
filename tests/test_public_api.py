"""The library face: what ``import lobzero`` offers a new user, and that it is documented.

Each check names the defect it catches (a missing docstring, a README name that is not
exported, a submodule that is not an attribute, ...); ``test_docstring_walk_catches_*`` plants
one and shows the walk reports it.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lobzero
import numpy as np
import pytest
from lobzero import _core

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
STUB = ROOT / "python" / "lobzero" / "_core.pyi"


# -- the docstring walk ----------------------------------------------------------------------
def _is_real_doc(obj: Any, doc: str | None) -> bool:
    """A docstring someone wrote: not empty, and not the signature dataclasses and pyo3 put in
    ``__doc__`` when nobody wrote one."""
    if not doc or not doc.strip():
        return False
    name = getattr(obj, "__name__", "")
    return not (dataclasses.is_dataclass(obj) and doc.startswith(f"{name}("))


def _own_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties ``cls`` defines or inherits from a lobzero class (not
    those of gymnasium, Exception, Protocol or object)."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("lobzero"):
            continue
        attr = inspect.getattr_static(owner, name)
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if callable(attr) or isinstance(attr, property) or inspect.isdatadescriptor(attr):
            yield name, attr


def _member_doc(cls: type, name: str, attr: Any) -> str | None:
    """The member's docstring, the one of the same member in a base class counting (an
    override documented once, in the base, as :func:`inspect.getdoc` reads it)."""
    # getdoc reads the docstrings a dict ``__slots__`` gives its attributes
    doc = inspect.getdoc(attr)
    if _is_real_doc(attr, doc):
        return doc
    for base in cls.__mro__[1:]:
        if name in vars(base):
            inherited = inspect.getattr_static(base, name)
            if isinstance(inherited, (staticmethod, classmethod)):
                inherited = inherited.__func__
            if _is_real_doc(inherited, getattr(inherited, "__doc__", None)):
                return inherited.__doc__
    return None


def undocumented(objects: dict[str, Any]) -> list[str]:
    """Qualified names of the public objects, and of their classes' public methods and
    properties, without a docstring."""
    missing = []
    for qualname, obj in objects.items():
        documentable = isinstance(obj, types.ModuleType) or inspect.isclass(obj) or callable(obj)
        if documentable and not _is_real_doc(obj, obj.__doc__):
            missing.append(qualname)
        if inspect.isclass(obj):
            for name, attr in _own_members(obj):
                if _member_doc(obj, name, attr) is None:
                    missing.append(f"{qualname}.{name}")
    return missing


def public_api() -> dict[str, Any]:
    """``lobzero.__all__``, the ``__all__`` of the subpackages it exports, and every class and
    function of the Rust module ``lobzero._core``."""
    objects: dict[str, Any] = {}
    for name in lobzero.__all__:
        obj = getattr(lobzero, name)
        if name.startswith("__"):
            continue
        objects[f"lobzero.{name}"] = obj
        if isinstance(obj, types.ModuleType):
            for sub in getattr(obj, "__all__", []):
                objects[f"lobzero.{name}.{sub}"] = getattr(obj, sub)
    for name, obj in vars(_core).items():
        if not name.startswith("_") and (inspect.isclass(obj) or callable(obj)):
            objects[f"lobzero._core.{name}"] = obj
    return objects


def test_every_public_class_method_and_function_has_a_docstring() -> None:
    """Catches: ``MctsBatch.reset`` (and ``backup``, ``policy_target``, ``select_action``, the
    getters) bound without a doc comment, a dataclass without its own docstring."""
    assert undocumented(public_api()) == []


def test_docstring_walk_catches_an_undocumented_method() -> None:
    """The planted defect: a class whose ``reset`` has no docstring, as ``MctsBatch.reset``
    had; the walk names it (and a documented one passes)."""

    class Planted:
        """A documented class."""

        def reset(self) -> None:
            pass

        def select(self) -> None:
            """Documented."""

    Planted.__module__ = "lobzero.planted"
    assert undocumented({"Planted": Planted}) == ["Planted.reset"]

    @dataclasses.dataclass
    class Auto:
        x: int = 0

    Auto.__module__ = "lobzero.planted"
    assert undocumented({"Auto": Auto}) == ["Auto"]


_CONFIG_EXAMPLE = {
    "algorithm": "muzero",
    "discount": 0.9,
    "pb_c_base": 100.0,
    "pb_c_init": 1.0,
    "dirichlet_alpha": 0.5,
    "exploration_fraction": 0.1,
    "value_bounds": (-1.0, 1.0),
    "unvisited_value": "parent",
    "max_considered_actions": 2,
    "gumbel_c_visit": 10.0,
    "gumbel_c_scale": 1.0,
    "reuse_subtree": True,
    "seed": 3,
}


def test_mcts_docstrings_state_shapes_and_config_keys() -> None:
    """Catches docstrings that exist but say nothing: the batch's methods give their shapes and
    the class lists every ``**config`` keyword the binding accepts."""
    for method in ("reset", "backup", "policy_target", "select_action", "root_q_values"):
        doc = getattr(lobzero.MctsBatch, method).__doc__ or ""
        assert "[B" in doc, (method, doc)
    keys = list(_CONFIG_EXAMPLE)
    for cls in (lobzero.MctsBatch, lobzero.StochasticMctsBatch):
        doc = cls.__doc__ or ""
        documented = [k for k in keys if f"`{k}`" in doc]
        expected = keys if cls is lobzero.MctsBatch else [k for k in keys if k != "reuse_subtree"]
        assert documented == expected, cls
    # every documented key is one the binding accepts, and a key it does not is refused
    lobzero.MctsBatch(2, 3, 4, **_CONFIG_EXAMPLE)
    lobzero.MctsBatch(2, 3, 4, **{**_CONFIG_EXAMPLE, "algorithm": "gumbel", "reuse_subtree": False})
    with pytest.raises(lobzero.ConfigError, match="unknown mcts config key"):
        lobzero.MctsBatch(2, 3, 4, pb_c=1.0)


def _stub_docstrings() -> dict[str, str]:
    """``Class.member`` (or ``Class``, ``function``) -> docstring, from ``_core.pyi``."""
    tree = ast.parse(STUB.read_text())
    docs: dict[str, str] = {}
    for node in tree.body:
        is_documented = isinstance(node, (ast.ClassDef, ast.FunctionDef))
        if is_documented and (doc := ast.get_docstring(node)) is not None:
            docs[node.name] = doc
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and (doc := ast.get_docstring(item)):
                    docs[f"{node.name}.{item.name}"] = doc
    return docs


def _normalized(doc: str) -> str:
    return " ".join(inspect.cleandoc(doc).split())


def test_the_stub_carries_the_bindings_docstrings() -> None:
    """Catches a stub that drifts from the Rust doc comments (an editor shows the stub's
    docstring, ``help()`` the binding's): every documented class, method and function of
    ``lobzero._core`` has the same docstring in ``_core.pyi``."""
    stub = _stub_docstrings()
    differ = []
    for name, obj in vars(_core).items():
        if name.startswith("_") or not (inspect.isclass(obj) or callable(obj)):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        entries = {name: obj}
        if inspect.isclass(obj):
            entries |= {f"{name}.{m}": a for m, a in _own_members(obj)}
        for qualname, member in entries.items():
            doc = getattr(member, "__doc__", None)
            if not _is_real_doc(member, doc):
                continue
            if _normalized(stub.get(qualname, "")) != _normalized(doc):
                differ.append(qualname)
    assert differ == []


# -- what `import lobzero` reaches -----------------------------------------------------------
def test_subpackages_are_attributes_after_import_lobzero() -> None:
    """Catches ``lobzero.muzero`` / ``lobzero.evaluation`` raising AttributeError after a plain
    ``import lobzero`` (they were only reachable by importing them by name), and checks in a
    fresh interpreter that ``import lobzero`` alone does not import torch (``lobzero.muzero``
    is imported on first access, which keeps ``import lobzero`` under a second)."""
    code = (
        "import sys, lobzero\n"
        "assert 'torch' not in sys.modules, 'import lobzero imported torch'\n"
        "assert 'lobzero.muzero' not in sys.modules\n"
        "print(lobzero.mcts.search.__name__, lobzero.muzero.train_muzero.__name__,\n"
        "      lobzero.evaluation.compute_metrics.__name__)\n"
        "assert {'mcts', 'muzero', 'evaluation'} <= set(dir(lobzero))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["search", "train_muzero", "compute_metrics"]
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        lobzero.nonexistent  # noqa: B018


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT / "python")}


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_every_lobzero_name_the_readme_uses_is_exported() -> None:
    """Catches a README that uses ``lobzero.X`` where ``X`` is not in ``lobzero.__all__`` (or
    does not exist): every dotted name in the README's code and inline code resolves, its
    first part exported."""
    text = README.read_text()
    names = {n for n in re.findall(r"\blobzero((?:\.[A-Za-z_]\w*)+)", text)}
    names = {n for n in names if not n.startswith("._")}  # the private Rust module
    assert len(names) > 20, names  # the regex reads the README
    unexported = sorted({n.split(".")[1] for n in names} - set(lobzero.__all__))
    assert unexported == [], unexported
    for dotted in sorted(names):
        obj: Any = lobzero
        path = "lobzero"
        for part in dotted.strip(".").split("."):
            path += f".{part}"
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(path)  # a submodule, imported by name
        assert obj is not None, path


def test_readme_shows_the_gym_id_and_the_market_views_and_they_run() -> None:
    """Catches a README without ``gym.make("lobzero/Trading-v0")``, ``slice_time`` or
    ``slice_rows``, or with lines of them that do not run: the README's lines are executed on
    a small synthetic market."""
    import gymnasium as gym

    code = "\n".join(_readme_python_blocks())
    lines = [
        line.split("#")[0].strip()
        for line in code.splitlines()
        if re.search(r"gym\.make\(|\.slice_time\(|\.slice_rows\(", line.split("#")[0])
    ]
    assert any("gym.make(" in line for line in lines)
    assert any(".slice_time(" in line for line in lines)
    assert any(".slice_rows(" in line for line in lines)
    synth = lobzero.synth_market(seconds=120, seed=0)
    namespace: dict[str, Any] = {"lobzero": lobzero, "gym": gym, "market": synth, "synth": synth}
    for line in lines:
        exec(line, namespace)
    assert isinstance(namespace["first_minute"], lobzero.Market)
    assert 0 < len(namespace["first_minute"]) < len(synth)
    assert len(namespace["head"]) == 1000
    env = namespace["env"]
    assert env.spec.id == lobzero.ENV_ID == "lobzero/Trading-v0"
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape


# -- the agent protocol ----------------------------------------------------------------------
def test_load_agent_returns_the_typed_agent_protocol() -> None:
    """Catches ``load_agent`` typed ``-> Any`` and an ``Agent`` protocol without ``name`` or
    ``load``: the return annotation is the protocol, and the protocol has the four members."""
    hints = inspect.signature(lobzero.load_agent, eval_str=True).return_annotation
    assert hints is lobzero.Agent
    for member in ("act", "save", "load", "name", "action_mode"):
        assert member in dir(lobzero.Agent) or member in lobzero.Agent.__annotations__, member


def test_every_agent_class_meets_the_protocol(tmp_path: Path) -> None:
    """Catches an agent class without ``name`` or ``load`` (SB3, rule agents had no ``load``;
    none had a ``name`` but the rules): rule and MuZero agents, built for real, are
    ``lobzero.Agent`` instances, and the SB3 and adversary classes define every member."""
    from lobzero.adversarial import AdversaryAgent
    from lobzero.baselines.rules import make_rule_agent
    from lobzero.baselines.sb3 import Sb3Agent

    agent = make_rule_agent("flat", ["spread"])
    assert isinstance(agent, lobzero.Agent) and agent.name == "flat"
    back = type(agent).load(agent.save(tmp_path / "flat"))
    assert isinstance(back, lobzero.Agent)
    for cls in (Sb3Agent, AdversaryAgent):  # their models need training to build
        for member in ("act", "save", "load", "name"):
            assert hasattr(cls, member), (cls, member)
        assert inspect.ismethod(cls.load), cls  # a classmethod: Cls.load(directory)


# -- Market.instrument ------------------------------------------------------------------------
def test_market_instrument_is_named_for_what_it_is() -> None:
    """Catches ``Market.instrument`` missing (the instrument was only ``metadata``) and the
    old name removed: both give the same :class:`Instrument`."""
    market = lobzero.synth_market(seconds=30, seed=0)
    assert isinstance(market.instrument, lobzero.Instrument)
    assert market.instrument.symbol == "SYNTH"
    assert market.metadata == market.instrument
    back = lobzero.Market.from_polars(market.to_polars(), instrument=market.instrument)
    assert back.instrument == market.instrument and len(back) == len(market)
    # the keyword's old name still works (renaming it broke callers that passed metadata=)
    old = lobzero.Market.from_polars(market.to_polars(), metadata=market.instrument)
    assert old.instrument == market.instrument
    with pytest.raises(lobzero.ConfigError, match="symbol, venue, tick_size, lot_size"):
        lobzero.Market.from_polars(market.to_polars())
    with pytest.raises(lobzero.ConfigError, match="once"):
        lobzero.Market.from_polars(
            market.to_polars(), instrument=market.instrument, metadata=market.instrument
        )


# -- saved rule agents -------------------------------------------------------------------------
_LOAD_AND_PLAY = """
import sys, numpy as np, lobzero
agent = lobzero.load_agent(sys.argv[1])
env = lobzero.TradingEnv(lobzero.synth_market(seconds=120, seed=0),
                         lobzero.EnvConfig(features=('imbalance', 'trade_flow', 'spread'),
                                           frame_stack=2, episode_steps=20))
obs, _ = env.reset(seed=0)
actions = []
for _ in range(20):
    action = int(agent.act(obs[None])[0])
    actions.append(action)
    obs, reward, terminated, truncated, info = env.step(action)
    if terminated or truncated:
        break
print(agent.name, type(agent).__name__, len(actions), set(actions) <= {0, 2, 4})
"""


def test_a_rule_agent_saved_as_compare_saves_it_loads_alone_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    """Catches ``load_agent`` of a compare output failing without ``feature_names`` (the saved
    rule agent's layout was dropped on load: the imbalance rule then refused to build):
    the agent is saved the way compare saves it, then loaded by a fresh interpreter with
    ``load_agent(dir)`` alone and played on an environment."""
    from lobzero.baselines.rules import make_rule_agent

    env = lobzero.TradingEnv(
        lobzero.synth_market(seconds=120, seed=0),
        lobzero.EnvConfig(
            features=("imbalance", "trade_flow", "spread"), frame_stack=2, episode_steps=20
        ),
    )
    run_dir = tmp_path / "agents" / "imbalance" / "fold0_seed0"
    make_rule_agent("imbalance", env.feature_names, threshold=0.05).save(run_dir)
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PLAY, str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["imbalance", "ImbalanceAgent", "20", "True"]
    # the saved layout is the one used; an explicit one still wins (another environment)
    agent = lobzero.load_agent(run_dir)
    assert agent.feature_names == env.feature_names  # type: ignore[attr-defined]
    other = ["trade_flow", "imbalance_1"]
    assert lobzero.load_agent(run_dir, feature_names=other).feature_names == other  # type: ignore[attr-defined]
    obs = np.zeros((1, 2), np.float32)
    obs[0, 1] = obs[0, 0] = 0.9
    assert lobzero.load_agent(run_dir, feature_names=other).act(obs).tolist() == [4]
