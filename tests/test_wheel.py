"""The wheel works anywhere: built from this checkout, installed into a fresh venv outside it,
it lists every bundled suite and audits a bundled reference program to its manifest verdict
with no checkout file reachable.

The fresh venv gets carverify from the wheel alone; its dependencies (numpy, torch, ...) come
from this test run's environment through a path line, which adds their folder to sys.path
without running that folder's .pth files, so this checkout's editable install stays out.
"""
from __future__ import annotations

import json
import os
import pathlib
import site
import subprocess
import sys
import tomllib

import pytest

pytestmark = pytest.mark.long   # builds a wheel and a venv, then a cold audit: about 95 s

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                  "-w", str(tmp / "dist"), str(ROOT)], cwd=tmp)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("carverify-*.whl"))
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    deps = [p for p in site.getsitepackages() if pathlib.Path(p).is_dir()]
    (pathlib.Path(purelib) / "deps.pth").write_text("\n".join(deps) + "\n")
    done = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    assert done.returncode == 0, done.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CARVERIFY_SUITES", "VIRTUAL_ENV")}
    work = tmp / "elsewhere"
    work.mkdir()
    return venv, env, work


def test_the_wheel_imports_nothing_from_the_checkout(installed):
    venv, env, work = installed
    probe = _run([str(venv / "bin" / "python"), "-c",
                  "import sys, carverify, sandbox; import carverify.suite as s; "
                  "print(carverify.__file__); print(sandbox.__file__); print(s.bundled_root()); "
                  "print('\\n'.join(sys.path))"], cwd=work, env=env)
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert all(str(venv) in line for line in lines[:3]), lines[:3]
    assert lines[2].endswith("carverify/_suites")
    # Only the dependency folder (this run's venv, which may sit inside the checkout) and never
    # the checkout's own sources.
    deps = set(site.getsitepackages())
    inside = [line for line in lines[3:] if line.startswith(str(ROOT)) and line not in deps]
    assert not inside, f"checkout paths on sys.path: {inside}"
    assert (pathlib.Path(lines[0]).parent / "py.typed").is_file()


def test_the_wheel_lists_every_bundled_suite_and_audits_to_the_manifest(installed, tmp_path):
    venv, env, work = installed
    carverify = str(venv / "bin" / "carverify")
    listed = _run([carverify, "suites"], cwd=work, env=env)
    assert listed.returncode == 0, listed.stderr
    bundled = sorted(p.name for p in (ROOT / "suites").iterdir() if (p / "suite.toml").is_file())
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == bundled

    manifest = tomllib.loads((ROOT / "suites" / "minigrid-doorkey-5x5" / "programs" / "manifest.toml").read_text())
    entry = next(p for p in manifest["program"] if p["file"] == "wrong_order.py")
    program = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / \
        "carverify" / "_suites" / "minigrid-doorkey-5x5" / "programs" / entry["file"]
    report = tmp_path / "report.json"
    audit = _run([carverify, "audit", str(program), "--suite", "minigrid-doorkey-5x5", "--no-track",
                  "--json", str(report)], cwd=work, env=env)
    assert audit.returncode == (0 if entry["verdict"] == "accepted" else 1), audit.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["verdict"] == entry["verdict"]
    (one,) = data["reports"]   # JSON schema_version 2: one document, one report per program
    assert one["verdict"] == entry["verdict"]
    assert set(entry["codes"]) <= {f["code"] for s in one["stages"] for f in s["findings"]}
