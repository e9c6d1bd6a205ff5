"""Read PyTorch profiler traces (the Chrome-trace JSON ``torch.profiler`` writes, one per rank).

Recent PyTorch (2.1+) records each collective's metadata on the ``record_param_comms`` CPU op and,
from 2.2 on, on the NCCL kernel itself: ``Collective name``, ``In msg nelems``, ``Out msg
nelems``, ``dtype``, ``Group size``, ``Process Group Name`` / ``Description`` / ``Ranks`` and,
for point-to-point, ``Src Rank`` / ``Dst Rank``. The top-level ``distributedInfo`` names the
file's rank. GPU kernel times are used where the metadata can be tied to a kernel (on the kernel,
or through the launch's ``correlation`` id), else the CPU op's time.

Older traces have no metadata: NCCL kernels are recognised by name (``ncclKernel_AllReduce_...``,
``ncclDevKernel_AllGather_...``), their size estimated from the ``Input Dims`` of the CPU op that
launched them where the trace recorded shapes (``record_shapes=True``), their group taken to be
the whole job; both with a note. Kineto's own reader in Holistic Trace Analysis was considered and
not used (see ``docs/importers.md``).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.errors import TraceError
from interconnect_sim.importers.trace_calls import Observation

__all__ = ["looks_like_pytorch_trace", "read_pytorch_trace"]

_COLLECTIVES = {
    "allreduce": CollectiveOp.ALL_REDUCE,
    "all_reduce": CollectiveOp.ALL_REDUCE,
    "allgather": CollectiveOp.ALL_GATHER,
    "all_gather": CollectiveOp.ALL_GATHER,
    "reduce_scatter": CollectiveOp.REDUCE_SCATTER,
    "reducescatter": CollectiveOp.REDUCE_SCATTER,
    "all_to_all": CollectiveOp.ALLTOALL,
    "all_to_allv": CollectiveOp.ALLTOALL,
    "alltoall": CollectiveOp.ALLTOALL,
    "broadcast": CollectiveOp.BROADCAST,
    "reduce": CollectiveOp.REDUCE,
    "send": CollectiveOp.SENDRECV,
    "recv": CollectiveOp.SENDRECV,
}
_KERNEL_OPS = {
    "AllReduce": CollectiveOp.ALL_REDUCE,
    "AllGather": CollectiveOp.ALL_GATHER,
    "ReduceScatter": CollectiveOp.REDUCE_SCATTER,
    "Broadcast": CollectiveOp.BROADCAST,
    "Reduce": CollectiveOp.REDUCE,
    "SendRecv": CollectiveOp.SENDRECV,
}
_KERNEL = re.compile(r"^nccl(?:Dev)?Kernel_([A-Za-z]+)")
_DTYPE_BYTES = {
    "float": 4, "float32": 4, "half": 2, "float16": 2, "bfloat16": 2, "double": 8, "float64": 8,
    "int": 4, "int32": 4, "long": 8, "int64": 8, "short": 2, "int16": 2, "char": 1, "int8": 1,
    "byte": 1, "uint8": 1, "bool": 1, "float8_e4m3fn": 1, "float8_e5m2": 1,
    "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1, "complexfloat": 8, "complexdouble": 16,
    "unsigned char": 1, "signed char": 1, "c10::half": 2,
}  # fmt: skip
_SUFFIXES = ("_coalesced", "_into_tensor", "_tensor", "_base", "_oop")


def looks_like_pytorch_trace(text: str) -> bool:
    """True for a Chrome-trace JSON with ``traceEvents``."""
    return text.lstrip().startswith("{") and '"traceEvents"' in text


def load_json_text(path: Path) -> str:
    """A file's text, gunzipped when it is gzip (``.json.gz`` traces)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TraceError(f"{path}: cannot read trace: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise TraceError(f"{path}: damaged gzip file: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None


def collective_op(name: str) -> CollectiveOp | None:
    """The op of a PyTorch ``Collective name`` (``_allgather_base``, ``allreduce_coalesced``)."""
    key = name.strip().lower().lstrip("_")
    for suffix in _SUFFIXES:
        key = key.removesuffix(suffix)
    return _COLLECTIVES.get(key)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _group_ranks(args: dict[str, Any], world: int) -> tuple[int, ...] | None:
    text = args.get("Process Group Ranks")
    ranks = [int(v) for v in re.findall(r"-?\d+", str(text))] if text is not None else []
    if isinstance(text, list):
        ranks = [int(v) for v in text if _int(v) is not None]
    size = _int(args.get("Group size"))
    if text is not None and "..." not in str(text) and ranks:
        return tuple(ranks)
    start, stride = _int(args.get("Global rank start")), _int(args.get("Global rank stride"))
    if size and start is not None and stride:
        return tuple(start + i * stride for i in range(size))
    if size and len(ranks) >= 2:  # a truncated list: extend its stride
        return tuple(ranks[0] + i * (ranks[1] - ranks[0]) for i in range(size))
    if size == world:
        return tuple(range(world))
    return None


class _PyTorchFile:
    """One rank's trace file."""

    def __init__(self, path: Path, text: str, index: int) -> None:
        self.path = path
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}, line {exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
            raise TraceError(f"{path}: a PyTorch profiler trace needs a 'traceEvents' list")
        info: dict[str, Any] = data.get("distributedInfo") or {}
        if not isinstance(info, dict):
            info = {}
        named = re.search(r"rank[_-]?(\d+)", path.name)
        rank = _int(info.get("rank"))
        self.rank = rank if rank is not None else int(named.group(1)) if named else index
        self.world = _int(info.get("world_size")) or 0
        self.events = [e for e in data["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"]
        self.notes: list[str] = []
        for event in self.events:
            ts, dur = event.get("ts"), event.get("dur", 0)
            if (
                not isinstance(ts, int | float)
                or not isinstance(dur, int | float)
                or not (math.isfinite(ts) and math.isfinite(dur) and dur >= 0)
            ):
                raise TraceError(f"{path}: event {event.get('name')!r} has a bad ts or dur")

    def origin_us(self) -> float:
        gpu = [e["ts"] for e in self.events if e.get("cat") in ("kernel", "gpu_memcpy")]
        return float(min(gpu or [e["ts"] for e in self.events] or [0.0]))


def _args(event: dict[str, Any]) -> dict[str, Any]:
    args = event.get("args")
    return args if isinstance(args, dict) else {}


def _observation(
    trace: _PyTorchFile, event: dict[str, Any], args: dict[str, Any], timing: dict[str, Any]
) -> Observation | None:
    name = str(args.get("Collective name", ""))
    op = collective_op(name)
    if op is None:
        trace.notes.append(name or "?")
        return None
    dtype = _DTYPE_BYTES.get(str(args.get("dtype", "")).lower())
    inputs, outputs = _int(args.get("In msg nelems")), _int(args.get("Out msg nelems"))
    if dtype is None or inputs is None or outputs is None or max(inputs, outputs) > 2**50:
        trace.notes.append(f"{name} without dtype or element counts")
        return None
    ranks = _group_ranks(args, trace.world)
    group = str(args.get("Process Group Description") or args.get("Process Group Name") or "")
    if op is CollectiveOp.SENDRECV:
        return _p2p(trace, name, args, ranks, max(inputs, outputs) * dtype, timing)
    if ranks is None:
        trace.notes.append(f"{name} without its group's ranks")
        return None
    if op is CollectiveOp.ALL_GATHER:
        size = max(outputs, inputs * len(ranks)) * dtype
    elif op is CollectiveOp.REDUCE_SCATTER:
        size = max(inputs, outputs * len(ranks)) * dtype
    else:
        size = inputs * dtype
    return Observation(
        rank=trace.rank,
        op=op,
        size_bytes=float(size),
        ranks=ranks,
        group=group or "world",
        start_us=float(timing["ts"]),
        end_us=float(timing["ts"]) + float(timing.get("dur", 0)),
        source=f"{trace.path}: {event.get('name')}",
    )


def _p2p(
    trace: _PyTorchFile,
    name: str,
    args: dict[str, Any],
    ranks: tuple[int, ...] | None,
    size: int,
    timing: dict[str, Any],
) -> Observation | None:
    src, dst = _int(args.get("Src Rank")), _int(args.get("Dst Rank"))
    if src is None or dst is None:
        trace.notes.append(f"{name} without Src Rank / Dst Rank")
        return None
    if ranks is not None and max(src, dst) < len(ranks):
        src, dst = ranks[src], ranks[dst]  # group ranks -> global ranks
    return Observation(
        rank=trace.rank,
        op=CollectiveOp.SENDRECV,
        size_bytes=float(size),
        ranks=(src, dst),
        group="p2p",
        start_us=float(timing["ts"]),
        end_us=float(timing["ts"]) + float(timing.get("dur", 0)),
        order_key=(src, dst),
        source=f"{trace.path}: {name}",
    )


def _launches(trace: _PyTorchFile) -> tuple[dict[tuple[Any, Any], list[Any]], dict[Any, Any]]:
    """Kernel-launch runtime events per thread (sorted by ts) and NCCL kernels by correlation."""
    kernels = {
        _args(e).get("correlation"): e
        for e in trace.events
        if e.get("cat") == "kernel" and str(e.get("name", "")).startswith("nccl")
    }
    launches: dict[tuple[Any, Any], list[Any]] = defaultdict(list)
    for event in trace.events:
        launch = event.get("cat") in ("cuda_runtime", "cuda_driver")
        if launch and _args(event).get("correlation") in kernels:
            launches[(event.get("pid"), event.get("tid"))].append(event)
    for items in launches.values():
        items.sort(key=lambda e: e["ts"])
    return launches, kernels


def _kernel_for(
    op_event: dict[str, Any],
    launches: dict[tuple[Any, Any], list[Any]],
    kernels: dict[Any, Any],
) -> dict[str, Any] | None:
    """The NCCL kernel launched from inside ``op_event`` (or the next one on its thread)."""
    items = launches.get((op_event.get("pid"), op_event.get("tid")), [])
    position = bisect_left([e["ts"] for e in items], op_event["ts"])
    if position < len(items):
        kernel: dict[str, Any] = kernels[_args(items[position]).get("correlation")]
        return kernel
    return None


def _with_metadata(trace: _PyTorchFile) -> list[Observation] | None:
    on_kernels = [
        e for e in trace.events if e.get("cat") == "kernel" and "Collective name" in _args(e)
    ]
    if on_kernels:
        found = [_observation(trace, e, _args(e), e) for e in on_kernels]
        return [o for o in found if o is not None]
    ops = [
        e
        for e in trace.events
        if e.get("name") == "record_param_comms" and "Collective name" in _args(e)
    ]
    if not ops:
        return None
    launches, kernels = _launches(trace)
    found = []
    cpu_timed = 0
    for event in ops:
        kernel = _kernel_for(event, launches, kernels)
        cpu_timed += kernel is None
        found.append(_observation(trace, event, _args(event), kernel or event))
    if cpu_timed:
        trace.notes.append(f"{cpu_timed} call(s) timed on the CPU: no NCCL kernel tied to them")
    return [o for o in found if o is not None]


def _estimated(trace: _PyTorchFile) -> list[Observation]:
    """Calls of a trace without metadata: NCCL kernels by name, sizes from recorded shapes."""
    launches, kernels = _launches(trace)
    by_correlation: dict[Any, dict[str, Any]] = {}
    for thread, items in launches.items():
        shaped = sorted(
            (e for e in trace.events if (e.get("pid"), e.get("tid")) == thread
             and "Input Dims" in _args(e)),
            key=lambda e: e["ts"],
        )  # fmt: skip
        for launch in items:
            enclosing = [e for e in shaped if e["ts"] <= launch["ts"] <= e["ts"] + e["dur"]]
            if enclosing:
                by_correlation[_args(launch).get("correlation")] = enclosing[-1]
    found = []
    unsized = 0
    for correlation, kernel in kernels.items():
        match = _KERNEL.match(str(kernel.get("name", "")))
        op = _KERNEL_OPS.get(match.group(1)) if match else None
        if op is None or op is CollectiveOp.SENDRECV:
            unsized += 1
            continue
        size = _size_from_shapes(by_correlation.get(correlation), op, trace.world or 1)
        if size is None:
            unsized += 1
            continue
        world = trace.world or 1
        found.append(
            Observation(
                rank=trace.rank,
                op=op,
                size_bytes=size,
                ranks=tuple(range(world)),
                group="world",
                start_us=float(kernel["ts"]),
                end_us=float(kernel["ts"]) + float(kernel.get("dur", 0)),
                source=f"{trace.path}: {kernel.get('name')}",
            )
        )
    trace.notes.append(
        f"no collective metadata (PyTorch < 2.1?): {len(found)} NCCL kernel(s) recognised by "
        "name, sizes estimated from the recorded input shapes, groups taken as the whole job"
        + (f"; {unsized} kernel(s) left out (no shapes recorded, or point-to-point)" if unsized
           else "")
    )  # fmt: skip
    return found


def _size_from_shapes(
    op_event: dict[str, Any] | None, op: CollectiveOp, world: int
) -> float | None:
    if op_event is None:
        return None
    args = _args(op_event)
    types = args.get("Input type", [])
    sizes = []
    for index, dims in enumerate(args.get("Input Dims", [])):
        flat = dims
        while isinstance(flat, list) and flat and isinstance(flat[0], list):
            flat = flat[0]
        if not isinstance(flat, list) or not all(isinstance(d, int) for d in flat):
            continue
        kind = str(types[index]).lower().split("::")[-1] if index < len(types) else "float"
        width = _DTYPE_BYTES.get(kind.strip("[]() "))
        if width is not None and flat and 0 < math.prod(flat) * width <= 2**50:
            sizes.append(math.prod(flat) * width)
    if not sizes:
        return None
    if op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER):
        # The gathered output / scattered input is recorded with the per-rank buffer; alone,
        # the per-rank buffer times the group size.
        return float(max(sizes) if len(sizes) > 1 else sizes[0] * world)
    return float(sizes[0])


def read_pytorch_trace(
    files: list[tuple[Path, str]],
) -> tuple[list[Observation], dict[int, float], list[str]]:
    """Observations of every collective in the given ranks' traces.

    Returns
    -------
    observations, origins_us, notes
        Per-rank collectives, each rank's first GPU activity (us, its clock), and notes.

    Raises
    ------
    TraceError
        Not JSON, no ``traceEvents``, bad event times, two files of the same rank.
    """
    traces = [_PyTorchFile(path, text, i) for i, (path, text) in enumerate(files)]
    ranks = Counter(t.rank for t in traces)
    duplicated = [rank for rank, count in ranks.items() if count > 1]
    if duplicated:
        raise TraceError(f"two traces are of rank {duplicated[0]}; give one file per rank")
    observations: list[Observation] = []
    notes: list[str] = []
    left_out: Counter[str] = Counter()
    for trace in traces:
        found = _with_metadata(trace)
        if found is None:
            found = _estimated(trace)
        observations.extend(found)
        left_out.update(note for note in trace.notes if " " not in note)
        notes.extend(f"{trace.path}: {note}" for note in trace.notes if " " in note)
    notes.extend(
        f"{count} '{name}' call(s) left out (all ranks): not a collective the model replays"
        for name, count in sorted(left_out.items())
    )
    worlds = {t.world for t in traces if t.world}
    if worlds and len(traces) < max(worlds):
        notes.append(
            f"traces of {len(traces)} of {max(worlds)} ranks: the calls of groups without any "
            "of these ranks are missing; give every rank's file to replay the whole job"
        )
    return observations, {t.rank: t.origin_us() for t in traces}, notes
