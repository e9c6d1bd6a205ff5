"""Read and check a scenario file: every key, value and table before any work starts.

A scenario is a command line written down (schema in ``docs/scenarios.md``)::

    kind = "collective"            # collective | replay | training | compare | plan
    name = "all-reduce on two DGX H100"
    [fabric]                       # the fabric options of `topo` / `collective`
    system = "dgx-h100"
    nodes = 2
    [collective]                   # the options of `collective`
    op = "all_reduce"

Keys are the options' names (``micro-batch`` is ``--micro-batch``), values go through the options'
own converters (:mod:`interconnect_sim.scenarios.keys`), and every error is one line naming the
file, the table and key, what was wrong and what is allowed.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.files import read_text_file
from interconnect_sim.scenarios.keys import OptionTable, scenario_error, suggest, toml_repr
from interconnect_sim.scenarios.options import (
    add_calibration_option,
    add_collective_options,
    add_fabric_options,
    add_training_options,
    catalog_from,
)
from interconnect_sim.scenarios.training import REQUIRED_TRAINING_OPTIONS
from interconnect_sim.specs.catalog import Catalog, is_system_path, load_catalog
from interconnect_sim.specs.system_readers import SystemHints
from interconnect_sim.training.model import load_model

__all__ = [
    "KINDS",
    "RUN_KINDS",
    "RunSpec",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "run_tables",
    "training_defaults",
]

KINDS = {
    "collective": "one collective over a size sweep ([fabric], [collective])",
    "replay": "a trace of concurrent collectives ([fabric], [replay])",
    "training": "an LLM training estimate (model, [fabric], [parallel], [training])",
    "compare": "what-if variants of a collective or training run (run, ..., [[variant]])",
    "plan": "a capacity-planning sweep ([plan])",
}
"""Scenario kinds and what each holds."""

RUN_KINDS = ("collective", "replay", "training")
"""Kinds a single run can be (``compare`` runs one of them per variant)."""

_COMMON_KEYS = ("kind", "name", "description")


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of a scenario: its kind and every option value (by argparse dest)."""

    label: str
    kind: str
    values: Mapping[str, Any]
    changes: Mapping[str, Any] = field(default_factory=dict)
    written: tuple[tuple[str, Any], ...] = ()
    """What a variant changes, as written in the file: ``(key, value)`` pairs."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A checked scenario file.

    Attributes
    ----------
    path : Path or None
    kind : str
        One of :data:`KINDS`.
    name, description : str
    text : str
        The file as written (shown in reports).
    runs : tuple of RunSpec
        One run, or one per variant of a ``compare`` scenario (the first is the baseline).
    plan : dict, optional
        The ``[plan]`` table of a ``plan`` scenario, for the planning sweep.
    """

    path: Path | None
    kind: str
    name: str
    description: str
    text: str
    runs: tuple[RunSpec, ...]
    plan: Mapping[str, Any] | None = None


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False, exit_on_error=False)


@cache
def _fabric_table() -> OptionTable:
    parser = _parser()
    add_fabric_options(parser, system_flag=True)
    return OptionTable.from_parser(parser)


@cache
def _collective_table() -> OptionTable:
    parser = _parser()
    add_collective_options(parser)
    return OptionTable.from_parser(parser)


@cache
def _replay_table() -> OptionTable:
    parser = _parser()
    parser.add_argument("--trace", type=Path, required=True, help="JSON Lines trace")
    parser.add_argument("--engine", choices=("des", "analytic", "both"), default="both")
    add_calibration_option(parser)
    return OptionTable.from_parser(parser)


@cache
def _training_table() -> OptionTable:
    parser = _parser()
    add_training_options(parser)
    return OptionTable.from_parser(parser)


def training_defaults() -> dict[str, Any]:
    """Default value of every ``train`` option, by dest."""
    return _training_table().defaults()


def run_tables(kind: str) -> dict[str | None, OptionTable]:
    """The scenario tables of a run kind (``None``: top-level keys) and their options."""
    if kind == "collective":
        return {"fabric": _fabric_table(), "collective": _collective_table()}
    if kind == "replay":
        return {"fabric": _fabric_table(), "replay": _replay_table()}
    table = _training_table()
    return {
        None: table.in_group(None),
        "fabric": table.in_group("fabric"),
        "parallel": table.in_group("parallel"),
        "training": table.in_group("training"),
        "whatif": table.in_group("whatif"),
    }


def _defaults(kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for table in run_tables(kind).values():
        values.update(table.defaults())
    return values


def _convert(
    data: Mapping[str, Any], kind: str, path: Path | str, prefix: str, base: Path | None
) -> dict[str, Any]:
    """Option values given by the tables (and top-level keys) of ``data`` for a run kind."""
    tables = run_tables(kind)
    out: dict[str, Any] = {}
    for name, table in tables.items():
        if name is None:
            given = {k: v for k, v in data.items() if table.lookup(k) is not None}
            out.update(table.convert(given, path, prefix.strip(), base=base))
            continue
        if name not in data:
            continue
        section = data[name]
        where = f"{prefix}[{name}]".strip()
        if not isinstance(section, dict):
            raise scenario_error(
                path, where, f"must be a table, not {toml_repr(section)} (write [{name}] and keys)"
            )
        out.update(table.convert(section, path, where, base=base))
    return out


def _allowed_top(kind: str, extra: tuple[str, ...] = ()) -> list[str]:
    tables = run_tables(kind)
    top = list(tables[None].keys) if None in tables else []
    return [*_COMMON_KEYS, *extra, *top, *(f"[{t}]" for t in tables if t is not None)]


def _check_top(
    data: Mapping[str, Any],
    kind: str,
    path: Path | str,
    extra: tuple[str, ...] = (),
    label: str | None = None,
) -> None:
    allowed = _allowed_top(kind, extra)
    names = {a.strip("[]") for a in allowed}
    for key in data:
        if key not in names and key.replace("_", "-") not in names:
            raise scenario_error(
                path,
                "",
                f"unknown key {key!r}{suggest(key, names)} for "
                f"{label or 'kind = ' + toml_repr(kind)}; "
                f"allowed: {', '.join(allowed)}",
            )


def _check_required(values: Mapping[str, Any], kind: str, path: Path | str, where: str) -> None:
    for name, table in run_tables(kind).items():
        for option in table.options.values():
            if option.required and values.get(option.dest) is None:
                at = f"{where}[{name}]".strip() if name else where
                raise scenario_error(path, at, f"{option.key} is required")
    if kind == "training":
        for dest in REQUIRED_TRAINING_OPTIONS:
            if values.get(dest) is None:
                section = next(n for n, t in run_tables(kind).items() if dest in t.options)
                at = f"[{section}]" if section else "top level"
                raise scenario_error(path, f"{where}{at}".strip(), f"{dest} is required")
        if values.get("nodes") is None and values.get("scalable_units") is None:
            raise scenario_error(path, f"{where}[fabric]", "nodes or scalable-units is required")


def _check_catalog(
    values: Mapping[str, Any], kind: str, path: Path | str, where: str, catalog: Catalog
) -> None:
    """Ids that must exist (system, NIC, switch, model) are checked before any work."""
    if values.get("catalog"):
        try:
            catalog = catalog_from(values)
        except InterconnectSimError as exc:
            raise scenario_error(path, f"{where}[fabric] catalog", str(exc)) from None
    hints = SystemHints(gpu=values.get("gpu"), nic=values.get("nic"))  # for a topology dump
    lookups = (
        ("system", lambda reference: catalog.resolve_system(reference, hints)),
        ("nic", catalog.nic),
        ("switch", catalog.switch),
    )
    for dest, lookup in lookups:
        if values.get(dest) is not None:
            try:
                lookup(str(values[dest]))
            except InterconnectSimError as exc:
                at = f"{where}[fabric] {dest} = {toml_repr(values[dest])}".strip()
                raise scenario_error(path, at, str(exc)) from None
    if kind == "training" and values.get("model") is not None:
        try:
            load_model(str(values["model"]))
        except InterconnectSimError as exc:
            at = f"{where}model = {toml_repr(values['model'])}".strip()
            raise scenario_error(path, at, str(exc)) from None


def _string(data: Mapping[str, Any], key: str, path: Path | str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise scenario_error(path, f"{key} = {toml_repr(value)}", "must be a string")
    return value


def _resolve_model(values: dict[str, Any], base: Path | None) -> None:
    """Model and system files named in a scenario are relative to the scenario's folder."""
    system = values.get("system")
    if (
        isinstance(system, str)
        and is_system_path(system)
        and base is not None
        and not Path(system).is_absolute()
    ):
        values["system"] = str(base / system)
    model = values.get("model")
    if isinstance(model, str) and model.endswith(".toml") and base is not None:
        candidate = base / model
        if not Path(model).is_absolute() and candidate.exists():
            values["model"] = str(candidate)


def _single_run(
    data: Mapping[str, Any], kind: str, path: Path | str, base: Path | None, catalog: Catalog
) -> RunSpec:
    _check_top(data, kind, path)
    given = _convert(data, kind, path, "", base)
    values = {**_defaults(kind), **given}
    _resolve_model(values, base)
    _check_required(values, kind, path, "")
    _check_catalog(values, kind, path, "", catalog)
    return RunSpec("", kind, values, given)


def _compare_runs(
    data: Mapping[str, Any], path: Path | str, base: Path | None, catalog: Catalog
) -> tuple[RunSpec, ...]:
    run_kind = data.get("run")
    if run_kind not in ("collective", "training"):
        raise scenario_error(
            path, f"run = {toml_repr(run_kind)}", 'must be "collective" or "training"'
        )
    _check_top(
        data,
        run_kind,
        path,
        extra=("run", "[[variant]]"),
        label=f'kind = "compare" with run = {toml_repr(run_kind)}',
    )
    given = _convert({k: v for k, v in data.items() if k != "variant"}, run_kind, path, "", base)
    baseline = {**_defaults(run_kind), **given}
    variants = data.get("variant")
    if not isinstance(variants, list) or len(variants) < 2:
        raise scenario_error(
            path, "[[variant]]", "a compare scenario needs at least two [[variant]] tables"
        )
    runs = []
    allowed = [*("name",), *(f"[{t}]" if t else "..." for t in run_tables(run_kind))]
    for number, variant in enumerate(variants, start=1):
        where = f"[[variant]] {number}"
        if not isinstance(variant, dict):
            raise scenario_error(path, where, "must be a table")
        label = variant.get("name")
        if not isinstance(label, str) or not label.strip():
            raise scenario_error(path, where, 'needs a name = "..." to label it in the report')
        where = f"[[variant]] {label!r}"
        tables = run_tables(run_kind)
        for key in variant:
            top = tables.get(None)
            if key != "name" and key not in tables and (top is None or top.lookup(key) is None):
                raise scenario_error(
                    path,
                    where,
                    f"unknown key {key!r}{suggest(key, [str(t) for t in tables if t])}; "
                    f"allowed: {', '.join(allowed)}",
                )
        changes = _convert(
            {k: v for k, v in variant.items() if k != "name"}, run_kind, path, f"{where} ", base
        )
        values = {**baseline, **changes}
        _resolve_model(values, base)
        _check_required(values, run_kind, path, f"{where} ")
        _check_catalog(values, run_kind, path, f"{where} ", catalog)
        written = tuple(
            (key, value)
            for table, section in variant.items()
            if table != "name"
            for key, value in (section.items() if isinstance(section, dict) else [(table, section)])
        )
        runs.append(RunSpec(label, run_kind, values, changes, written))
    return tuple(runs)


def parse_scenario(
    text: str,
    path: Path | str = "<scenario>",
    *,
    default_kind: str | None = None,
    catalog: Catalog | None = None,
) -> Scenario:
    """Check scenario ``text`` (TOML) and return the runs it describes.

    Raises
    ------
    ScenarioError
        One line naming the file, the table and key, what was wrong and what is allowed.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise scenario_error(path, "", f"not valid TOML: {exc}") from None
    catalog = catalog or load_catalog()
    kind = data.get("kind", default_kind)
    if kind is None:
        raise scenario_error(
            path, "", f"missing kind = ...; allowed: {', '.join(toml_repr(k) for k in KINDS)}"
        )
    if kind not in KINDS:
        raise scenario_error(
            path,
            f"kind = {toml_repr(kind)}",
            f"unknown kind{suggest(str(kind), KINDS)}; allowed: "
            + ", ".join(toml_repr(k) for k in KINDS),
        )
    real = Path(path) if isinstance(path, Path) else None
    base = real.parent if real is not None else None
    name = _string(data, "name", path, real.stem if real is not None else "scenario")
    description = _string(data, "description", path, "")
    if kind == "plan":
        from interconnect_sim.scenarios.plan import parse_plan

        plan = parse_plan(data, path, base)
        return Scenario(real, kind, name, description, text, (), plan)
    if kind == "compare":
        runs = _compare_runs(data, path, base, catalog)
    else:
        runs = (_single_run(data, kind, path, base, catalog),)
    return Scenario(real, kind, name, description, text, runs)


def load_scenario(
    path: Path | str, *, default_kind: str | None = None, catalog: Catalog | None = None
) -> Scenario:
    """Read and check the scenario file at ``path`` (see :func:`parse_scenario`)."""
    path = Path(path)
    text = read_text_file(path, "scenario")
    return parse_scenario(text, path, default_kind=default_kind, catalog=catalog)
