"""The CaR vs sparse table and plots, rebuilt from the per-run files of bench/rl_compare.py.

    python bench/rl_table.py            # docs/results/rl/table.md and docs/results/rl/SUITE.png
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "rl"
LABELS = {"car": "CaR", "sparse": "sparse", "her": "sparse + HER"}
# An assumption, not a measurement (kept from the first bench): a hosted GPT-4o-class model
# answering one short question about one small image takes about a second end to end.
ASSUMED_VLM_SECONDS = 1.0


def load(out: Path, suite: str) -> dict[str, list[dict]]:
    """variant -> its run records, by seed."""
    runs: dict[str, list[dict]] = {}
    for path in sorted((out / suite).glob("*-seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        runs.setdefault(record["variant"], []).append(record)
    for records in runs.values():
        records.sort(key=lambda r: r["seed"])
    return runs


def k(steps: int) -> str:
    return f"{steps / 1000:.0f}k" if steps < 1_000_000 or steps % 100_000 else f"{steps / 1e6:.0f}M"


def cells(records: list[dict], seeds) -> tuple[str, float | None, bool]:
    """('70k / 60k / >300k', median steps with unreached seeds counted at their budget, all reached)."""
    by_seed = {r["seed"]: r for r in records}
    shown, values = [], []
    for seed in seeds:
        r = by_seed.get(seed)
        if r is None:
            shown.append("–")
        elif r.get("error"):
            shown.append("failed")
        elif r["steps_to_target"] is None:
            shown.append(f">{k(r['settings']['budget'])}")
            values.append(r["settings"]["budget"])
        else:
            shown.append(k(r["steps_to_target"]))
            values.append(r["steps_to_target"])
    done = [by_seed[s] for s in seeds if s in by_seed]
    reached = all(r["steps_to_target"] is not None for r in done) and len(done) == len(seeds)
    return " / ".join(shown), (statistics.median(values) if values else None), reached


def human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def ratio(car: tuple, other: tuple) -> str:
    """sparse median / CaR median; '≥' when a sparse seed never got there (its budget is a lower bound)."""
    (_, car_median, car_reached), (_, median, reached) = car, other
    if car_median is None or median is None:
        return "–"
    value = median / car_median
    if not car_reached and not reached:
        # Unreached seeds count at the budget, the same for both.  A CaR median below sparse's is
        # then below the budget, so it is a seed that got there: exact, and sparse's a lower bound.
        return f"≥ {value:.2f}x" if car_median < median else "neither reached"
    prefix = "" if reached and car_reached else ("≥ " if car_reached else "≤ ")
    return f"{prefix}{value:.2f}x"


def notes(out: Path) -> dict[str, str]:
    """Why a row has no runs yet (OUT/notes.json, kept by hand beside the results): a table row
    must say why it is empty, and the reason outlives the sitting that wrote it."""
    path = out / "notes.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


README_MARKERS = ("<!-- rl-table -->", "<!-- /rl-table -->")


def into_readme(readme: Path, table: str) -> bool:
    """The table between the README's markers; False (and the README untouched) without them."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    start, end = README_MARKERS
    if start not in text or end not in text or text.index(start) > text.index(end):
        return False
    head, rest = text.split(start, 1)
    readme.write_text(head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1], encoding="utf-8")
    return True


def write_table(out: Path, suites, seeds, reasons: dict[str, str] | None = None) -> str:
    """The markdown table (also written to OUT/table.md) and one plot per suite with results.

    `suites`: names, or {name: (budget, eval_every, variants)} as rl_compare.TABLE, so that a
    HER column still to run shows "–" and only a suite without HER shows "n/a"."""
    planned = suites if isinstance(suites, dict) else {}
    reasons = {**notes(out), **(reasons or {})}
    cost = _model_cost(out)
    lines = ["| environment | budget | CaR: steps to 80% per seed | sparse | sparse + HER | sparse / CaR (median) "
             "| wall, all runs | local model asked every step, measured per call (est. per CaR run) "
             f"| hosted VLM, **assumed** {ASSUMED_VLM_SECONDS:g} s per call (est. per CaR run) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for suite in suites:
        runs = load(out, suite)
        if not runs:
            lines.append(f"| {suite} | – | {reasons.get(suite, 'not run yet')} | | | | | | |")
            continue
        budget = max(r["settings"]["budget"] for rs in runs.values() for r in rs)
        car, sparse, her = (cells(runs.get(v, []), seeds) for v in ("car", "sparse", "her"))
        wall = sum(r["wall_seconds"] for rs in runs.values() for r in rs)
        her_planned = "her" in runs or "her" in planned.get(suite, (None, None, ()))[2]
        lines.append(f"| {suite} | {k(budget)} | {car[0]} | {sparse[0]} | {her[0] if her_planned else 'n/a'} | "
                     f"{ratio(car, sparse)} | {human(wall)} | {_per_step(cost, suite, runs.get('car', []), car)} | "
                     f"{_per_step(cost, suite, runs.get('car', []), car, ASSUMED_VLM_SECONDS)} |")
        _plot(out, suite, runs)
    table = "\n".join(lines)
    (out / "table.md").parent.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    return table


def _model_cost(out: Path) -> dict:
    path = out / "model_cost.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _per_step(cost: dict, suite: str, car_runs: list[dict], car: tuple, assumed: float | None = None) -> str:
    """A CaR run's own wall time plus its steps-to-80% (or budget) x the per-call model time
    (measured for the local model; `assumed` for a hosted VLM)."""
    family = suite.split("-")[0]
    per_call = assumed if assumed is not None else cost.get("seconds_per_call", {}).get(family)
    if per_call is None or not car_runs or car[1] is None:
        return "not measured"
    run_wall = statistics.median(r["wall_seconds"] for r in car_runs)
    return human(run_wall + car[1] * per_call)


def _plot(out: Path, suite: str, runs: dict[str, list[dict]]) -> Path:
    sys.path.insert(0, str(ROOT))
    from carverify import plot

    curves = {f"{LABELS[v]} ({len(rs)} seeds)": {"reward": v, "curves": [[tuple(p) for p in r["curve"]] for r in rs]}
              for v, rs in runs.items()}
    return plot.plot_success(curves, out / f"{suite}.png", title=suite)


if __name__ == "__main__":
    from rl_compare import TABLE, SEEDS

    print(write_table(OUT, TABLE, SEEDS))
