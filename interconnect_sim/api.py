"""Short calls for notebooks and scripts: a collective on a fabric, a training estimate.

These wrap the engines and the training model with the defaults the command line uses, so
``import interconnect_sim as ics`` is enough for most questions::

    fabric = ics.build_fabric(ics.load_catalog(), ics.FabricRequest(system="dgx-h100"))
    estimate = ics.collective(fabric, "all_reduce", ics.nccl_sizes("1K", "8G"))
    run = ics.train("llama3-70b", system="dgx-h100", nodes=16, tp=8, pp=4)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.converters import message_size
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.errors import ScenarioError
from interconnect_sim.scenarios.collective import size_sweep
from interconnect_sim.scenarios.keys import suggest
from interconnect_sim.scenarios.loader import training_defaults
from interconnect_sim.scenarios.training import TrainingRun, run_training
from interconnect_sim.specs.catalog import Catalog, load_catalog
from interconnect_sim.specs.model import GpuSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.validation.harness import Predictor, Score, score_predictions
from interconnect_sim.validation.measurements import load_measurements

__all__ = ["collective", "gpu_table", "nccl_sizes", "train", "validation_score"]


def nccl_sizes(
    min_bytes: str | float = "8", max_bytes: str | float = "8G", step_factor: float = 2.0
) -> NDArray[np.float64]:
    """Message sizes like nccl-tests ``-b MIN -e MAX -f FACTOR`` (``"8"``, ``"1M"``, ``"8G"``).

    Examples
    --------
    >>> nccl_sizes("1K", "8K").tolist()
    [1024.0, 2048.0, 4096.0, 8192.0]
    """

    def size(value: str | float) -> float:
        return message_size(value) if isinstance(value, str) else float(value)

    return size_sweep(size(min_bytes), size(max_bytes), step_factor)


def collective(
    fabric: Fabric,
    op: str | CollectiveOp,
    sizes_bytes: ArrayLike | None = None,
    *,
    engine: str = "analytic",
    algorithm: str | None = None,
    protocol: str | None = None,
    node_count: int | None = None,
    gpus_per_node: int | None = None,
    gpus: Sequence[str] | None = None,
    catalog: Catalog | None = None,
    calibration: Path | None = None,
) -> CollectiveEstimate:
    """Predict one collective at each size: time, algbw, busbw, algorithm, what limits it.

    Parameters
    ----------
    fabric : Fabric
        Built with :func:`~interconnect_sim.topology.presets.build_fabric` (and any what-if).
    op : str or CollectiveOp
        ``all_reduce``, ``all_gather``, ``reduce_scatter``, ``alltoall``, ``broadcast``,
        ``reduce`` or ``sendrecv`` (nccl-tests spellings accepted).
    sizes_bytes : array_like, optional
        Sizes in bytes, nccl-tests' convention for ``op``; default :func:`nccl_sizes` 8 B..8 GiB.
    engine : {"analytic", "des"}
        The closed-form model, or the discrete-event simulation of the same flows.
    algorithm, protocol : str, optional
        Force a choice like ``NCCL_ALGO`` / ``NCCL_PROTO`` (``ring``, ``tree``, ``nvls``,
        ``nvlstree``, ``collnet``, ``pat``; ``ll``, ``ll128``, ``simple``).
    node_count, gpus_per_node, gpus : optional
        The communicator: the first ``gpus_per_node`` GPUs of the first ``node_count`` nodes, or
        an explicit list of GPU ids (default: every GPU).
    catalog : Catalog, optional
    calibration : Path, optional
        A calibration file from ``interconnect-sim calibrate``.
    """
    catalog = catalog or load_catalog()
    model = AnalyticEngine(catalog, load_calibration(calibration))
    sizes = nccl_sizes() if sizes_bytes is None else sizes_bytes
    kind = parse_op(op) if isinstance(op, str) else op
    bw = model.bandwidths(fabric, node_count=node_count, gpus_per_node=gpus_per_node, gpus=gpus)
    if engine == "analytic":
        return model.estimate(
            fabric, kind, sizes, algorithm=algorithm, protocol=protocol, bandwidths=bw
        )
    if engine == "des":
        des = DiscreteEventEngine(catalog, model.calibration)
        return des.estimate(
            fabric, kind, sizes, algorithm=algorithm, protocol=protocol, bandwidths=bw
        )
    raise ScenarioError(f"engine {engine!r}: use 'analytic' or 'des'")


def train(
    model: str,
    *,
    system: str | None = None,
    fabric: Fabric | None = None,
    catalog: Catalog | None = None,
    **options: Any,
) -> TrainingRun:
    """Estimate a training step and time-to-train, with the options of ``interconnect-sim train``.

    Parameters
    ----------
    model : str
        Preset id (``llama3-70b``) or a model TOML file.
    system : str
        Preset system id; with ``nodes`` or ``scalable_units`` (and any other fabric option such
        as ``nic``, ``oversubscription``, ``nvlink_lanes``) it describes the fabric.
    fabric : Fabric, optional
        Train on this fabric instead (e.g. one with a what-if applied); ``system`` is then read
        from it.
    **options
        Any ``train`` option by its Python name: ``tp``, ``pp``, ``dp``, ``cp``, ``ep``, ``vpp``,
        ``micro_batch``, ``global_batch``, ``precision``, ``recompute``, ``zero``, ``tp_overlap``,
        ``tokens`` (a number), ``mtbf_node`` (seconds), ``engine`` ...

    Examples
    --------
    >>> run = train("llama3-8b", system="dgx-h100", nodes=1, tp=2, pp=1, micro_batch=1)
    >>> run.parallel.world_size, bool(0 < run.step.mfu_pct < 100)
    (8, True)
    """
    defaults = training_defaults()
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ScenarioError(
            f"unknown option {unknown[0]!r}{suggest(unknown[0], defaults)}; allowed: "
            + ", ".join(sorted(defaults))
        )
    values = {**defaults, **options, "model": model}
    if fabric is not None:
        values["system"] = fabric.graph.graph.get("system")
        values.setdefault("nodes", fabric.graph.graph.get("node_count"))
        if values.get("nodes") is None and values.get("scalable_units") is None:
            values["nodes"] = fabric.graph.graph.get("node_count")
    elif system is not None:
        values["system"] = system
    if values.get("nodes") is None and values.get("scalable_units") is None:
        values["nodes"] = 1
    return run_training(values, catalog=catalog, fabric=fabric)


def validation_score(
    system: str | None = None, op: str | None = None, *, catalog: Catalog | None = None
) -> Score:
    """The analytic model's errors on the shipped nccl-tests measurements, as ``validate``
    prints them: per system class and op, median and worst absolute % error of busbw at
    >= 64 MiB and of time at <= 64 KiB; optionally only one preset ``system`` and one ``op``.
    """
    catalog = catalog or load_catalog()
    rows = load_measurements(catalog=catalog)
    if system is not None:
        rows = rows[rows["system"] == system]
    if op is not None:
        rows = rows[rows["op"] == parse_op(op).value]
    if rows.empty:
        raise ScenarioError(f"no shipped measurements of system={system!r}, op={op!r}")
    return score_predictions(Predictor(AnalyticEngine(catalog)).predict(rows))


def gpu_table(catalog: Catalog | None = None) -> pd.DataFrame:
    """Every GPU of the catalog with its NVLink and PCIe bandwidth, per direction and as the
    vendor's bidirectional headline, and its year: the numbers behind "NVLink vs PCIe".

    Columns: ``gpu``, ``name``, ``year``, ``nvlink`` (link type), ``nvlink_links``,
    ``nvlink_per_direction_GBps``, ``nvlink_bidirectional_GBps``, ``pcie`` (link type and
    lanes), ``pcie_per_direction_GBps``, ``pcie_bidirectional_GBps``,
    ``memory_bandwidth_GBps``; GB = 1e9 bytes.
    """
    catalog = catalog or load_catalog()
    rows = []
    for gpu in catalog.of_kind(GpuSpec):
        derived = catalog.derived(gpu)
        nvlink = derived["nvlink_per_direction"]
        pcie = derived["pcie_per_direction"]
        rows.append(
            {
                "gpu": gpu.id,
                "name": gpu.name,
                "year": gpu.year,
                "nvlink": gpu.nvlink or "",
                "nvlink_links": gpu.nvlink_count,
                "nvlink_per_direction_GBps": nvlink / 1e9,
                "nvlink_bidirectional_GBps": 2 * nvlink / 1e9,
                "pcie": f"{gpu.pcie} x{gpu.pcie_lanes}",
                "pcie_per_direction_GBps": pcie / 1e9,
                "pcie_bidirectional_GBps": 2 * pcie / 1e9,
                "memory_bandwidth_GBps": gpu.memory_bandwidth_bytes_per_s / 1e9,
            }
        )
    return pd.DataFrame(rows).sort_values(["year", "gpu"], kind="stable").reset_index(drop=True)
