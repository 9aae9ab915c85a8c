"""`carverify audit` as a CI gate: bounded and refused inputs, report paths, cached re-audits, the
[tool.carverify] table, and verdicts that no tracking failure can change."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carverify import audit_cache
from carverify.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "examples" / "good_vectorized.py"
BAD = ROOT / "examples" / "imports_os.py"
SUITE = "minigrid-doorkey-5x5"
STATIC = ["--stages", "parse", "policy"]


def carverify(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "carverify.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env={**os.environ, **(env or {})})


def _one_line_usage_error(out, needle):
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


# ----------------------------------------------------------------------------------- inputs


def test_a_4_gb_program_is_read_only_up_to_the_cap(tmp_path):
    """Before: read whole (12.6 GB peak), then a MemoryError traceback with exit 1.  Now: CV102, small memory."""
    huge = tmp_path / "huge.py"
    with open(huge, "wb") as handle:
        handle.write(b"x = 1\n")
        handle.truncate(4 << 30)  # sparse: 4 GB to read, nothing on disk
    # The peak is measured by a fresh parent of the CLI alone: this test process's own
    # RUSAGE_CHILDREN also holds every earlier test's children (one had passed 1 GiB in CI).
    measure = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "carverify.cli", "audit", str(huge),
                          "--suite", SUITE, *STATIC, "--no-track", "--no-cache"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    *stderr, peak = out.stderr.strip().splitlines()
    peak_kib = int(peak)
    assert out.returncode == 1, out.stderr
    assert f"{huge} CV102 source is more than 65536 bytes (limit 65536)" in out.stdout
    assert "Traceback" not in "\n".join(stderr)
    assert peak_kib < 1 << 20, f"peak RSS {peak_kib} KiB"  # far below the file's 4 GiB


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "program.py"
    os.mkfifo(fifo)
    out = carverify("audit", fifo, "--suite", SUITE, *STATIC, "--no-track", timeout=60)
    _one_line_usage_error(out, f"cannot read {fifo}: it is a FIFO (named pipe), not a regular file")


def test_dev_zero_is_refused():
    out = carverify("audit", "/dev/zero", "--suite", SUITE, *STATIC, "--no-track", timeout=60)
    _one_line_usage_error(out, "cannot read /dev/zero: it is a character device, not a regular file")


def test_non_utf8_source_is_explained_in_plain_words(tmp_path):
    program = tmp_path / "latin1.py"
    program.write_bytes(GOOD.read_bytes().replace(b'"""', b'"""caf\xe9 ', 1))
    out = carverify("audit", program, "--suite", SUITE, *STATIC, "--no-track", "--no-cache")
    assert out.returncode == 1
    line = next(line for line in out.stdout.splitlines() if "CV104" in line)
    assert line == f"{program}:1:7 CV104 source is not valid UTF-8: byte 0xe9 at line 1, column 7 — save the program as UTF-8 text"
    assert "surrogate" not in out.stdout


def _npy_with_header(path, header: str, data: bytes = b""):
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data)


@pytest.mark.parametrize("header, needle", [
    ("{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 100000, 3), }",
     "its header claims shape (100000, 100000, 3) of uint8 (30000000000 bytes) but the file holds 12 bytes"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "it holds Python objects (a pickle)"),
    ("not a dict at all", "not a valid .npy file"),
])
def test_run_refuses_npy_headers_it_cannot_trust(tmp_path, header, needle):
    obs = tmp_path / "obs.npy"
    _npy_with_header(obs, header, b"\0" * 12)
    out = carverify("run", GOOD, "--obs", obs, timeout=120)
    _one_line_usage_error(out, f"cannot read observation {obs}: {needle}")


def test_run_still_reads_a_real_observation(tmp_path):
    obs = tmp_path / "obs.npy"
    np.save(obs, np.zeros((40, 40, 3), dtype=np.uint8))
    out = carverify("run", GOOD, "--obs", obs, timeout=120)
    assert out.returncode == 0, out.stderr
    import runpy
    program = runpy.run_path(str(GOOD))  # an authored example, trusted: what the sandbox must agree with
    frame = np.zeros((40, 40, 3), dtype=np.uint8)
    assert out.stdout.splitlines() == [f"{name}(obs) -> {program[name](frame)}" for name in program["SUBTASKS"]]


@pytest.mark.parametrize("flag", ["--json", "--junit", "--sarif"])
def test_a_report_in_a_missing_folder_is_a_usage_error(tmp_path, flag):
    target = tmp_path / "missing" / "dir" / "r.out"
    out = carverify("audit", GOOD, "--suite", SUITE, *STATIC, "--no-track", flag, target)
    _one_line_usage_error(out, f"the folder {target.parent} does not exist")
    assert not (tmp_path / "missing").exists()


# ------------------------------------------------------------------------------ the cache


def test_an_unchanged_program_returns_its_stored_report_marked_cached(tmp_path):
    cache = {"CARVERIFY_CACHE": str(tmp_path / "cache")}
    program = tmp_path / "p.py"
    program.write_bytes(BAD.read_bytes())
    first = carverify("audit", program, "--suite", SUITE, *STATIC, "--no-track", "--json", tmp_path / "1.json", env=cache)
    again = carverify("audit", program, "--suite", SUITE, *STATIC, "--no-track", "--json", tmp_path / "2.json", env=cache)
    fresh = carverify("audit", program, "--suite", SUITE, *STATIC, "--no-track", "--no-cache",
                      "--json", tmp_path / "3.json", env=cache)
    assert first.returncode == again.returncode == fresh.returncode == 1
    one, two, three = (json.loads((tmp_path / f"{n}.json").read_text()) for n in (1, 2, 3))
    assert (one["summary"]["cached"], two["summary"]["cached"], three["summary"]["cached"]) == (0, 1, 0)
    assert two["reports"][0]["cached"] is True
    strip = lambda d: {**d["reports"][0], "cached": None, "seconds": None}  # noqa: E731
    assert strip(one) == strip(two)  # the same findings, stages and verdict
    assert "(cached: unchanged since its last audit; --no-cache to audit again)" in again.stdout
    assert "CV204" in again.stdout  # findings are printed from the stored report too

    program.write_bytes(BAD.read_bytes() + b"\n# edited\n")
    edited = carverify("audit", program, "--suite", SUITE, *STATIC, "--no-track", "--json", tmp_path / "4.json", env=cache)
    assert edited.returncode == 1 and json.loads((tmp_path / "4.json").read_text())["summary"]["cached"] == 0


def test_the_cache_key_covers_program_suite_files_stages_limits_and_carverify(tmp_path, monkeypatch):
    import shutil

    suite_copy = tmp_path / "suites" / SUITE
    shutil.copytree(load_suite(SUITE).path, suite_copy)
    suite = load_suite(str(suite_copy))   # a suite folder loaded by path
    raw = GOOD.read_bytes()
    base = audit_cache.key(raw, suite, ("parse",), {})
    assert audit_cache.key(raw, suite, ("parse",), {}) == base
    assert audit_cache.key(raw + b"\n", suite, ("parse",), {}) != base
    assert audit_cache.key(raw, suite, ("parse", "policy"), {}) != base
    assert audit_cache.key(raw, suite, ("parse",), {"call_seconds": 1.0}) != base
    (suite_copy / "notes.txt").write_text("any file of the suite folder counts\n")
    audit_cache._suite_digest.cache_clear()
    assert audit_cache.key(raw, suite, ("parse",), {}) != base
    monkeypatch.setattr(audit_cache, "_tool_digest", lambda: "another carverify")
    audit_cache._suite_digest.cache_clear()
    (suite_copy / "notes.txt").unlink()
    assert audit_cache.key(raw, suite, ("parse",), {}) != base


def test_an_error_verdict_is_never_stored(tmp_path, monkeypatch):
    from carverify.result import AuditReport, Finding, StageResult

    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path))
    broken = AuditReport("p.py", "0" * 64, SUITE, [StageResult("restricted", "error", [Finding("CV000", "broke")])])
    audit_cache.store("ab" * 32, broken)
    assert audit_cache.load("ab" * 32, "p.py") is None
    fine = AuditReport("p.py", "0" * 64, SUITE, [StageResult("parse", "passed")])
    audit_cache.store("cd" * 32, fine)
    again = audit_cache.load("cd" * 32, "q.py")
    assert again.cached and again.program_path == "q.py" and again.verdict == "accepted"


# ------------------------------------------------------------------------ [tool.carverify]


def test_pyproject_settings_are_used_and_flags_override_them(tmp_path):
    repo = tmp_path / "repo"
    (repo / "rewards" / "sub").mkdir(parents=True)
    (repo / "rewards" / "good.py").write_bytes(GOOD.read_bytes())
    (repo / "rewards" / "sub" / "bad.py").write_bytes(BAD.read_bytes())
    (repo / "pyproject.toml").write_text(f'''
[tool.carverify]
suite = "{SUITE}"
programs = ["rewards/**/*.py"]
stages = ["parse", "policy"]
cache = false
track = false

[tool.carverify.limits]
max_source_bytes = 100
''')
    out = carverify("--version", cwd=repo)
    out = carverify("audit", "--json", "r.json", cwd=repo)
    assert out.returncode == 1, out.stderr
    data = json.loads((repo / "r.json").read_text())
    assert [r["program"]["path"] for r in data["reports"]] == ["rewards/good.py", "rewards/sub/bad.py"]
    assert all(r["limits"]["max_source_bytes"] == 100 for r in data["reports"])
    assert {f["code"] for r in data["reports"] for s in r["stages"] for f in s["findings"]} == {"CV102"}
    # Flags win: one program, other stages; the limits still come from the table.
    out = carverify("audit", "rewards/good.py", "--stages", "parse", "--json", "-", cwd=repo)
    (report,) = json.loads(out.stdout)["reports"]
    assert [s["stage"] for s in report["stages"]] == ["parse"] and report["verdict"] == "rejected"
    assert not (repo / "mlruns.db").exists() and not (repo / ".hypothesis").exists()


def test_a_bad_settings_table_is_one_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.carverify]\nsuite = "x"\nstagez = ["parse"]\n')
    out = carverify("audit", GOOD, cwd=tmp_path)
    _one_line_usage_error(out, "unknown key 'stagez' in [tool.carverify]")


# ------------------------------------------------------------------------- verdict first


def test_an_unreachable_tracking_server_is_one_warning_and_changes_nothing(tmp_path):
    """Before: exit 3, no findings, no reports.  Now: the verdict, every report, one warning line."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = carverify("audit", BAD, "--suite", SUITE, *STATIC, "--no-cache", "--tracking-uri", f"http://127.0.0.1:{port}",
                    "--json", tmp_path / "r.json", "--sarif", tmp_path / "r.sarif", "--junit", tmp_path / "r.xml")
    assert out.returncode == 1, out.stderr
    assert f"{BAD}:3:1 CV204 import of 'os' is not allowed" in out.stdout
    assert all((tmp_path / name).stat().st_size > 0 for name in ("r.json", "r.sarif", "r.xml"))
    warnings = [line for line in out.stderr.splitlines() if line.startswith("carverify: warning:")]
    assert warnings == [f"carverify: warning: MLflow tracking failed: cannot reach MLflow tracking at "
                        f"http://127.0.0.1:{port}: Connection refused (the verdict and reports are unaffected)"]
    assert "Traceback" not in out.stderr
