"""Measurement files are validated strictly; the fit recovers a known calibration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import MeasurementError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from interconnect_sim.validation.fit import fit_calibration
from interconnect_sim.validation.measurements import load_measurements

HEADER = "system,nodes,gpus_per_node,op,bytes,time_us,busbw_GBps"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "m.csv"
    path.write_text(header + "\n" + body + "\n")
    return path


def test_minimal_file_loads_with_defaults(tmp_path: Path, catalog: Catalog) -> None:
    frame = load_measurements(_write(tmp_path, "dgx-h100,1,8,allreduce,1024,12.5,0.1"), catalog)
    assert frame.loc[0, "op"] == "all_reduce"
    assert frame.loc[0, "fit_role"] == "fit"


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (
            "dgx-h100,1,8,all_reduce,1024,12.5,0.1",
            "system,nodes,op,bytes,time_us,busbw_GBps",
            "missing column",
        ),
        ("dgx-h100,1,8,all_reduce,1024,12.5,0.1,x", HEADER + ",colour", "unknown column"),
        ("dgx-h100,1,8,all_reduce,1024,fast,0.1", HEADER, r"row 1, column 'time_us'"),
        ("dgx-h100,0,8,all_reduce,1024,1.0,0.1", HEADER, r"row 1, column 'nodes'"),
        ("dgx-h100,1,8,allscatter,1024,1.0,0.1", HEADER, "unknown collective"),
        ("dgx-h1000,1,8,all_reduce,1024,1.0,0.1", HEADER, "unknown system"),
    ],
)
def test_bad_files_name_row_and_column(
    tmp_path: Path, catalog: Catalog, body: str, header: str, message: str
) -> None:
    with pytest.raises(MeasurementError, match=message):
        load_measurements(_write(tmp_path, body, header), catalog)


def _synthetic(engine: AnalyticEngine, catalog: Catalog) -> pd.DataFrame:
    rows = []
    sizes = 2.0 ** np.arange(3, 34, 2)
    for system, nodes, op in [
        ("dgx-h100", 2, CollectiveOp.ALL_GATHER),
        ("dgx-h100", 1, CollectiveOp.ALL_GATHER),
        ("dgx-a100", 2, CollectiveOp.ALL_GATHER),
    ]:  # HDR-bound ring
        fabric = build_fabric(catalog, FabricRequest(system=system, node_count=nodes))
        est = engine.estimate(fabric, op, sizes)
        for size, time in zip(sizes, est.time_s, strict=True):
            rows.append(
                {
                    "system": system,
                    "nodes": nodes,
                    "gpus_per_node": 8,
                    "op": op.value,
                    "bytes": size,
                    "time_us": time * 1e6,
                    "busbw_GBps": size / time * busbw_factor(op, nodes * 8) / 1e9,
                    "nic": "",
                    "nic_count": "",
                    "p2p": "",
                    "algo": "",
                    "proto": "",
                    "fit_role": "fit",
                    "run_id": f"{system}-{nodes}",
                    "measured_system": "synthetic",
                }
            )
    return pd.DataFrame(rows)


def test_fit_recovers_the_efficiencies_that_generated_the_data(catalog: Catalog) -> None:
    truth = replace(
        load_calibration(),
        intra_efficiency={"nvlink": 0.85, "pcie": 0.8, "host": 0.5},
        network_efficiency={**load_calibration().network_efficiency, "infiniband": 0.9},
    )
    data = _synthetic(AnalyticEngine(catalog, truth), catalog)
    engine = AnalyticEngine(catalog, load_calibration())
    result = fit_calibration(engine, data, sweeps=3)
    assert result.parameters["intra_efficiency.nvlink"] == pytest.approx(0.85, abs=0.02)
    assert result.parameters["network_efficiency.infiniband"] == pytest.approx(0.9, abs=0.02)
    assert result.objective_bandwidth < 0.01
