"""Coverage: states covered per suite, the coverage stage's time, and full audits of DoorKey-8x8 references.

For every suite: the coverage set's size, layouts, transitions and what was left out, its cold
build time (in a fresh cache folder, so an already warm cache does not hide it), and the
coverage stage's time on the suite's accepted reference program.  Then every DoorKey-8x8
reference program is audited in full twice in one process; the second (warm) audit's wall
time is reported, and their median against the 3 s target.  One run, numbers only, no
assertions.  Writes docs/results/coverage.json as it goes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "coverage.json"


def accepted_program(suite) -> Path:
    manifest = tomllib.loads((suite.path / "programs" / "manifest.toml").read_text())
    return suite.path / "programs" / next(e["file"] for e in manifest["program"] if e["verdict"] == "accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time each coverage set's build in an empty cache")
    parser.add_argument("--suites", default="", help="comma-separated suite names (default: all)")
    args = parser.parse_args()
    from carverify.audit import audit_file
    from carverify.coverage import coverage_states
    from carverify.suite import list_suites

    results: dict = {"suites": {}, "doorkey_8x8_audits": {}}
    chosen = [s for s in list_suites() if not args.suites or s.name in args.suites.split(",")]
    for suite in chosen:
        row: dict = {}
        if args.cold:
            saved = os.environ.get("CARVERIFY_CACHE")
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["CARVERIFY_CACHE"] = tmp
                start = time.perf_counter()
                coverage_states(suite)
                row["cold_build_seconds"] = round(time.perf_counter() - start, 1)
            if saved is None:
                os.environ.pop("CARVERIFY_CACHE")
            else:
                os.environ["CARVERIFY_CACHE"] = saved
        start = time.perf_counter()
        cov = coverage_states(suite)
        row["load_seconds"] = round(time.perf_counter() - start, 2)
        row.update({k: cov.summary[k] for k in ("states", "layouts", "transitions", "left_out")})
        program = accepted_program(suite)
        audit_file(program, suite)                      # warm: episodes, numba helpers
        report = audit_file(program, suite)
        stage = {s.stage: s for s in report.stages}["coverage"]
        row.update({"program": program.name, "verdict": report.verdict,
                    "coverage_stage_seconds": round(stage.seconds, 2),
                    "interpreted_states": stage.metrics.get("interpreted_states"),
                    "full_audit_seconds": round(report.seconds, 2)})
        results["suites"][suite.name] = row
        print(f"{suite.name:<24} {row['states']:>7} states  {row['layouts']} layouts  "
              f"{row['transitions']:>6} transitions  coverage stage {row['coverage_stage_seconds']:5.2f} s  "
              f"audit {row['full_audit_seconds']:5.2f} s ({report.verdict})"
              + (f"  cold build {row['cold_build_seconds']} s" if "cold_build_seconds" in row else ""), flush=True)
        _write(results)

    from carverify.suite import load_suite

    suite = load_suite("minigrid-doorkey-8x8")
    manifest = tomllib.loads((suite.path / "programs" / "manifest.toml").read_text())
    times = []
    for entry in manifest["program"]:
        path = suite.path / "programs" / entry["file"]
        audit_file(path, suite)
        report = audit_file(path, suite)
        times.append(report.seconds)
        results["doorkey_8x8_audits"][entry["file"]] = {"seconds": round(report.seconds, 2), "verdict": report.verdict,
                                                        "stages": {s.stage: round(s.seconds, 2) for s in report.stages}}
        print(f"  doorkey-8x8 {entry['file']:<28} {report.seconds:5.2f} s warm  {report.verdict}", flush=True)
        _write(results)
    p50 = statistics.median(times)
    results["doorkey_8x8_p50_seconds"] = round(p50, 2)
    _write(results)
    print(f"DoorKey-8x8 full audit, warm: p50 {p50:.2f} s (target < 3 s), max {max(times):.2f} s")


def _write(results: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
