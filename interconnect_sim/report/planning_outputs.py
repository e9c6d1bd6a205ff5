"""What a sweep writes besides its rows: Pareto and scaling plots, and ``summary.md``.

* **Pareto**: time-to-train (with failures) against run cost (or energy when there are no
  prices); every design grey, feasible ones coloured by system, the Pareto front of the feasible
  designs joined by a line.
* **Scaling**: throughput and scaling efficiency against GPUs, one line per system / network /
  oversubscription series. Efficiency is tokens/s per GPU relative to the series' smallest size.
* **summary.md**: the best design by the sweep's objective and why (its step breakdown and
  limiting tier, against the runner-up and the best of each system), the Pareto designs, where
  adding nodes stops paying, and what was infeasible or failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from interconnect_sim.files import write_atomically

__all__ = [
    "SERIES",
    "cost_axis",
    "pareto_figure",
    "pareto_mask",
    "scaling_figure",
    "scaling_table",
    "summary_markdown",
    "write_figure",
]

SERIES = ("system", "network", "oversubscription")
"""Columns that together name a scaling series."""

_DAYS = "time_to_train_with_failures_days"
_MARGINAL_STOPS_PAYING = 0.5


def cost_axis(frame: pd.DataFrame) -> tuple[str, str]:
    """(column, label) of the Pareto plot's cost axis: run cost if priced, else energy."""
    if "run_cost" in frame and frame["run_cost"].notna().any():
        currency = frame["currency"].dropna().iloc[0] if frame["currency"].notna().any() else ""
        return "run_cost", f"cost of the run ({currency}, example prices unless your own)"
    return "energy_mwh", "energy of the run (MWh, facility)"


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["error"].isna()]


def pareto_mask(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """True for feasible designs that no other feasible design beats on both ``x`` and ``y``."""
    mask = pd.Series(False, index=frame.index)
    feasible = frame[(frame["feasible"] == True) & frame[x].notna() & frame[y].notna()]  # noqa: E712
    best_y = np.inf
    for index, row in feasible.sort_values([x, y]).iterrows():
        if row[y] < best_y:
            mask[index] = True
            best_y = row[y]
    return mask


def _label(row: Any) -> str:
    parts = [str(row["system"])]
    if isinstance(row.get("network"), str):
        parts.append(row["network"])
    return " ".join(parts)


def pareto_figure(frame: pd.DataFrame) -> Figure:
    """Time-to-train against cost, feasible designs highlighted, the front drawn."""
    fig, ax = plt.subplots(figsize=(7.5, 5))
    ok = _ok(frame)
    ycol, ylabel = cost_axis(ok)
    ax.scatter(ok[_DAYS], ok[ycol], s=14, color="#cccccc", label="all designs", zorder=1)
    feasible = ok[ok["feasible"] == True]  # noqa: E712
    for system, group in feasible.groupby("system"):
        ax.scatter(group[_DAYS], group[ycol], s=22, label=f"{system} (feasible)", zorder=2)
    front = ok[pareto_mask(ok, _DAYS, ycol)].sort_values(_DAYS)
    if not front.empty:
        ax.plot(
            front[_DAYS],
            front[ycol],
            color="black",
            lw=1,
            marker="o",
            ms=9,
            mfc="none",
            zorder=3,
            label="Pareto front",
        )
    ax.set_xlabel("time to train with failures (days)")
    ax.set_ylabel(ylabel)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def scaling_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per series and size: throughput, efficiency, marginal efficiency of the last step up."""
    ok = _ok(frame).copy()
    keys = [k for k in SERIES if k in ok and ok[k].notna().any()]
    rows = []
    for _, group in ok.groupby(keys, dropna=False):
        # The fastest design of each size (a sweep may hold several per size).
        best = group.sort_values("tokens_per_s").groupby("gpus").tail(1).sort_values("gpus")
        base = best.iloc[0]
        previous = None
        for _, row in best.iterrows():
            per_gpu = row["tokens_per_s"] / row["gpus"]
            marginal = np.nan
            if previous is not None:
                marginal = (row["tokens_per_s"] / previous["tokens_per_s"]) / (
                    row["gpus"] / previous["gpus"]
                )
            rows.append(
                {
                    "series": _series_name(row),
                    "system": row["system"],
                    "network": row.get("network"),
                    "oversubscription": row.get("oversubscription"),
                    "gpus": int(row["gpus"]),
                    "tokens_per_s": row["tokens_per_s"],
                    "efficiency": per_gpu / (base["tokens_per_s"] / base["gpus"]),
                    "marginal_efficiency": marginal,
                }
            )
            previous = row
    return pd.DataFrame(rows)


def _series_name(row: Any) -> str:
    parts = [str(row["system"])]
    if isinstance(row.get("network"), str):
        parts.append(row["network"])
    if pd.notna(row.get("oversubscription")):
        parts.append(f"{row['oversubscription']:g}:1")
    return " ".join(parts)


def write_figure(path: Path, fig: Figure) -> None:
    """Save a figure atomically (PNG at 130 dpi) and free it."""
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=130))
    finally:
        plt.close(fig)


def scaling_figure(frame: pd.DataFrame) -> Figure:
    """Throughput and efficiency against GPUs."""
    table = scaling_table(frame)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 7), sharex=True)
    # Colour by system, line style by network, marker by oversubscription.
    systems = sorted(table["system"].unique()) if not table.empty else []
    networks = sorted(str(n) for n in table["network"].unique()) if not table.empty else []
    tapers = sorted(table["oversubscription"].dropna().unique()) if not table.empty else []
    colours = plt.get_cmap("tab10")
    styles, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
    for series, group in table.groupby("series"):
        first = group.iloc[0]
        style = {
            "color": colours(systems.index(first["system"]) % 10),
            "linestyle": styles[networks.index(str(first["network"])) % len(styles)],
            "marker": markers[tapers.index(first["oversubscription"]) % len(markers)]
            if pd.notna(first["oversubscription"])
            else "o",
            "ms": 4,
            "label": series,
        }
        top.plot(group["gpus"], group["tokens_per_s"] / 1e6, **style)
        bottom.plot(group["gpus"], 100 * group["efficiency"], **style)
    top.set_ylabel("throughput (M tokens/s)")
    bottom.set_ylabel("scaling efficiency (% of per-GPU\nthroughput at the smallest size)")
    bottom.set_xlabel("GPUs")
    for ax in (top, bottom):
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3, which="both")
    top.set_yscale("log")
    bottom.set_ylim(bottom=0)
    top.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def _describe(row: Any) -> str:
    network = f" {row['network']}" if isinstance(row.get("network"), str) else ""
    return (
        f"{row['system']}{network}, {int(row['gpus'])} GPUs ({int(row['nodes'])} nodes), "
        f"{row['oversubscription']:g}:1"
    )


def _layout(row: Any) -> str:
    split = row.get("pp_split")
    uneven = isinstance(split, str) and split != "even"
    return (
        f"tp {row['tp']}, pp {row['pp']}, vpp {row['vpp']}, cp {row['cp']}, dp {row['dp']}, "
        f"ep {row['ep']}, ZeRO {row['zero']}, micro-batch {row['micro_batch']}, recompute "
        f"{row['recompute']}" + (f", pipeline split {split}" if uneven else "")
    )


def _why(row: Any) -> list[str]:
    terms = {
        "compute": row["compute_s"],
        "pipeline bubble": row["bubble_s"],
        "exposed TP": row["exposed_tp_s"],
        "exposed CP": row["exposed_cp_s"],
        "exposed EP": row["exposed_ep_s"],
        "exposed PP": row["exposed_pp_s"],
        "exposed DP": row["exposed_dp_s"],
        "optimizer": row["optimizer_s"],
    }
    step = row["step_time_s"]
    shares = ", ".join(
        f"{name} {100 * value / step:.1f} %"
        for name, value in terms.items()
        if pd.notna(value) and value > 0
    )
    return [
        f"- step {step:.3g} s ({shares}); limited by {row['limiting']} on the "
        f"{row['limiting_tier']} tier; MFU {row['mfu_pct']:.1f} %",
        f"- {row['time_to_train_days']:.1f} days without failures, "
        f"{row[_DAYS]:.1f} with them (goodput {100 * row['goodput']:.1f} %, "
        f"{row['expected_interruptions']:.0f} interruptions expected)",
        f"- {int(row['bom_leaf_switches'])} leaf / {int(row['bom_spine_switches'])} spine / "
        f"{int(row['bom_core_switches'])} core switches, {int(row['bom_node_leaf_cables'])} + "
        f"{int(row['bom_leaf_spine_cables'])} + {int(row['bom_spine_core_cables'])} cables, "
        f"{int(row['bom_transceivers'])} transceivers; {row['power_facility_kw'] / 1e3:.2f} MW "
        f"facility",
    ]


def summary_markdown(frame: pd.DataFrame, *, sweep: str, objective: str, prices: str) -> str:
    """The sweep's summary: best designs and why."""
    ok = _ok(frame)
    # Ties on the objective (a taper the analytic engine cannot see) go to the cheaper design.
    order = [c for c in ("objective", "run_cost", "energy_mwh") if c in ok]
    feasible = ok[ok["feasible"] == True].sort_values(order)  # noqa: E712
    lines = [
        f"# Sweep {sweep}",
        "",
        f"{len(frame)} designs: {len(feasible)} feasible, "
        f"{len(ok) - len(feasible)} infeasible, {len(frame) - len(ok)} failed. "
        f"Objective: minimise {objective}. Prices: {prices}.",
        "",
    ]
    if feasible.empty:
        lines += ["No design meets every constraint. Closest by objective:", ""]
        feasible = ok.sort_values(order)
    if not feasible.empty:
        best = feasible.iloc[0]
        lines += ["## Best design", "", f"**{_describe(best)}**, layout {_layout(best)}", ""]
        lines += _why(best)
        if len(feasible) > 1:
            second = feasible.iloc[1]
            lines += [
                "",
                f"Runner-up: {_describe(second)} ({objective} "
                f"{second['objective']:.4g} against {best['objective']:.4g}).",
            ]
        lines += [
            "",
            "## Best of each system",
            "",
            "| system | design | layout | days (with failures) | cost | MW | limited by |",
            "|---|---|---|---:|---:|---:|---|",
        ]
        for _, row in feasible.groupby("system").head(1).iterrows():
            cost = "-" if pd.isna(row.get("run_cost")) else f"{row['run_cost']:.4g}"
            lines.append(
                f"| {row['system']} | {_describe(row)} | {_layout(row)} | "
                f"{row[_DAYS]:.1f} | {cost} | {row['power_facility_kw'] / 1e3:.2f} | "
                f"{row['limiting']} ({row['limiting_tier']}) |"
            )
    ycol, ylabel = cost_axis(ok)
    front = ok[pareto_mask(ok, _DAYS, ycol)].sort_values(_DAYS)
    if not front.empty:
        lines += ["", f"## Pareto front (time to train against {ylabel})", ""]
        lines += [
            f"- {_describe(r)}: {r[_DAYS]:.1f} days, {r[ycol]:.4g}" for _, r in front.iterrows()
        ]
    lines += _recheck_lines(frame)
    lines += _scaling_lines(frame)
    lines += _problem_lines(frame)
    return "\n".join(lines) + "\n"


def _recheck_lines(frame: pd.DataFrame) -> list[str]:
    """The designs re-timed on the discrete-event engine, beside their first timing."""
    if "des_step_time_s" not in frame or frame["des_step_time_s"].isna().all():
        return []
    timed = frame[frame["des_step_time_s"].notna()].sort_values(
        ["system", "network", "gpus", "oversubscription"], na_position="first"
    )
    lines = [
        "",
        "## Re-timed on the discrete-event engine",
        "",
        "Every communication group of a kind at once, contending for the links they share "
        "(the analytic engine times each group alone, so a taper changes only the cost there). "
        "The discrete-event step is the step's timeline, which also differs from the closed "
        "form by design (docs/design/timeline.md: bucketed data-parallel calls, real schedule): "
        "compare a design's variants with each other in the DES column.",
        "",
        "| design | layout | step (analytic) | step (DES) | DES - analytic | exposed DP, PP (DES) "
        "| days with failures (DES) | cost (DES) |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for _, row in timed.iterrows():
        cost = "-" if pd.isna(row.get("des_run_cost")) else f"{row['des_run_cost']:.4g}"
        lines.append(
            f"| {_describe(row)} | {_layout(row)} | {row['step_time_s']:.4f} s | "
            f"{row['des_step_time_s']:.4f} s | {row['des_slowdown_pct']:+.2f} % | "
            f"{row['des_exposed_dp_s']:.4f}, {row['des_exposed_pp_s']:.4f} s | "
            f"{row['des_time_to_train_with_failures_days']:.2f} | {cost} |"
        )
    return lines


def _scaling_lines(frame: pd.DataFrame) -> list[str]:
    table = scaling_table(frame)
    if table.empty:
        return []
    lines = [
        "",
        "## Where adding GPUs stops paying",
        "",
        f"First size at which doubling (or the next step up) adds less than "
        f"{_MARGINAL_STOPS_PAYING:.0%} of the GPUs' worth of throughput:",
        "",
    ]
    for series, group in table.groupby("series"):
        stop = group[group["marginal_efficiency"] < _MARGINAL_STOPS_PAYING]
        largest = group.iloc[-1]
        if stop.empty:
            lines.append(
                f"- {series}: keeps paying up to {largest['gpus']} GPUs "
                f"(efficiency {100 * largest['efficiency']:.0f} %)"
            )
        else:
            first = stop.iloc[0]
            lines.append(
                f"- {series}: at {first['gpus']} GPUs (marginal efficiency "
                f"{100 * first['marginal_efficiency']:.0f} %)"
            )
    return lines


def _problem_lines(frame: pd.DataFrame) -> list[str]:
    lines = []
    infeasible = frame[(frame["feasible"] == False) & frame["error"].isna()]  # noqa: E712
    if not infeasible.empty:
        counts = (
            infeasible["infeasible_reasons"]
            .str.split("; ")
            .explode()
            .str.replace(r" \(.*\)", "", regex=True)
            .value_counts()
        )
        lines += ["", "## Infeasible", ""] + [f"- {n} x {why}" for why, n in counts.items()]
    failed = frame[frame["error"].notna()]
    if not failed.empty:
        lines += ["", "## Failed design points", ""]
        lines += [
            f"- {_label(r)}, {r['gpus'] if pd.notna(r['gpus']) else '?'} GPUs: {r['error']}"
            for _, r in failed.head(20).iterrows()
        ]
    return lines
