"""Read the JSON that nccl-tests writes with ``-J FILE`` (format version 3, nccl-tests 2.17+).

One object: ``args`` (the command line, whose first word names the binary), ``env``
(``NAME=value`` strings), ``nccl_version`` (NCCL's version code, 22703 = 2.27.3), ``config``
(threads, GPUs, sizes and ``devices``: rank, group, hostname, device, device_info) and
``results``: one object per size with ``size``, ``type`` and ``out_of_place`` / ``in_place``
objects holding ``time`` (us), ``alg_bw``, ``bus_bw`` (GB/s) and ``nwrong``. A file cut short by
a crash keeps the results it completed, with a note.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from interconnect_sim.errors import MeasurementError
from interconnect_sim.importers.runs import (
    MAX_SIZE_BYTES,
    BenchmarkRun,
    RankInfo,
    ResultRow,
    finite_number,
)

__all__ = ["looks_like_nccl_tests_json", "read_nccl_tests_json"]

_VARIANTS = ("out_of_place", "in_place")


def looks_like_nccl_tests_json(text: str) -> bool:
    """True for a JSON object with nccl-tests' ``results`` and ``config`` keys."""
    head = text.lstrip()[:4000]
    return head.startswith("{") and '"results"' in text and '"config"' in head


def _version(code: Any) -> str:
    if isinstance(code, bool) or not isinstance(code, int) or code <= 0:
        return ""
    if code >= 10000:  # NCCL >= 2.9: major * 10000 + minor * 100 + patch
        return f"{code // 10000}.{code // 100 % 100}.{code % 100}"
    return f"{code // 1000}.{code // 100 % 10}.{code % 100}"


def _recover(text: str, source: str) -> tuple[dict[str, Any], str]:
    """Parse a document cut short inside its ``results`` list: keep what was completed."""
    start = text.find('"results"')
    bracket = text.find("[", start) if start >= 0 else -1
    if bracket < 0:
        raise MeasurementError(f"{source}: not valid JSON and no 'results' list to recover")
    try:
        head = json.loads(text[:start].rstrip().rstrip(",") + "}")
    except json.JSONDecodeError as exc:
        raise MeasurementError(f"{source}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
    decoder = json.JSONDecoder()
    results: list[Any] = []
    position = bracket + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        results.append(item)
    head["results"] = results
    return head, f"the file stops after {len(results)} results (a crash?); those are kept"


def _ranks(config: dict[str, Any], where: str) -> list[RankInfo]:
    devices = config.get("devices", [])
    if not isinstance(devices, list):
        raise MeasurementError(f"{where}: config.devices must be a list")
    ranks = []
    for index, device in enumerate(devices):
        if not isinstance(device, dict):
            raise MeasurementError(f"{where}: config.devices[{index}] must be an object")
        try:
            ranks.append(
                RankInfo(
                    rank=int(device.get("rank", index)),
                    group=int(device.get("group", 0)),
                    host=str(device["hostname"]),
                    device=int(device.get("device", 0)),
                    gpu_name=str(device.get("device_info", "")).strip(),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise MeasurementError(
                f"{where}: config.devices[{index}] needs hostname, rank and device"
            ) from None
    return ranks


def _row(item: Any, index: int, where: str) -> ResultRow:
    here = f"{where}, results[{index}]"
    if not isinstance(item, dict):
        raise MeasurementError(f"{here}: must be an object")
    variant = next((v for v in _VARIANTS if isinstance(item.get(v), dict)), None)
    if variant is None:
        raise MeasurementError(f"{here}: has neither out_of_place nor in_place numbers")
    numbers = item[variant]
    if "cpu_time" in numbers:
        raise MeasurementError(
            f"{here}: CPU time (nccl-tests -C 1), not the time of the collective; rerun "
            "without -C to score the model"
        )
    try:
        size = finite_number(str(item["size"]), here, "size", positive=True)
        time = finite_number(str(numbers["time"]), here, "time", positive=True)
        algbw = finite_number(str(numbers["alg_bw"]), here, "alg_bw")
        busbw = finite_number(str(numbers["bus_bw"]), here, "bus_bw")
    except KeyError as exc:
        raise MeasurementError(f"{here}: missing {exc.args[0]!r}") from None
    if size > MAX_SIZE_BYTES or not size.is_integer():
        raise MeasurementError(f"{here}: size {item['size']!r} is not a plausible byte count")
    wrong = numbers.get("nwrong")
    return ResultRow(
        line=index + 1,
        size_bytes=size,
        time_us=time,
        algbw_gbps=algbw,
        busbw_gbps=busbw,
        dtype=str(item.get("type", "")),
        in_place=variant == "in_place",
        wrong=0.0 if wrong is None else finite_number(str(wrong), here, "nwrong"),
    )


def read_nccl_tests_json(text: str, source: str) -> list[BenchmarkRun]:
    """The run in an nccl-tests ``-J`` file.

    Raises
    ------
    MeasurementError
        Not JSON (and not a truncated nccl-tests document), or a result without numbers.
    """
    notes = []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data, note = _recover(text, source)
        notes.append(note)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise MeasurementError(f"{source}: expected nccl-tests JSON with a 'results' list")
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise MeasurementError(f"{source}: 'config' must be an object")
    args = [str(a) for a in data.get("args", [])] if isinstance(data.get("args"), list) else []
    env_items = data.get("env", []) if isinstance(data.get("env"), list) else []
    env = dict(
        str(item).split("=", 1)
        for item in env_items
        if isinstance(item, str) and item.startswith("NCCL_") and "=" in item
    )
    op = PurePath(args[0]).name if args else None
    if op is not None:
        op = re.sub(r"_mpi$", "", op)
    run = BenchmarkRun(
        source=source,
        line=1,
        op=op,
        ranks=_ranks(config, source),
        nccl_version=_version(data.get("nccl_version")),
        env=env,
        notes=notes,
        description=" ".join(args),
    )
    run.rows = [_row(item, i, source) for i, item in enumerate(data["results"])]
    if any(row.in_place for row in run.rows):
        run.notes.append("some results had only in-place numbers; those are used")
    return [run]
