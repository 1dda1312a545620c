"""Command-line flags generated from the configuration dataclasses (one source of truth).

A :class:`FlagGroup` adds one flag per field of a :class:`~lobzero.config.TomlConfig`
dataclass (nested configurations recursively, under a prefix): the flag's name is the field's
(``step_ms`` → ``--step-ms``), its type and choices the annotation's (``Literal`` → choices,
``tuple[int, ...]`` → a comma-separated list, ``bool`` → ``--x`` / ``--no-x``), its help the
field's ``#:`` comment (or the sentence of the class docstring that names it) and the default
of the subcommand's base configuration. A flag's value is None unless the user typed it, so
the layering is: the base configuration, then the ``--config`` TOML, then the flags typed.

Errors raised by the configurations name their fields (``EnvConfig.step_ms``,
``AdversarialConfig.rounds``, the Rust core's ``step_ns``); :func:`flag_message` rewrites
those names into the flags the user typed, in the user's units.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

from lobzero.config import TomlConfig, read_toml
from lobzero.exceptions import ConfigError

#: the Rust core's names of fields it only sees converted (ns, lots): the user's field
CORE_NAMES: dict[str, str] = {
    "step_ns": "step_ms",
    "latency_ns": "latency_ms",
    "max_position_lots": "max_position",
    "side_unit_lots": "side_unit",
    "start_range_ns": "start_ns",
}


@dataclass(frozen=True)
class Flag:
    """One generated flag: ``path`` is the field's path from the group's configuration
    (``("adversary", "intensity")``), ``owner`` the dataclass that holds the last field."""

    owner: type
    path: tuple[str, ...]
    option: str
    aliases: tuple[str, ...]
    dest: str


class TypedFlag(argparse.Action):
    """Stores the value and remembers which option string the user typed (for the errors)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        _remember_typed(namespace, self.dest, option_string)


class TypedSwitch(argparse.BooleanOptionalAction):
    """``--x`` / ``--no-x``, remembering the option string typed."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        _remember_typed(namespace, self.dest, option_string)


def _remember_typed(namespace: argparse.Namespace, dest: str, option_string: str | None) -> None:
    """Records in ``namespace.typed_flags`` the option string typed for ``dest``."""
    typed = dict(getattr(namespace, "typed_flags", None) or {})
    typed[dest] = option_string
    namespace.typed_flags = typed


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation: its ``#:`` comment, else the sentence of the class
    docstring that names it in double backquotes, whitespace collapsed."""
    docs: dict[str, str] = {}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ""
    pending: list[str] = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending:
            docs[match.group(1)] = " ".join(pending).replace("``", "")
        if not stripped.startswith("#"):
            pending = []
    text = " ".join((cls.__doc__ or "").split())
    sentences = re.split(r"(?<=[.;])\s+", text)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in docs:
            continue
        for sentence in sentences:
            if f"``{f.name}``" in sentence:
                docs[f.name] = sentence.replace("``", "").rstrip(";")
                break
    return docs


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ",".join(_show(v) for v in value) or "empty"
    if isinstance(value, int):
        return f"{value:_}".replace("_", ",") if abs(value) >= 10_000 else str(value)
    return str(value)


def _list_of(item: Callable[[str], Any], name: str) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(item(x.strip()) for x in text.split(",") if x.strip())
        except ValueError as e:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {name} values, got {text!r}"
            ) from e

    return parse


def _scalar(hint: Any) -> Any:
    """The type of a field, without ``| None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


class FlagGroup:
    """The flags of one configuration dataclass on one parser (see the module docstring).

    ``base``: the subcommand's configuration before any TOML or flag (its values are the
    defaults shown); ``prefix``: prepended to every flag (``"muzero-"``); ``prefixes``: the
    prefix of a nested configuration by field name (default ``"{field}-"``); ``renames``: a
    field's flags by path (``{"budget": ("--moves-per-episode", "--budget")}``, the first the
    name, the others aliases); ``skip``: fields without a flag, with the reason.
    """

    def __init__(
        self,
        parser: argparse.ArgumentParser,
        base: TomlConfig,
        title: str,
        *,
        prefix: str = "",
        prefixes: Mapping[str, str] | None = None,
        renames: Mapping[str, tuple[str, ...]] | None = None,
        skip: Mapping[str, str] | None = None,
    ) -> None:
        self.base = base
        self.prefix = prefix
        self.prefixes = dict(prefixes or {})
        self.renames = dict(renames or {})
        self.skip = dict(skip or {})
        self.flags: list[Flag] = []
        self._seen: set[str] = set()
        self.group = parser.add_argument_group(title)
        self._add(base, (), prefix)
        unused = (set(self.renames) | set(self.skip) | set(self.prefixes)) - self._seen
        if unused:
            raise ValueError(f"{type(base).__name__}: no field {', '.join(sorted(unused))}")

    def _add(self, config: TomlConfig, path: tuple[str, ...], prefix: str) -> None:
        cls = type(config)
        hints = get_type_hints(cls)
        docs = field_docs(cls)
        for f in dataclasses.fields(config):  # type: ignore[arg-type]
            key = ".".join((*path, f.name))
            default = getattr(config, f.name)
            hint = _scalar(hints[f.name])
            if key in self.skip:
                self._seen.add(key)
                continue
            if isinstance(hint, type) and issubclass(hint, TomlConfig):
                if key in self.prefixes:
                    self._seen.add(key)
                nested = self.prefixes.get(key, f"{f.name.replace('_', '-')}-")
                self._add(default, (*path, f.name), prefix + nested)
                continue
            names = self.renames.get(key) or (f"--{prefix}{f.name.replace('_', '-')}",)
            if key in self.renames:
                self._seen.add(key)
            # unique on the parser even where two groups share a field's path
            dest = f"{self.prefix}{type(self.base).__name__}:{key}"
            kwargs: dict[str, Any] = {"dest": dest, "default": None}
            doc = docs.get(f.name, "")
            origin = typing.get_origin(hint)
            if hint is bool:
                kwargs["action"] = TypedSwitch
            elif origin is Literal:
                kwargs.update(action=TypedFlag, choices=typing.get_args(hint))
            elif origin is tuple:
                (item,) = typing.get_args(hint)[:1] or (str,)
                kwargs.update(
                    action=TypedFlag,
                    type=_list_of(item, item.__name__),
                    metavar=f"{item.__name__.upper()},...",
                )
            elif hint in (int, float, str):
                kwargs.update(action=TypedFlag, type=hint, metavar=hint.__name__.upper())
            else:
                raise TypeError(
                    f"{cls.__name__}.{f.name}: no flag for a field of type {hint!r}; give it a "
                    "flag in lobzero.cli_flags or list it in the subcommand's skip with a reason"
                )
            kwargs["help"] = f"{doc} (default: {_show(default)})".lstrip().replace("%", "%%")
            self.group.add_argument(*names, **kwargs)
            self.flags.append(Flag(cls, (*path, f.name), names[0], names[1:], dest))

    def overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        """The values the user typed, as a nested dict of fields."""
        out: dict[str, Any] = {}
        for flag in self.flags:
            value = getattr(args, flag.dest, None)
            if value is None:
                continue
            node = out
            for name in flag.path[:-1]:
                node = node.setdefault(name, {})
            node[flag.path[-1]] = value
        return out

    def apply(self, config: Any, args: argparse.Namespace) -> Any:
        """``config`` with the typed values on top (nested configurations merged field by
        field)."""
        return merge(config, self.overrides(args))


def merge(config: Any, changes: Mapping[str, Any]) -> Any:
    """``config.replace(**changes)`` where a dict for a nested configuration changes only the
    fields it names; an unknown name is a :class:`ConfigError` listing the known ones."""
    if not changes:
        return config
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ConfigError(
            f"{type(config).__name__}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(names))}"
        )
    flat = {}
    for key, value in changes.items():
        current = getattr(config, key)
        if isinstance(value, dict) and isinstance(current, TomlConfig):
            flat[key] = merge(current, value)
        elif isinstance(value, dict) and isinstance(current, dict):
            flat[key] = {**current, **value}
        else:
            flat[key] = value
    return config.replace(**flat)


def load_over(base: Any, path: str | Path) -> Any:
    """``base`` with the TOML file at ``path`` on top (:func:`merge`: a table changes only
    the fields it names), with the errors of :meth:`TomlConfig.load`."""
    return merge(base, read_toml(path))


def flag_names(
    groups: Iterable[FlagGroup],
    typed: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """What the errors' field names become: ``(by field name, by (class name, field))``, each
    the option the user typed for it, else its flag's name. A field name that two groups share
    is the one the user typed, else the first group's."""
    typed = typed or {}
    by_name: dict[str, list[str]] = {}
    by_owner: dict[tuple[str, str], list[str]] = {}
    for group in groups:
        for flag in group.flags:
            option = typed.get(flag.dest) or flag.option
            key = flag.path[-1]
            first = flag.dest in typed
            for options in (
                by_name.setdefault(key, []),
                by_owner.setdefault((flag.owner.__name__, key), []),
            ):
                options.insert(0 if first else len(options), option)
            if len(flag.path) > 1:  # "adversary.noise_std", as the core's messages say it
                by_name.setdefault(".".join(flag.path[-2:]), []).append(option)
    names = {k: v[0] for k, v in by_name.items()}
    names.update(extra or {})
    owners = {k: v[0] for k, v in by_owner.items()}
    return names, owners


_VALUE = r"""(?:="([^"]*)"|='([^']*)'|=([^\s,;)]+))"""


def flag_message(
    message: str, names: Mapping[str, str], owners: Mapping[tuple[str, str], str]
) -> str:
    """``message`` with configuration field names written as the flags that set them:
    ``EnvConfig.step_ms`` → ``--step-ms``, ``step_ns`` (the core's) → ``--step-ms``,
    ``adversary noise_std`` → ``--adversary-noise-std``, ``on_gap="resync"`` →
    ``--on-gap resync``. Plain words are left alone unless a rule follows (``levels must``)."""

    def value_of(m: re.Match[str], first: int) -> str | None:
        for g in (first, first + 1, first + 2):
            if m.group(g) is not None:
                return m.group(g)
        return None

    def owner_sub(m: re.Match[str]) -> str:
        field = CORE_NAMES.get(m.group(2), m.group(2))
        flag = owners.get((m.group(1), field)) or names.get(field)
        if flag is None:
            return m.group(0)
        value = value_of(m, 3)
        return flag if value is None else f"{flag} {value}"

    message = re.sub(rf"\b([A-Z]\w*)\.([a-z]\w*)(?:{_VALUE})?", owner_sub, message)

    def adversary_sub(m: re.Match[str]) -> str:
        flag = names.get(f"adversary.{m.group(1)}")
        return m.group(0) if flag is None else flag

    message = re.sub(r"\badversary ([a-z]\w*)", adversary_sub, message)

    def bare_sub(m: re.Match[str]) -> str:
        word = m.group(1)
        field = CORE_NAMES.get(word, word)
        flag = names.get(field)
        value = value_of(m, 2)
        rule = m.group(5)
        if flag is None or ("_" not in word and value is None and not rule):
            return m.group(0)
        return (flag if value is None else f"{flag} {value}") + (rule or "")

    # a name inside a path or file name (`/data/tick_size.csv`) is not a field
    pattern = rf"(?<![\w.\-`/])([a-z][a-z0-9_]*)(?![\w./])(?:{_VALUE})?(\s+must\b)?"
    return re.sub(pattern, bare_sub, message)
