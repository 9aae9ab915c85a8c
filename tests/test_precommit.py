"""The carverify-audit pre-commit hook, run by the real `pre-commit` tool in a temporary git repository.

The hook definition is read from the repository's .pre-commit-hooks.yaml; only `language` and
`entry` change, to `system` and this checkout's carverify, so nothing is downloaded.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "examples" / "good_vectorized.py"
BAD = ROOT / "examples" / "imports_os.py"
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
CARVERIFY = Path(sys.executable).with_name("carverify")


def _hook(files: str | None = None) -> dict:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "carverify-audit" and hook["entry"].startswith("carverify audit")
    hook = {**hook, "language": "system", "entry": f"{CARVERIFY}{hook['entry'][len('carverify'):]}"}
    if files is not None:
        hook["files"] = files
    return hook


def _git(repo, *args, check=True):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed for the pre-commit test")
    repo = tmp_path / "repo"
    (repo / "rewards").mkdir(parents=True)
    _git(repo, "init", "-q")
    # Suite and stages come from the repository's settings; pre-commit appends the file names.
    (repo / "pyproject.toml").write_text('[tool.carverify]\nsuite = "minigrid-doorkey-5x5"\n'
                                         'stages = ["parse", "policy"]\n')
    _git(repo, "add", "pyproject.toml")
    return repo


def _configure(repo, hook):
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}))
    _git(repo, "add", ".pre-commit-config.yaml")


def _pre_commit(repo, *args):
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"), "NO_COLOR": "1",
           "CARVERIFY_CACHE": os.environ.get("CARVERIFY_CACHE", str(repo.parent / "cache"))}
    return subprocess.run([str(PRE_COMMIT), *args], cwd=repo, capture_output=True, text=True, env=env, timeout=600)


def test_the_hook_passes_a_good_program_and_fails_a_bad_one_with_its_findings(repo):
    _configure(repo, _hook())
    shutil.copy(GOOD, repo / "rewards" / "good.py")
    shutil.copy(BAD, repo / "rewards" / "bad.py")
    _git(repo, "add", "rewards")
    passed = _pre_commit(repo, "run", "--files", "rewards/good.py")
    failed = _pre_commit(repo, "run", "--files", "rewards/bad.py")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "carverify audit" in passed.stdout and "Passed" in passed.stdout
    assert "ACCEPTED  rewards/good.py" in passed.stdout or "Passed" in passed.stdout
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "exit code: 1" in failed.stdout
    assert "rewards/bad.py:3:1 CV204 import of 'os' is not allowed" in failed.stdout
    assert "REJECTED  rewards/bad.py" in failed.stdout


def test_the_file_pattern_is_configurable(repo):
    _configure(repo, _hook(files=r"^checks/"))
    (repo / "checks").mkdir()
    shutil.copy(BAD, repo / "rewards" / "bad.py")  # outside the pattern: not a reward program here
    shutil.copy(GOOD, repo / "checks" / "good.py")
    _git(repo, "add", "rewards", "checks")
    out = _pre_commit(repo, "run", "--all-files")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Passed" in out.stdout


def test_a_commit_with_a_bad_program_is_refused(repo):
    _configure(repo, _hook())
    assert _pre_commit(repo, "install").returncode == 0
    shutil.copy(GOOD, repo / "rewards" / "good.py")
    _git(repo, "add", "rewards/good.py")
    good = _git(repo, "commit", "-qm", "good reward", check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    shutil.copy(BAD, repo / "rewards" / "bad.py")
    _git(repo, "add", "rewards/bad.py")
    bad = _git(repo, "commit", "-qm", "bad reward", check=False)
    assert bad.returncode != 0
    assert "CV204 import of 'os' is not allowed" in bad.stdout + bad.stderr
    assert _git(repo, "log", "--oneline").stdout.count("\n") == 1  # only the good commit landed
