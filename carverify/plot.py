"""Learning curves: evaluation success rate against env steps, mean and min/max band over seeds.

    python -m carverify.plot runs/minigrid-doorkey-5x5/*/curves.json --out success_rate.png
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

COLORS = {"car": "tab:blue", "sparse": "tab:orange", "her": "tab:green"}  # her: SAC + HER on the sparse reward (bench-rl)


def band(curves: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, min, max) over seeds on the union of evaluation steps.

    Seeds evaluate at nearly the same steps; each is interpolated onto the union, and a
    run that stopped early (train --stop-at) holds its last value.
    """
    curves = [c for c in curves if c]
    if not curves:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    steps = np.unique(np.concatenate([[s for s, _ in c] for c in curves]))
    values = np.stack([np.interp(steps, [s for s, _ in c], [v for _, v in c]) for c in curves])
    return steps, values.mean(axis=0), values.min(axis=0), values.max(axis=0)


def load_curves(paths) -> dict[str, dict]:
    """label -> {"reward", "curves": [per-seed [(step, success)]], "steps"} from train's curves.json files."""
    out: dict[str, dict] = {}
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        runs = data["runs"]
        steps = max((r["steps"] for r in runs), default=0)
        label = f"{'CaR' if data['reward'] == 'car' else data['reward']} ({len(runs)} seeds)"
        out[label] = {"reward": data["reward"], "curves": [[tuple(p) for p in r["curve"]] for r in runs],
                      "steps": steps, "suite": data.get("suite", "")}
    return out


def plot_success(curves: dict[str, dict], path: str | Path, *, title: str = "", target: float = 0.8) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on CI or over ssh
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, entry in curves.items():
        steps, mean, low, high = band(entry["curves"])
        if not len(steps):
            continue
        color = COLORS.get(entry.get("reward"), None)
        ax.plot(steps, mean, label=label, color=color, linewidth=2)
        ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
    ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{title}: mean, min–max over seeds" if title else "mean, min–max over seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m carverify.plot", description=__doc__.splitlines()[0])
    parser.add_argument("curves", nargs="+", help="curves.json files written by `carverify train`")
    parser.add_argument("--out", default="success_rate.png")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    print(plot_success(load_curves(args.curves), args.out, title=args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
