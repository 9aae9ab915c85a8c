"""bench/rl_table.py reads per-run files into the README's table: how unreached, failed and missing runs show.

The records here are written by hand (not training results): they pin how the table states
a budget that ran out, a run that failed, and a row with nothing run yet.
"""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import rl_table  # noqa: E402


def record(variant, seed, reached, budget=300_000, wall=60.0, error=None):
    curve = [[0, 0.0], [reached or budget, 0.9 if reached else 0.5]]
    return {"suite": "s", "variant": variant, "seed": seed, "settings": {"budget": budget}, "curve": curve,
            "steps": reached or budget, "steps_to_target": reached, "wall_seconds": wall, "error": error}


@pytest.fixture
def out(tmp_path):
    runs = [record("car", 0, 60_000), record("car", 1, 70_000), record("car", 2, 80_000),
            record("sparse", 0, 100_000), record("sparse", 1, None), record("sparse", 2, 110_000)]
    (tmp_path / "s").mkdir()
    for r in runs:
        (tmp_path / "s" / f"{r['variant']}-seed{r['seed']}.json").write_text(json.dumps(r))
    return tmp_path


def test_a_seed_that_never_got_there_shows_its_budget_and_bounds_the_ratio(out):
    table = rl_table.write_table(out, ["s", "nothing-yet"], (0, 1, 2), reasons={"nothing-yet": "no [train] yet"})
    row = next(line for line in table.splitlines() if line.startswith("| s |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "60k / 70k / 80k"
    assert cells[3] == "100k / >300k / 110k"
    # median sparse 110k (the unreached seed counted at its 300k budget) / median CaR 70k, a lower bound
    assert cells[5] == "≥ 1.57x"
    assert cells[6] == "6 min"
    assert cells[8] == "19.5 h"  # a 60 s run + 70k steps x the assumed 1 s per call
    assert "| nothing-yet | – | no [train] yet |" in table
    assert (out / "s.png").stat().st_size > 0 and (out / "table.md").read_text().strip() == table


def test_failed_and_missing_seeds_are_not_counted_as_reached():
    shown, median, reached = rl_table.cells([record("car", 0, 50_000), record("car", 1, None, error="worker died")],
                                            (0, 1, 2))
    assert shown == "50k / failed / –"
    assert median == 50_000 and reached is False


def test_an_empty_row_says_why_from_the_notes_and_the_table_goes_into_the_readme(out, tmp_path):
    (out / "notes.json").write_text(json.dumps({"later": "not run yet: 9 runs of 10^5 steps", "s": "ignored: has runs"}))
    table = rl_table.write_table(out, ["s", "later"], (0, 1, 2))
    assert "| later | – | not run yet: 9 runs of 10^5 steps |" in table and "ignored" not in table
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- rl-table -->\n| old |\n<!-- /rl-table -->\n\nafter\n")
    assert rl_table.into_readme(readme, table)
    assert readme.read_text() == f"# x\n\n<!-- rl-table -->\n{table}\n<!-- /rl-table -->\n\nafter\n"
    readme.write_text("# no markers\n")
    assert not rl_table.into_readme(readme, table) and readme.read_text() == "# no markers\n"


def test_most_car_seeds_reached_and_no_sparse_seed_bounds_the_ratio():
    # tabletop separate-piles, 2026-12-04: CaR >150k / 45k / 115k, sparse >150k in all three
    car = rl_table.cells([record("car", 0, None, 150_000), record("car", 1, 45_000, 150_000),
                          record("car", 2, 115_000, 150_000)], (0, 1, 2))
    sparse = rl_table.cells([record("sparse", s, None, 150_000) for s in (0, 1, 2)], (0, 1, 2))
    assert car[:2] == (">150k / 45k / 115k", 115_000) and sparse[1] == 150_000
    assert rl_table.ratio(car, sparse) == "≥ 1.30x"
    # a CaR median that is itself the budget bounds nothing
    most_failed = rl_table.cells([record("car", 0, None, 150_000), record("car", 1, None, 150_000),
                                  record("car", 2, 45_000, 150_000)], (0, 1, 2))
    assert rl_table.ratio(most_failed, sparse) == "neither reached"


def test_a_her_column_still_to_run_is_a_dash_and_only_a_suite_without_her_says_n_a(out):
    def her_cell(variants):
        table = rl_table.write_table(out, {"s": (300_000, 10_000, variants)}, (0, 1, 2))
        row = next(line for line in table.splitlines() if line.startswith("| s |"))
        return [c.strip() for c in row.strip("|").split("|")][4]

    assert her_cell(("car", "sparse", "her")) == "– / – / –"
    assert her_cell(("car", "sparse")) == "n/a"


def test_a_new_reference_program_redoes_car_runs_only():
    import rl_compare

    def run_settings(variant, program, sha):
        return {"budget": 1000, "target": 0.8, "variant": variant, "program_sha256": sha,
                "config": {"n_envs": 8, "program": program}}

    for variant in ("sparse", "her"):
        old, new = run_settings(variant, "programs/a.py", "aa"), run_settings(variant, "programs/b.py", "bb")
        assert rl_compare.comparable(old, variant) == rl_compare.comparable(new, variant)
        changed = {**new, "config": {**new["config"], "n_envs": 4}}
        assert rl_compare.comparable(old, variant) != rl_compare.comparable(changed, variant)
        car_only = {**new, "config": {**new["config"], "progress_weight": 1.0, "goal_needs_success": True}}
        assert rl_compare.comparable(old, variant) == rl_compare.comparable(car_only, variant)
    old, new = run_settings("car", "programs/a.py", "aa"), run_settings("car", "programs/a.py", "bb")
    assert rl_compare.comparable(old, "car") != rl_compare.comparable(new, "car")
    assert rl_compare.comparable(None, "sparse") is None


def test_the_slowest_runs_are_queued_first_and_seeds_keep_their_order():
    import rl_compare

    todo = [("plan", v, seed, f"{v}-{seed}", {}) for v in ("car", "sparse", "her") for seed in (0, 1)]
    assert [(job[1], job[2]) for job in rl_compare.longest_first(todo)] == [
        ("her", 0), ("her", 1), ("car", 0), ("car", 1), ("sparse", 0), ("sparse", 1)]
