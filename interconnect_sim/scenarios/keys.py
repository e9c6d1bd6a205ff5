"""Scenario keys read back from the command line's own option declarations.

:class:`OptionTable` turns an argparse parser into the schema of a scenario table: every option
is a key (``--micro-batch`` is ``micro-batch``, ``micro_batch`` also accepted), checked with the
option's own converter and choices, after a check of the TOML type the converter takes
(:func:`~interconnect_sim.converters.toml_types`). Every error is one line naming the file, the
table, the key, what was wrong and what is allowed.
"""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interconnect_sim.converters import toml_types
from interconnect_sim.errors import ScenarioError

__all__ = ["OptionKey", "OptionTable", "scenario_error", "toml_repr"]

_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def toml_repr(value: Any) -> str:
    """A value as it would be written in TOML (for error messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def scenario_error(path: Path | str, where: str, message: str) -> ScenarioError:
    """``ScenarioError("FILE: [table] key: message")`` on one line."""
    text = f"{path}: {where}: {message}" if where else f"{path}: {message}"
    return ScenarioError(" ".join(text.split("\n")))


def _type_of(value: Any) -> type:
    return bool if isinstance(value, bool) else type(value)


def _words(types: Iterable[type]) -> str:
    kinds = list(types)
    if int in kinds and float in kinds:  # TOML integers are numbers too
        kinds.remove(int)
    return " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in kinds)


def suggest(word: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class OptionKey:
    """One command-line option seen as a scenario key."""

    dest: str
    key: str
    group: str | None
    convert: Callable[[str], Any] | None
    types: tuple[type, ...]
    choices: tuple[Any, ...] | None
    flag_value: bool | None
    nargs: int | None
    repeated: bool
    required: bool
    default: Any
    help: str

    @property
    def flag(self) -> str:
        """The command-line spelling (``--micro-batch``)."""
        return f"--{self.key}"

    def expected(self) -> str:
        """What a value must look like, in words."""
        if self.flag_value is not None:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(toml_repr(c) for c in self.choices)
        marked = getattr(self.convert, "_toml_types", None) is not None
        doc = (self.convert.__doc__ or "").strip().split("\n")[0] if marked else ""
        what = _words(self.types)
        hint = f" ({doc.rstrip('.')[0].lower() + doc.rstrip('.')[1:]})" if doc else ""
        if self.repeated and self.nargs:
            return f"a list of [{', '.join(['...'] * self.nargs)}] lists"
        if self.repeated:
            return f"a list of {what.removeprefix('a ').removeprefix('an ')}s{hint}"
        return f"{what}{hint}"


def _option_key(action: argparse.Action, group: str | None) -> OptionKey | None:
    if not action.option_strings or action.dest in ("help",):
        return None
    long = next((s for s in action.option_strings if s.startswith("--")), None)
    if long is None:
        return None
    flag_value: bool | None = None
    if isinstance(action, argparse._StoreTrueAction):
        flag_value = True
    elif isinstance(action, argparse._StoreFalseAction):
        flag_value = False
    nargs = action.nargs if isinstance(action.nargs, int) else None
    return OptionKey(
        dest=action.dest,
        key=long[2:],
        group=group,
        convert=action.type if callable(action.type) else None,
        types=(bool,) if flag_value is not None else toml_types(action.type),  # type: ignore[arg-type]
        choices=tuple(action.choices) if action.choices is not None else None,
        flag_value=flag_value,
        nargs=nargs,
        repeated=isinstance(action, argparse._AppendAction),
        required=bool(action.required),
        default=action.default,
        help=action.help or "",
    )


class OptionTable:
    """The scenario keys of a parser's options, with their converters.

    Parameters
    ----------
    options : iterable of OptionKey
    exclusive : iterable of tuple of str
        Groups of dests of which at most one may be given.
    """

    def __init__(
        self, options: Iterable[OptionKey], exclusive: Iterable[tuple[str, ...]] = ()
    ) -> None:
        self.options = {o.dest: o for o in options}
        self.exclusive = tuple(exclusive)

    @classmethod
    def from_parser(
        cls, parser: argparse.ArgumentParser, *, skip: Iterable[str] = ()
    ) -> OptionTable:
        """Read the options of ``parser`` (argument groups become scenario tables)."""
        skipped = set(skip)
        group_of: dict[str, str] = {}
        for group in parser._action_groups:
            if group.title in ("positional arguments", "options", "optional arguments"):
                continue
            for action in group._group_actions:
                group_of[action.dest] = str(group.title)
        keys = []
        for action in parser._actions:
            key = _option_key(action, group_of.get(action.dest))
            if key is not None and key.dest not in skipped:
                keys.append(key)
        exclusive = [
            tuple(a.dest for a in group._group_actions)
            for group in parser._mutually_exclusive_groups
        ]
        return cls(keys, exclusive)

    def in_group(self, group: str | None) -> OptionTable:
        """The options of one argparse group (``None``: options in no group)."""
        return OptionTable([o for o in self.options.values() if o.group == group], self.exclusive)

    def without(self, *dests: str) -> OptionTable:
        """This table less some options."""
        return OptionTable(
            [o for o in self.options.values() if o.dest not in dests], self.exclusive
        )

    def merged(self, other: OptionTable) -> OptionTable:
        """Options of both tables (``other`` wins on a clash)."""
        return OptionTable(
            [*self.options.values(), *other.options.values()], (*self.exclusive, *other.exclusive)
        )

    @property
    def keys(self) -> list[str]:
        """Scenario spellings, sorted."""
        return sorted(o.key for o in self.options.values())

    def defaults(self) -> dict[str, Any]:
        """Every option's default value, by dest."""
        return {dest: option.default for dest, option in self.options.items()}

    def lookup(self, key: str) -> OptionKey | None:
        """The option a scenario key names (``micro-batch`` or ``micro_batch``)."""
        return self.options.get(key.replace("-", "_"))

    def convert(
        self,
        values: Mapping[str, Any],
        path: Path | str,
        where: str,
        *,
        base: Path | None = None,
    ) -> dict[str, Any]:
        """Convert a scenario table to option values (by dest), or raise one clear error.

        Parameters
        ----------
        values : mapping
            The TOML table.
        path : Path or str
            The scenario file, for messages.
        where : str
            The table, for messages (``"[fabric]"``).
        base : Path, optional
            Folder that relative file paths are resolved against (the scenario's).
        """
        out: dict[str, Any] = {}
        for key, value in values.items():
            option = self.lookup(key)
            if option is None:
                raise scenario_error(
                    path,
                    where,
                    f"unknown key {key!r}{suggest(key, self.keys)}; allowed: "
                    + ", ".join(self.keys),
                )
            if option.dest in out:
                raise scenario_error(path, where, f"{key!r} is given twice")
            out[option.dest] = self._value(option, value, path, f"{where} {key}".strip(), base)
        for group in self.exclusive:
            given = [self.options[d].key for d in group if d in out]
            if len(given) > 1:
                raise scenario_error(
                    path, where, f"give only one of {', '.join(given)} (they exclude each other)"
                )
        return out

    def _value(
        self, option: OptionKey, value: Any, path: Path | str, where: str, base: Path | None
    ) -> Any:
        at = f"{where} = {toml_repr(value)}"
        if option.flag_value is not None:
            if not isinstance(value, bool):
                raise scenario_error(path, at, "must be true or false")
            return value if option.flag_value else not value
        if option.repeated:
            if not isinstance(value, list):
                raise scenario_error(path, at, f"must be {option.expected()}")
            return [self._item(option, item, path, where, base) for item in value]
        return self._scalar(option, value, path, where, base)

    def _item(
        self, option: OptionKey, item: Any, path: Path | str, where: str, base: Path | None
    ) -> Any:
        if option.nargs is None:
            return self._scalar(option, item, path, where, base)
        at = f"{where} = ... {toml_repr(item)}"
        if not isinstance(item, list) or len(item) != option.nargs:
            raise scenario_error(path, at, f"must be a list of {option.nargs} values")
        for part in item:
            if not isinstance(part, str | int) or isinstance(part, bool):
                raise scenario_error(path, at, f"{toml_repr(part)} must be a string or integer")
        return [str(part) for part in item]

    def _scalar(
        self, option: OptionKey, value: Any, path: Path | str, where: str, base: Path | None
    ) -> Any:
        at = f"{where} = {toml_repr(value)}"
        kind = _type_of(value)
        if kind not in option.types:
            raise scenario_error(path, at, f"{_words([kind])}, expected {option.expected()}")
        if option.convert is Path:
            text = Path(str(value))
            return base / text if base is not None and not text.is_absolute() else text
        if option.convert is None:
            converted: Any = value
        else:
            try:
                converted = option.convert(str(value))
            except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                raise scenario_error(path, at, str(exc)) from None
        if isinstance(converted, float) and not math.isfinite(converted):
            raise scenario_error(path, at, "must be a finite number")
        if option.choices is not None and converted not in option.choices:
            raise scenario_error(
                path, at, "not allowed; allowed: " + ", ".join(toml_repr(c) for c in option.choices)
            )
        return converted
