"""Mutation check for issue 18 (not run in CI): disable one defence at a time in a temporary copy
of the checkout and show that the tests covering it fail.

Usage: .venv/bin/python tools/mutation_check.py [NAME ...]

Each mutation replaces one exact line of the source (the script stops if the line moved), then
runs the named tests against the copy: the copy's directory comes first on the import path, and
the sandbox child imports the sandbox next to the runner that started it, so both the parent and
the child run the mutated code.  A "baseline" row runs every selection unmutated first, so a
failure below is the mutation's, not the copy's.  Prints one table row per mutation.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]


class Mutation(NamedTuple):
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]   # pytest arguments: paths and -k expressions


ATTACKS = "tests/test_attacks.py"
POLICY = "tests/sandbox/test_policy.py"

MUTATIONS = (
    Mutation("CV211 (RestrictedPython's refusal ignored)", "sandbox/child.py",
             "        if result.errors:\n", "        if False and result.errors:\n",
             (ATTACKS, "-k", "restricted-reserved")),
    Mutation("CV309 (module-load failure reported as CV301)", "sandbox/child.py",
             '            return issue._replace(code="CV309") if issue.code == "CV301" else issue\n',
             "            return issue\n",
             (ATTACKS, "-k", "module-level-zero or module-level-broadcast or module-level-string")),
    Mutation("CV403 (determinism property off)", "carverify/stages/properties.py",
             "            if first != second:\n", "            if False:\n",
             # No program reaches CV403 since module constants are frozen (tests/test_attacks.py):
             # the layer is tested directly, there and in the properties stage's own tests.
             (ATTACKS, "tests/stages/test_properties.py", "-k", "determinism_property or determinism_compares")),
)
# The policy's allowlist of one node type: the node becomes a "marker" the policy passes
# without looking inside, as if someone had listed it as harmless.
for _node in ("Lambda", "Try", "ClassDef", "Global"):
    MUTATIONS += (Mutation(f"policy allows {_node}", "sandbox/policy.py",
                           '    "And Or Not Invert UAdd USub Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn"\n',
                           f'    "And Or Not Invert UAdd USub Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn {_node}"\n',
                           (ATTACKS, POLICY, "tests/sandbox/test_policy_drift.py", "-k",
                            "not attack_is_rejected and not base_program")),)


def copy_checkout(dest: Path) -> None:
    """The working tree's tracked and untracked-but-not-ignored files (no venv, no caches)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def run_tests(copy: Path, args: tuple[str, ...]) -> tuple[str, float, str]:
    env = {**os.environ, "PYTHONPATH": str(copy), "CARVERIFY_CACHE": str(copy.parent / "cache")}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          "-p", "no:randomly", "-o", "addopts=", *args],
                         cwd=copy, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else out.stderr.strip().splitlines()[-1:]
    failed = next((line.split()[1] for line in lines if line.startswith("FAILED ")), "")
    verdict = {0: "pass", 1: "FAIL", 5: "no tests"}.get(out.returncode, f"exit {out.returncode}")
    log = copy.parent / "logs"
    log.mkdir(exist_ok=True)
    (log / f"run-{len(list(log.iterdir()))}.txt").write_text(out.stdout + out.stderr)
    return verdict, seconds, failed or str(summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="substrings of mutation names to run (default: all)")
    chosen = [m for m in MUTATIONS if not parser.parse_args().names
              or any(n in m.name for n in parser.parse_args().names)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="carverify-mutation-") as tmp:
        print(f"pytest output of each run: {tmp}/logs", flush=True)
        copy = Path(tmp) / "repo"
        copy.mkdir()
        copy_checkout(copy)
        for mutation in chosen:
            verdict, seconds, detail = run_tests(copy, mutation.tests)
            if verdict != "pass":  # the attack tests watch /tmp, which other jobs on the machine share
                verdict, seconds, detail = run_tests(copy, mutation.tests)
            rows.append(("baseline: " + mutation.name, verdict, seconds, detail))
            print(f"{rows[-1][0]:<60} {verdict:<8} {seconds:6.0f}s  {detail}", flush=True)
            path = copy / mutation.file
            original = path.read_text(encoding="utf-8")
            if original.count(mutation.old) != 1:
                raise SystemExit(f"{mutation.file}: the line to mutate is not there once: {mutation.old!r}")
            path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
            try:
                verdict, seconds, detail = run_tests(copy, mutation.tests)
            finally:
                path.write_text(original, encoding="utf-8")
            rows.append((mutation.name, verdict, seconds, detail))
            print(f"{mutation.name:<60} {verdict:<8} {seconds:6.0f}s  {detail}", flush=True)
    print()
    print("| mutation | tests | result | seconds | first failing test |")
    print("|---|---|---|---|---|")
    for name, verdict, seconds, detail in rows:
        tests = " ".join(next(m.tests for m in MUTATIONS if name.endswith(m.name)))
        print(f"| {name} | `{tests}` | {verdict} | {seconds:.0f} | {detail} |")
    mutants = [r for r in rows if not r[0].startswith("baseline")]
    baselines = [r for r in rows if r[0].startswith("baseline")]
    ok = all(r[1] == "FAIL" for r in mutants) and all(r[1] == "pass" for r in baselines)
    print("\nevery mutation caught, every baseline green" if ok else "\nNOT every mutation was caught")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
