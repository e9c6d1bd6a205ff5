"""Evaluate one design point: build (or reuse) its fabric, pick its layout, time it, count it.

An :class:`Evaluator` lives in each worker process and keeps what design points share: the
catalog, fabrics by their defining inputs, each fabric's communicator analyses and collective
times (``estimate_step``'s ``cache``), its bill of materials, and layout searches. Rows come
out in the schema of :mod:`interconnect_sim.planning.rows`; a point that fails gets its error
in its row.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.importers.topology import system_from_dump_file
from interconnect_sim.planning.bom import BillOfMaterials, Reach, bill_of_materials
from interconnect_sim.planning.cost import PriceTable, estimate_cost, load_price_table
from interconnect_sim.planning.design import Constraints, DesignPoint
from interconnect_sim.planning.layout_choice import (
    Choice,
    auto_layout,
    explicit_layout,
    layout_json,
)
from interconnect_sim.planning.layout_space import split_of
from interconnect_sim.planning.placement import JobFabric, job_placement, limiting_term
from interconnect_sim.planning.power import estimate_power
from interconnect_sim.planning.rows import empty_row
from interconnect_sim.planning.verdict import verdict
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.specs.system_readers import SystemHints, register_system_reader
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import ModelConfig, load_model
from interconnect_sim.training.step import StepEstimate
from interconnect_sim.training.time_to_train import (
    Goodput,
    TimeToTrain,
    checkpoint_cost_s,
    load_failure_profile,
    time_to_train,
)

__all__ = ["EvalSettings", "Evaluator"]

_FABRICS_KEPT = 4  # fabrics held per worker; points arrive grouped by fabric

# A sweep's system may be a topology dump; worker processes started afresh (Dask) import this
# module, not the command line, so the reader is registered here too (docs/design/system-dumps.md).
register_system_reader(system_from_dump_file)


@dataclass(frozen=True, slots=True)
class EvalSettings:
    """What every worker needs besides the design points (picklable)."""

    sweep: str
    objective: str = "time_to_train"
    constraints: Constraints = field(default_factory=Constraints)
    prices: str | None = None


class Evaluator:
    """Evaluates design points, reusing fabrics and analyses across points."""

    def __init__(self, settings: EvalSettings) -> None:
        self.settings = settings
        self.compute = load_compute_calibration()
        self._calibrations: dict[str | None, Calibration] = {}
        self.prices: PriceTable | None = (
            None if settings.prices is None else load_price_table(Path(settings.prices))
        )
        self._catalog_cache: Catalog | None = None
        self._fabrics: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._models: dict[str, ModelConfig] = {}

    # -- shared objects ---------------------------------------------------------------------

    def _catalog(self) -> Catalog:
        if self._catalog_cache is None:
            self._catalog_cache = load_catalog()
        return self._catalog_cache

    def calibration(self, path: str | None) -> Calibration:
        """The collective calibration a design names (``None``: the shipped one), loaded once."""
        if path not in self._calibrations:
            self._calibrations[path] = load_calibration(None if path is None else Path(path))
        return self._calibrations[path]

    def _model(self, name: str) -> ModelConfig:
        if name not in self._models:
            self._models[name] = load_model(name)
        return self._models[name]

    def _fabric(self, point: DesignPoint) -> dict[str, Any]:
        key = point.fabric_key()
        if key in self._fabrics:
            self._fabrics.move_to_end(key)
            return self._fabrics[key]
        inputs = point.inputs
        catalog = self._catalog()
        hints = SystemHints(gpu=inputs.get("gpu"), nic=inputs.get("nic"))
        system = catalog.resolve_system(str(inputs["system"]), hints)
        nodes = inputs.get("nodes")
        used = system.gpu_count
        if inputs.get("gpus") is not None:
            nodes, used = job_placement(inputs["gpus"], system.gpu_count)
        request = FabricRequest(
            system=str(inputs["system"]),
            gpu=inputs.get("gpu"),
            node_count=nodes,
            scalable_units=inputs.get("scalable_units"),
            oversubscription=inputs.get("oversubscription") or 1.0,
            levels=inputs.get("levels"),
            nic=inputs.get("nic"),
            nic_count=inputs.get("nic_count"),
            switch=inputs.get("switch"),
        )
        built = build_fabric(catalog, request)
        fabric = built
        if used < system.gpu_count:
            local = int(used)
            fabric = JobFabric(
                built, [g for g in built.gpus if built.graph.nodes[g]["local_rank"] < local]
            )
        pod = None
        if system.superpod is not None and request.switch is None:
            pod = catalog.superpod(system.superpod)
        entry = {
            "catalog": catalog,
            "system": system,
            "fabric": fabric,
            "built": built,
            "gpus_per_node_used": used,
            "analytic": AnalyticEngine(catalog, self.calibration(inputs.get("calibration"))),
            "cache": {},
            "boms": {},
            "searches": {},
            "management_ports": 0 if pod is None else pod.fabric_management_ports,
        }
        self._fabrics[key] = entry
        while len(self._fabrics) > _FABRICS_KEPT:
            self._fabrics.popitem(last=False)
        return entry

    def _bom(self, entry: dict[str, Any], inputs: dict[str, Any]) -> BillOfMaterials:
        reach = inputs.get("reach") or {}
        key = (json.dumps(reach, sort_keys=True), inputs.get("rack_power"))
        if key not in entry["boms"]:
            entry["boms"][key] = bill_of_materials(
                entry["built"],
                entry["catalog"],
                reach=Reach(**{f"{k}_m": v for k, v in reach.items()}),
                management_ports=entry["management_ports"],
                rack_power_w=inputs.get("rack_power") or 40e3,
                system=entry["system"],
            )
        bom: BillOfMaterials = entry["boms"][key]
        return bom

    def _layout(
        self, entry: dict[str, Any], inputs: dict[str, Any], model: ModelConfig, gpus: int
    ) -> Choice:
        if inputs["layout"] == "auto":
            return auto_layout(entry, inputs, model, gpus, self.compute)
        memory_fit = self.settings.constraints.memory_fit
        return explicit_layout(entry, inputs, model, gpus, self.compute, check_memory=memory_fit)

    # -- one point --------------------------------------------------------------------------

    def _time_to_train(
        self, inputs: dict[str, Any], model: ModelConfig, step: StepEstimate, gpus: int, hosts: int
    ) -> TimeToTrain:
        cost = inputs.get("checkpoint_cost")
        if cost is None and inputs.get("storage_bandwidth"):
            cost = checkpoint_cost_s(model.parameters(), inputs["storage_bandwidth"])
        goodput = Goodput(
            rates=load_failure_profile(inputs.get("failure_profile")).rates,
            checkpoint_cost_s=cost,
            restart_s=inputs.get("restart"),
            checkpoint_interval_s=inputs.get("checkpoint_interval"),
        )
        return time_to_train(inputs["tokens"], step.tokens_per_s, gpus, hosts, goodput)

    def evaluate(
        self,
        point: DesignPoint,
        *,
        layout: Mapping[str, Any] | None = None,
        engine: str | None = None,
    ) -> dict[str, Any]:
        """The row of one design point (its error in the row if it fails).

        ``layout`` and ``engine`` re-time the point with a given layout (its row's
        ``layout_json``) on another engine; the row keeps the point's id and inputs.
        """
        inputs = dict(point.inputs)
        mode = "auto" if inputs["layout"] == "auto" else "explicit"
        if layout is not None:
            inputs["layout"] = dict(layout)
        if engine is not None:
            inputs["engine"] = engine
        row = empty_row()
        row.update(
            design_id=point.design_id,
            sweep=self.settings.sweep,
            inputs_json=json.dumps(dict(point.inputs), sort_keys=True, default=str),
            **{
                k: inputs.get(k)
                for k in (
                    "system",
                    "nic",
                    "nic_count",
                    "switch",
                    "levels",
                    "oversubscription",
                    "tokens",
                    "global_batch",
                    "precision",
                    "tp_overlap",
                    "engine",
                    "pue",
                )
            },
        )
        row["network"] = None if inputs.get("network") is None else str(inputs["network"])
        for key in ("gpus", "nodes", "model"):
            row[key] = inputs.get(key)
        row["layout_mode"] = mode
        try:
            self._fill(row, point, inputs)
        except InterconnectSimError as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            row["feasible"] = False
        return row

    def _fill(self, row: dict[str, Any], point: DesignPoint, inputs: dict[str, Any]) -> None:
        entry = self._fabric(point)
        fabric, catalog = entry["fabric"], entry["catalog"]
        model = self._model(str(inputs["model"]))
        gpus = inputs.get("gpus") or len(fabric.gpus)
        parallel, step, evaluated, _ = self._layout(entry, inputs, model, gpus)
        bom = self._bom(entry, inputs)
        ttt = self._time_to_train(inputs, model, step, gpus, bom.hosts)
        power = estimate_power(bom, catalog, pue=inputs["pue"])
        if ttt.expected_days is None or ttt.goodput is None:
            raise ScenarioError("internal error: no failure estimate")
        wall_s = ttt.expected_days * 86400.0
        limiting, tier = limiting_term(step, parallel, fabric)
        row.update(
            model=model.id,
            nodes=int(fabric.graph.graph["node_count"]),
            gpus_per_node=entry["gpus_per_node_used"],
            gpus=gpus,
            seq=parallel.seq_len,
            nic=row["nic"] or entry["system"].nic,
            levels=fabric.graph.graph.get("levels"),
            oversubscription=row["oversubscription"] or 1.0,
            tp=parallel.tp,
            pp=parallel.pp,
            vpp=parallel.vpp,
            cp=parallel.cp,
            dp=parallel.dp,
            ep=parallel.ep,
            zero=parallel.zero_stage,
            micro_batch=parallel.micro_batch,
            recompute=parallel.recompute,
            pp_split=split_of(parallel).describe(),
            layout_json=layout_json(parallel),
            pp_first_stage_layers=parallel.pp_first_stage_layers,
            pp_last_stage_layers=parallel.pp_last_stage_layers,
            layouts_evaluated=evaluated,
            step_time_s=step.step_time_s,
            tokens_per_s=step.tokens_per_s,
            tflops_per_gpu=step.tflops_per_gpu,
            mfu_pct=step.mfu_pct,
            memory_per_gpu_gb=step.memory.total_bytes / 1e9,
            memory_capacity_gb=step.memory_capacity_bytes / 1e9,
            fits_memory=step.memory.total_bytes <= step.memory_capacity_bytes,
            breakdown_json=json.dumps(step.breakdown_s, sort_keys=True),
            limiting=limiting,
            limiting_tier=tier,
            time_to_train_days=ttt.ideal_days,
            time_to_train_with_failures_days=ttt.expected_days,
            gpu_hours=ttt.gpu_hours,
            goodput=ttt.goodput,
            expected_interruptions=ttt.interruptions,
            job_mtbf_h=None if ttt.mtbf_s is None else ttt.mtbf_s / 3600,
            checkpoint_interval_h=None
            if ttt.checkpoint_interval_s is None
            else ttt.checkpoint_interval_s / 3600,
            checkpoint_cost_s=ttt.checkpoint_cost_s,
            restart_s=ttt.restart_s,
            warnings="; ".join([*step.warnings, *bom.warnings]),
        )
        for name, seconds in step.breakdown_s.items():
            if f"{name}_s" in row:
                row[f"{name}_s"] = seconds
        row.update(bom.to_row())
        row.update(power.to_row())
        if self.prices is not None:
            cost = estimate_cost(bom, power, self.prices, catalog, wall_clock_s=wall_s)
            row.update(cost.to_row(inputs["tokens"]))
        else:
            row["energy_mwh"] = power.facility_w * wall_s / 3600 / 1e6
        self._verdict(row)

    def _verdict(self, row: dict[str, Any]) -> None:
        verdict(row, self.settings.objective, self.settings.constraints)
