"""UnlockPickup's CaR runs under three decompositions of the task, side by side: per sub-task,
the share of evaluation episodes that completed it (mean over seeds), and the success rate.

    python bench/rl_decompositions.py    # docs/results/rl/minigrid-unlockpickup-decompositions.png

Reads the per-run files bench/rl_compare.py wrote: the runs with the suite's current
reference program, and the earlier ones kept under three-subtasks/ and four-subtasks/.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "docs" / "results" / "rl" / "minigrid-unlockpickup"
PANELS = (("three-subtasks", "three sub-tasks"), ("four-subtasks", "four: + key_down"),
          (".", "five: + key_down, near_box"))


def runs(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("car-seed*.json"))]


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(ROOT))
    from carverify.plot import band

    panels = [(title, runs(SUITE / sub)) for sub, title in PANELS]
    panels = [(title, rs) for title, rs in panels if rs]
    if not panels:
        print(f"no CaR runs under {SUITE}", file=sys.stderr)
        return 1
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), dpi=120, sharey=True,
                             squeeze=False)
    for ax, (title, rs) in zip(axes[0], panels):
        names = list(rs[0]["subtask_curve"][0][1]) if rs[0].get("subtask_curve") else []
        for name in names:
            steps, mean, _, _ = band([[(s, v[name]) for s, v in r.get("subtask_curve") or []] for r in rs])
            ax.plot(steps, mean, label=name, linewidth=1.5)
        steps, mean, low, high = band([[tuple(p) for p in r["curve"]] for r in rs])
        ax.plot(steps, mean, color="black", linestyle="--", linewidth=2, label="success")
        ax.fill_between(steps, low, high, color="black", alpha=0.1, linewidth=0)
        ax.axhline(0.8, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{title} ({len(rs)} seeds)", fontsize=10)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    axes[0][0].set_ylabel("share of evaluation episodes (mean over seeds)")
    axes[0][0].set_ylim(-0.02, 1.02)
    fig.suptitle("UnlockPickup, CaR: sub-tasks completed and success, by decomposition", fontsize=11)
    fig.tight_layout()
    out = SUITE.parent / "minigrid-unlockpickup-decompositions.png"
    fig.savefig(out)
    plt.close(fig)
    print(out.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
