"""The CLI contract: exit codes, one-line usage errors, report files, instant --help."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "examples" / "good_vectorized.py"
BAD = ROOT / "examples" / "imports_os.py"
FAST = ["--stages", "parse", "policy", "restricted", "--no-track"]


def carverify(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "carverify.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=300)


def test_help_is_instant_and_imports_nothing_heavy():
    code = ("import sys, carverify.cli as c\n"
            "try:\n    c.main(['audit', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'mlflow', 'numba', 'torch', 'hypothesis') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "HEAVY []" in out.stdout
    assert out.stdout.startswith("usage: carverify audit "), out.stdout[:300]
    for option in ("--suite", "--stages", "--json", "--junit", "--sarif", "--no-track"):
        assert option in out.stdout, option
    assert time.monotonic() - start < 60   # a backstop; the import cost is what HEAVY checks


def test_accepted_exit_0():
    out = carverify("audit", GOOD, "--suite", "minigrid-doorkey-5x5", *FAST)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("ACCEPTED")


def test_rejected_exit_1_with_finding_line():
    out = carverify("audit", BAD, "--suite", "minigrid-doorkey-5x5", *FAST)
    assert out.returncode == 1
    assert f"{BAD}:3:1 CV204 import of 'os' is not allowed" in out.stdout


@pytest.mark.parametrize("args,needle", [
    (["audit", "missing.py", "--suite", "minigrid-doorkey-5x5"], "cannot read missing.py"),
    (["audit", str(GOOD), "--suite", "nope"], "unknown suite 'nope' — known: "),
    (["audit", str(GOOD), "--suite", "minigrid-doorkey-5x5", "--bogus"], "unrecognized arguments: --bogus"),
    (["audit", str(GOOD)], "no suite: pass --suite NAME, or set suite = \"NAME\" in [tool.carverify]"),
    (["audit", str(GOOD), "--suite", "minigrid-doorkey-5x5", "--stages", "nonsense"], "unknown stage 'nonsense'"),
])
def test_usage_errors_are_one_line_exit_2(args, needle):
    out = carverify(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_report_files(tmp_path):
    out = carverify("audit", BAD, "--suite", "minigrid-doorkey-5x5", *FAST, "--json", tmp_path / "r.json",
                    "--junit", tmp_path / "r.xml", "--sarif", tmp_path / "r.sarif")
    assert out.returncode == 1
    (report,) = json.loads((tmp_path / "r.json").read_text())["reports"]
    assert report["verdict"] == "rejected" and len(report["program"]["sha256"]) == 64
    assert [s["status"] for s in report["stages"]] == ["passed", "failed", "skipped"]
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["ruleId"] == "CV204"
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")


def test_json_to_stdout_is_pure_json():
    out = carverify("audit", GOOD, "--suite", "minigrid-doorkey-5x5", *FAST, "--json", "-")
    assert json.loads(out.stdout)["verdict"] == "accepted" and out.stderr == ""


def test_suites_lists_doorkey():
    out = carverify("suites")
    assert out.returncode == 0 and "minigrid-doorkey-5x5" in out.stdout


def test_audit_tracks_to_local_sqlite_in_the_cache_folder_by_default(tmp_path):
    """The default store is carverify's cache folder: a gate leaves the working directory as it found it."""
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run([sys.executable, "-m", "carverify.cli", "audit", str(GOOD), "--suite", "minigrid-doorkey-5x5",
                          "--stages", "parse", "policy", "--no-cache"], capture_output=True, text=True, cwd=work,
                         timeout=300, env={**os.environ, "CARVERIFY_CACHE": str(cache),
                                           "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert (cache / "mlruns.db").is_file()
    assert list(work.iterdir()) == []
    assert "warning" not in out.stderr, out.stderr


def test_every_emitted_code_is_listed_and_explained():
    """Every CVnnn literal in the source is a code `carverify codes` knows; every listed code is explained."""
    from carverify.codes import CODES, EXPLAIN, STAGE_OF
    emitted = set()
    for folder in ("carverify", "sandbox"):
        for path in (ROOT / folder).rglob("*.py"):
            emitted |= set(re.findall(r"\bCV\d{3}\b", path.read_text(encoding="utf-8")))
    assert len(emitted) > 40 and emitted <= set(CODES), sorted(emitted - set(CODES))
    assert set(EXPLAIN) == set(CODES) and all(len(text) > 30 for text in EXPLAIN.values())
    assert {code[2] for code in CODES} <= set(STAGE_OF)


def test_codes_lists_every_code_and_explains_a_prefix():
    from carverify.codes import CODES, EXPLAIN
    out = carverify("codes")
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.splitlines()]
    assert sorted(listed) == sorted(CODES) and listed[-1] == "CV000"
    assert "CV505  trajectories  goal check misses the environment's success" in out.stdout

    out = carverify("codes", "cv5", "CV603", "CV505")  # any case; a code named twice is shown once
    assert out.returncode == 0, out.stderr
    shown = re.findall(r"^(CV\d{3}) \((\w+)\): ", out.stdout, flags=re.M)
    assert shown == [(c, "trajectories") for c in sorted(c for c in CODES if c.startswith("CV5"))] + [("CV603", "compile")]
    assert " ".join(EXPLAIN["CV603"].split()) in " ".join(out.stdout.split())


@pytest.mark.parametrize("bad", ["CV999", "505", "trajectories"])
def test_codes_refuses_what_is_not_a_code_in_one_line(bad):
    out = carverify("codes", bad)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [f"carverify: error: no finding code {bad!r}: codes look like "
                                                "CV505 or CV5 (see carverify codes)"]


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`carverify codes | head -0`: the pipe is closed before the first write; exit as a shell would
    on SIGPIPE, silently.  (Reading a line first would let the whole listing fit the pipe's buffer.)"""
    proc = subprocess.Popen([sys.executable, "-m", "carverify.cli", "codes"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()   # long before the interpreter has started and written anything
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and err == b"", err
