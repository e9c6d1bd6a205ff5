"""Run a sweep's design points on local processes or a Dask cluster, streaming rows to disk.

Points are grouped by the fabric they build (``DesignPoint.fabric_key``) and cut into batches;
a batch is one task, so a worker builds a fabric once and reuses its analyses for every point
of the batch. Tasks run on

* the local machine: a process pool with one worker per core (``workers``; 1 runs in this
  process), or
* Dask: an existing scheduler (``scheduler="tcp://host:8786"``) or a local cluster started for
  the run (``dask_workers=N``).

Every executor runs the same function on the same batches, so the rows are identical. As each
batch finishes its rows are written to ``OUT/designs.parquet/part-*.parquet`` (one Arrow schema,
:mod:`~interconnect_sim.planning.rows`); a later run of the same sweep into the same folder skips
the design points already there, so an interrupted sweep resumes without duplicating rows.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from interconnect_sim.calibration import load_calibration
from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import write_atomically
from interconnect_sim.planning.design import DesignPoint, Sweep
from interconnect_sim.planning.evaluate import EvalSettings, Evaluator
from interconnect_sim.planning.recheck import RECHECKS, select_rechecks
from interconnect_sim.planning.rows import SCHEMA

__all__ = ["RowStore", "RunStats", "evaluate_batch", "recheck_batch", "run_sweep", "settings_for"]

PARTS = "designs.parquet"
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_EVALUATORS: dict[EvalSettings, Evaluator] = {}


def _evaluator(settings: EvalSettings) -> Evaluator:
    evaluator = _EVALUATORS.get(settings)
    if evaluator is None:
        _EVALUATORS.clear()
        evaluator = _EVALUATORS[settings] = Evaluator(settings)
    return evaluator


def evaluate_batch(settings: EvalSettings, points: list[Any]) -> list[dict[str, Any]]:
    """Evaluate design points (their inputs) in this process; the unit of work of every executor."""
    evaluator = _evaluator(settings)
    return [evaluator.evaluate(DesignPoint(inputs)) for inputs in points]


def recheck_batch(settings: EvalSettings, items: list[Any]) -> list[dict[str, Any]]:
    """Re-time design points, each ``(inputs, layout)``, on the discrete-event engine."""
    evaluator = _evaluator(settings)
    return [
        evaluator.evaluate(DesignPoint(inputs), layout=layout, engine="des")
        for inputs, layout in items
    ]


class RowStore:
    """The part files of ``designs.parquet`` (or ``rechecks.parquet``): what is done, and
    appending what finishes."""

    def __init__(self, folder: Path, parts: str = PARTS) -> None:
        self.folder = Path(folder) / parts
        self.folder.mkdir(parents=True, exist_ok=True)
        self._next = len(list(self.folder.glob("part-*.parquet")))

    def read(self) -> pd.DataFrame:
        """Every row written so far (empty frame with the schema when none)."""
        parts = sorted(self.folder.glob("part-*.parquet"))
        tables = [pq.read_table(p, schema=SCHEMA) for p in parts] or [SCHEMA.empty_table()]
        return pa.concat_tables(tables).to_pandas(types_mapper=_NULLABLE.get)

    def done_ids(self) -> set[str]:
        """Design ids already written."""
        parts = sorted(self.folder.glob("part-*.parquet"))
        ids: set[str] = set()
        for part in parts:
            ids.update(pq.read_table(part, columns=["design_id"]).column(0).to_pylist())
        return ids

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Write rows as one new part file (atomically: a crash leaves it whole or absent)."""
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        while (path := self.folder / f"part-{self._next:06d}.parquet").exists():
            self._next += 1
        write_atomically(path, lambda tmp: pq.write_table(table, tmp))
        self._next += 1


@dataclass(frozen=True, slots=True)
class RunStats:
    """What a run did."""

    points: int
    skipped: int
    evaluated: int
    errors: int
    elapsed_s: float
    executor: str
    rechecked: int = 0


def settings_for(sweep: Sweep) -> EvalSettings:
    """The worker settings of a sweep; its problems (prices, calibration files) as errors."""
    if sweep.prices is None and sweep.objective in ("cost", "cost_per_token"):
        raise ScenarioError(f"{sweep.path}: objective {sweep.objective!r} needs prices = FILE")
    if sweep.prices is None and sweep.constraints.budget is not None:
        raise ScenarioError(f"{sweep.path}: a budget constraint needs prices = FILE")
    for path in sorted(
        {str(p.inputs["calibration"]) for p in sweep.points() if p.inputs.get("calibration")}
    ):
        load_calibration(Path(path))  # a bad calibration file is an error before any work
    return EvalSettings(
        sweep=sweep.name,
        objective=sweep.objective,
        constraints=sweep.constraints,
        prices=None if sweep.prices is None else str(sweep.prices),
    )


def _batches(points: Iterable[DesignPoint], size: int) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for point in points:
        groups.setdefault(point.fabric_key(), []).append(dict(point.inputs))
    batches: list[list[dict[str, Any]]] = []
    for group in groups.values():
        batches.extend(group[i : i + size] for i in range(0, len(group), size))
    # Large fabrics first, so the longest tasks do not start last.
    return sorted(batches, key=lambda b: -int(b[0].get("gpus") or b[0].get("nodes") or 0))


Work = Callable[[EvalSettings, list[Any]], list[dict[str, Any]]]
"""A unit of work of every executor: settings and a batch in, rows out."""


def _local(
    work: Work, settings: EvalSettings, batches: list[list[Any]], workers: int
) -> Iterator[list[dict[str, Any]]]:
    if workers == 1:
        for batch in batches:
            yield work(settings, batch)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: set[Future[list[dict[str, Any]]]] = {
            pool.submit(work, settings, batch) for batch in batches
        }
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


def _dask(
    work: Work,
    settings: EvalSettings,
    batches: list[list[Any]],
    scheduler: str | None,
    dask_workers: int | None,
) -> Iterator[list[dict[str, Any]]]:
    try:
        dist: Any = importlib.import_module("distributed")
    except ImportError:
        raise ScenarioError(
            "Dask is not installed: pip install 'interconnect-sim[dask]' (or dask[distributed])"
        ) from None

    cluster = None
    if scheduler is None:
        cluster = dist.LocalCluster(
            n_workers=dask_workers or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = dist.Client(cluster)
    else:
        try:
            client = dist.Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ScenarioError(f"--scheduler: cannot reach {scheduler!r}: {exc}") from None
    try:
        futures = [client.submit(work, settings, batch, pure=False) for batch in batches]
        for future in dist.as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass(frozen=True, slots=True)
class _Runner:
    """Where batches run: a local pool or Dask."""

    workers: int | None
    scheduler: str | None
    dask_workers: int | None

    @property
    def dask(self) -> bool:
        return self.scheduler is not None or self.dask_workers is not None

    def describe(self) -> str:
        if self.dask:
            return f"dask ({self.scheduler or f'local cluster of {self.dask_workers}'})"
        count = self.workers or os.cpu_count() or 1
        return f"local ({count} process{'es' if count > 1 else ''})"

    def run(
        self, work: Work, settings: EvalSettings, batches: list[list[Any]]
    ) -> Iterator[list[dict[str, Any]]]:
        if self.dask:
            return _dask(work, settings, batches, self.scheduler, self.dask_workers)
        count = self.workers or os.cpu_count() or 1
        return _local(work, settings, batches, max(1, min(count, len(batches) or 1)))


def _stream(
    rows_stream: Iterator[list[dict[str, Any]]],
    store: RowStore,
    todo: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    """Append every batch's rows as it finishes; (rows, errors)."""
    finished = errors = 0
    for rows in rows_stream:
        store.append(rows)
        finished += len(rows)
        errors += sum(1 for r in rows if r["error"] is not None)
        if progress is not None:
            progress(finished, todo)
    return finished, errors


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_workers: int | None = None,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    calibration: Path | None = None,
) -> RunStats:
    """Evaluate every design point of ``sweep`` not yet in ``out``, appending rows as they finish;
    then re-time what ``[recheck]`` asks for (:mod:`.recheck`) not yet in
    ``out/rechecks.parquet``.

    Parameters
    ----------
    sweep : Sweep
        The sweep.
    out : Path
        Output folder; rows go to ``out/designs.parquet/``.
    workers : int, optional
        Local worker processes (default: every core; 1 runs in this process).
    scheduler : str, optional
        Address of a Dask scheduler to run on.
    dask_workers : int, optional
        Start a local Dask cluster of this many worker processes.
    batch_size : int
        Design points per task (points of one fabric).
    progress : callable, optional
        Called with (points done, points to do) after each batch.
    calibration : Path, optional
        Calibration file for every collective, as if the sweep set ``calibration`` in
        ``[design]`` (default: the sweep's, else the shipped one). It is one of each design's
        inputs, so rows made with another calibration are not taken for done.
    """
    if scheduler is not None and dask_workers is not None:
        raise ScenarioError("give either --scheduler or --dask-workers, not both")
    start = time.perf_counter()
    if calibration is not None:
        sweep = sweep.with_design("calibration", calibration=str(calibration))
    settings = settings_for(sweep)
    runner = _Runner(workers, scheduler, dask_workers)
    store = RowStore(out)
    done = store.done_ids()
    points = list({p.design_id: p for p in sweep.points()}.values())
    todo = [p for p in points if p.design_id not in done]
    batches = _batches(todo, max(1, batch_size))
    finished, errors = _stream(
        runner.run(evaluate_batch, settings, batches), store, len(todo), progress
    )
    rechecked = 0
    if sweep.recheck is not None:
        rechecks = RowStore(out, RECHECKS)
        redone = rechecks.done_ids()
        chosen = select_rechecks(sweep, store.read())
        items = [[(dict(p.inputs), layout)] for p, layout in chosen if p.design_id not in redone]
        rechecked, _ = _stream(runner.run(recheck_batch, settings, items), rechecks, 0, None)
    return RunStats(
        points=len(points),
        skipped=len(points) - len(todo),
        evaluated=finished,
        errors=errors,
        elapsed_s=time.perf_counter() - start,
        executor=runner.describe(),
        rechecked=rechecked,
    )
