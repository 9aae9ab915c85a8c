"""The attack corpus: every hostile program is rejected and the host stays clean.

For each attack in tests/corpus/attacks.py the audit (parse, policy, restricted) must
say "rejected" with at least one finding code the attack lists as acceptable, and
afterwards the host must show no trace of it (SECURITY.md, "Every case asserts the
verdict *and* the host's state"):

- no file created: the working directory (a fresh temp dir) and the temp dir the
  sandbox uses (redirected to a fresh dir) are empty again, every temp dir made
  during the audit is gone, nothing new is left in /tmp (other than the shared
  machine's own noise, see FOREIGN_TMP_PREFIXES), and no file named with the attack
  marker exists anywhere we look;
- no environment secret leaked into the report;
- no leftover child process of this process, and no process anywhere whose command
  line carries the attack marker;
- wall time under the child's wall-clock limit plus a margin;
- the report stays small (an output flood must not flood the report);
- the parent is alive and its numpy untouched: the same module, the same functions,
  the same error, print and random state as before the audit.

Every expectation set names the layer that stops the attack (see tests/corpus/attacks.py);
`test_expectations_name_the_layer_that_stops_the_attack` checks that against the static
layers.  Attacks the static layers let through reach the sandbox: RestrictedPython's own
refusal (CV211), a module that fails to load (CV309), and, with the properties stage,
nondeterminism (CV403).
"""
from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from corpus.attacks import ATTACKS, BASE_PROGRAM, FAMILIES, MARKER, PROPERTY_ATTACKS

SUITE = "minigrid-doorkey-5x5"
STAGES = ("parse", "policy", "restricted")
SECRET_VAR = "CARVERIFY_TEST_SECRET"
WALL_MARGIN_SECONDS = 5.0
GRACE_SECONDS = 3.0            # for the OS to finish reaping/unlinking after the audit
MAX_REPORT_BYTES = 1 << 20     # a report is findings, not program output
MIN_ATTACKS_PER_FAMILY = 6
# /tmp is shared with whatever else runs on the machine (other test runs, tool
# harnesses).  New top-level entries with these prefixes are not attributed to the
# audit: the sandbox's own temp dirs are redirected into the test's private temp dir
# (and each one it creates is checked to be gone), and every file an attack would
# create carries MARKER, which is flagged wherever it appears.
# pymp-/SB3-/pip-: multiprocessing, stable-baselines3 and pip runs elsewhere on the machine (the
# sandbox uses none of them).
FOREIGN_TMP_PREFIXES = ("bash_tool_", "bash_jobs.", "pytest-of-", "tmp", "carverify-sbx-", "pymp-", "SB3-", "pip-")
REPO = Path(__file__).resolve().parents[1]

# SECURITY.md technique families -> corpus family.  "Semantic drift" (numba widens
# what NumPy wraps) only shows in the compile stage, which these audits do not run;
# it is covered by the compile-stage tests.
SECURITY_FAMILIES = {
    "Introspection": "introspection",
    "Import and I/O": "import_io",
    "Memory safety": "memory_safety",
    "Resource exhaustion": "resource",
    "Side effects": "side_effects",
    "Nondeterminism": "nondeterminism",
    "Control flow": "control_flow",
    "Semantic drift": None,
}


def _audit(source: str):
    from carverify.audit import audit_source

    return audit_source(source, SUITE, stages=STAGES)


@functools.cache
def _static_codes(source: str) -> frozenset[str]:
    """The codes the in-process layers (parse, policy) give; empty if they let it through."""
    from sandbox.policy import check_policy
    from sandbox.source import parse_source

    tree, issues = parse_source(source)
    if tree is not None and not issues:
        _, issues = check_policy(tree)
    return frozenset(issue.code for issue in issues)


def _is_static(code: str) -> bool:
    # CV211 is a CV2xx code, but RestrictedPython runs in the sandbox child, after the policy.
    return code[2] in "12" and code != "CV211"


def _describe(report) -> str:
    lines = [f"verdict={report.verdict}"]
    for stage in report.stages:
        lines.append(f"  stage {stage.stage}: {stage.status} ({stage.seconds:.2f}s)")
    for finding in report.findings:
        lines.append("  " + finding.render())
    if not report.findings:
        lines.append("  (no findings)")
    return "\n".join(lines)


# ------------------------------------------------------------------ host snapshots


def _tree(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def _listdir(path: str | Path) -> set[str]:
    try:
        return set(os.listdir(path))
    except OSError:
        return set()


def _proc_stat(pid: str) -> tuple[int, str] | None:
    """(ppid, state) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[1]), rest[0]


def _children() -> set[int]:
    me = os.getpid()
    out = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            stat = _proc_stat(pid)
            if stat is not None and stat[0] == me:
                out.add(int(pid))
    return out


def _marked_processes() -> dict[int, str]:
    me = os.getpid()
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if MARKER.encode() in cmdline:
            out[int(pid)] = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")
    return out


def _marked_paths(*dirs: Path) -> list[str]:
    return [str(d / name) for d in dirs for name in _listdir(d) if MARKER in name]


def _settle(check, seconds: float = GRACE_SECONDS):
    """Re-evaluate `check` until it returns something falsy or the grace time ends."""
    deadline = time.monotonic() + seconds
    result = check()
    while result and time.monotonic() < deadline:
        time.sleep(0.1)
        result = check()
    return result


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Isolated cwd and temp dir, a fake secret in the environment."""
    cwd = tmp_path / "cwd"
    sandbox_tmp = tmp_path / "tmp"
    cwd.mkdir()
    sandbox_tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(sandbox_tmp))
    monkeypatch.setenv("TMPDIR", str(sandbox_tmp))
    created: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        path = real_mkdtemp(*args, **kwargs)
        created.append(path)
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    secret = "s3cr3t-" + uuid.uuid4().hex
    monkeypatch.setenv(SECRET_VAR, secret)
    return {"cwd": cwd, "tmp": sandbox_tmp, "secret": secret, "mkdtemp": created}


def _assert_host_clean(host, before, report) -> None:
    problems = []

    cwd_now = _settle(lambda: _tree(host["cwd"]) - before["cwd"])
    if cwd_now:
        problems.append(f"files created in the working directory: {sorted(cwd_now)}")
    tmp_now = _settle(lambda: _tree(host["tmp"]))
    if tmp_now:
        problems.append(f"sandbox temp dir not cleaned up: {sorted(tmp_now)[:20]}")
    left = _settle(lambda: [p for p in host["mkdtemp"] if os.path.lexists(p)])
    if left:
        problems.append(f"temp dirs created during the audit still exist: {left}")
    slash_tmp = _settle(lambda: {name for name in _listdir("/tmp") - before["/tmp"]
                                 if MARKER in name or not name.startswith(FOREIGN_TMP_PREFIXES)})
    if slash_tmp:
        problems.append(f"new entries left in /tmp: {sorted(slash_tmp)}")
    marked = _marked_paths(Path("/tmp"), host["cwd"], Path.home(), REPO, REPO / "tests")
    if marked:
        problems.append(f"files named with the attack marker: {marked}")

    children = _settle(lambda: _children() - before["children"])
    if children:
        states = {pid: _proc_stat(str(pid)) for pid in children}
        problems.append(f"leftover child processes (pid: (ppid, state)): {states}")
    marked_procs = _settle(_marked_processes)
    if marked_procs:
        problems.append(f"processes carrying the attack marker: {marked_procs}")

    text = json.dumps(report.to_dict(), default=str)
    if host["secret"] in text:
        problems.append("the environment secret leaked into the report")
    if len(text) > MAX_REPORT_BYTES:
        problems.append(f"report is {len(text)} bytes of JSON (limit {MAX_REPORT_BYTES})")

    assert not problems, "\n".join(problems) + "\n" + _describe(report)


def _numpy_state() -> dict:
    """What an attack that reached the parent's numpy would change: the module object, every
    public attribute's identity, and numpy's global error, print and random state."""
    import sys

    return {
        "module": id(sys.modules["numpy"]),
        "attributes": {name: id(getattr(np, name)) for name in dir(np) if not name.startswith("_")},
        "ufunc add": id(np.add), "ndarray.sum": id(np.ndarray.sum),
        "errstate": np.geterr(),
        "printoptions": {k: v for k, v in np.get_printoptions().items() if k != "legacy"},
        "random": repr(np.random.get_state(legacy=False)),
    }


def _snapshot(host) -> dict:
    return {
        "cwd": _tree(host["cwd"]),
        "/tmp": _listdir("/tmp"),
        "children": _children(),
        "numpy": _numpy_state(),
    }


def _assert_parent_numpy_intact(before) -> None:
    after = _numpy_state()
    changed = sorted(key for key in before if before[key] != after[key])
    detail = {key: (before[key], after[key]) for key in changed if key != "attributes"}
    if "attributes" in changed:
        detail["attributes"] = sorted(name for name in set(before["attributes"]) | set(after["attributes"])
                                      if before["attributes"].get(name) != after["attributes"].get(name))
    assert not changed, f"the parent's numpy changed during the audit: {detail}"


# --------------------------------------------------------------------------- tests


def test_base_program_is_accepted(host):
    """Without this, an attack could be 'rejected' for reasons unrelated to the attack."""
    before = _snapshot(host)
    report = _audit(BASE_PROGRAM)
    assert report.verdict == "accepted", _describe(report)
    assert not report.findings, _describe(report)
    _assert_host_clean(host, before, report)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack_is_rejected_and_host_untouched(attack, host):
    before = _snapshot(host)
    start = time.monotonic()
    report = _audit(attack.source)
    elapsed = time.monotonic() - start

    codes = [f.code for f in report.findings]
    assert report.verdict == "rejected", (
        f"{attack.id}: expected rejected, expected one of {sorted(attack.expect)}\n{_describe(report)}")
    assert set(codes) & attack.expect, (
        f"{attack.id}: got codes {codes}, expected one of {sorted(attack.expect)}\n{_describe(report)}")

    wall = float(report.limits["wall_seconds"])
    assert elapsed < wall + WALL_MARGIN_SECONDS, (
        f"{attack.id}: audit took {elapsed:.1f}s, limit {wall}s + {WALL_MARGIN_SECONDS}s\n{_describe(report)}")

    _assert_host_clean(host, before, report)
    _assert_parent_numpy_intact(before["numpy"])


def test_parent_numpy_check_sees_a_change():
    """The intact-numpy check must be able to fail: change numpy's global state and look."""
    before = _numpy_state()
    old = np.seterr(over="raise")
    try:
        with pytest.raises(AssertionError, match="errstate"):
            _assert_parent_numpy_intact(before)
    finally:
        np.seterr(**old)
    _assert_parent_numpy_intact(before)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_expectations_name_the_layer_that_stops_the_attack(attack):
    """An attack the static layers reject never reaches the sandbox, so its set may name only
    static codes; one they let through may name only codes the sandbox gives."""
    static = _static_codes(attack.source)
    if static:
        assert static & attack.expect, f"{attack.id}: static layers give {sorted(static)}"
        later = sorted(c for c in attack.expect if not _is_static(c))
        assert not later, f"{attack.id}: rejected by {sorted(static)} before the sandbox runs, yet lists {later}"
    else:
        earlier = sorted(c for c in attack.expect if _is_static(c))
        assert not earlier, f"{attack.id}: parse and policy let it through, yet it lists {earlier}"


def test_each_sandbox_layer_has_attacks_that_reach_it():
    """CV211 (RestrictedPython) and CV309 (module load) each have attacks the static layers
    let through and that name only that layer's code; no program reaches CV403 any more
    (see test_the_determinism_property_rejects_two_different_answers)."""
    assert not PROPERTY_ATTACKS
    for code in ("CV211", "CV309"):
        reaching = [a.id for a in ATTACKS if a.expect == {code} and not _static_codes(a.source)]
        assert len(reaching) >= 3, (code, reaching)


def test_the_determinism_property_rejects_two_different_answers():
    """CV403 from the properties stage's own checker.  A program can no longer keep state
    between calls (constants are frozen all the way down: the counter-in-a-tuple attack is
    CV305), so the layer is defence in depth; here a box answers the two copies of one
    observation differently, as a stateful check would."""
    from carverify.stages.properties import PropertyFailure, _checker
    from sandbox import CallBatch

    class TwoFaced:
        def call(self, fns, frames, **kwargs):
            values = {fn: [True, False] for fn in fns}
            zero = {fn: 0.0 for fn in fns}
            return CallBatch(values, {fn: None for fn in fns}, {fn: None for fn in fns},
                             {fn: 0 for fn in fns}, zero, dict(zero), None, 0.0)

    check = _checker(TwoFaced(), ["has_key"], {"has_key": 7}, {})
    with pytest.raises(PropertyFailure) as failure:
        check((np.zeros((40, 40, 3), np.uint8), "a black frame"))
    assert (failure.value.code, failure.value.subtask, failure.value.line) == ("CV403", "has_key", 7)
    assert "returned True then False" in failure.value.message


def test_attack_ids_are_unique_and_codes_known():
    from carverify.codes import CODES

    ids = [a.id for a in ATTACKS]
    assert len(ids) == len(set(ids))
    for attack in ATTACKS:
        assert attack.family in FAMILIES, attack.id
        assert attack.id.startswith(attack.family + "-"), attack.id
        assert attack.expect and attack.expect <= set(CODES), (attack.id, sorted(attack.expect - set(CODES)))
        assert attack.source != BASE_PROGRAM, attack.id


def test_every_family_has_enough_attacks():
    counts = Counter(a.family for a in ATTACKS)
    assert len(ATTACKS) >= 80
    for family in FAMILIES:
        assert counts[family] >= MIN_ATTACKS_PER_FAMILY, (family, counts[family])
    for heading, family in SECURITY_FAMILIES.items():
        if family is not None:
            assert counts[family] >= MIN_ATTACKS_PER_FAMILY, (heading, family, counts[family])


def test_security_md_families_are_all_mapped():
    """A family added to the threat model must get attacks (or a stated reason) here."""
    # docs/SECURITY.md is the threat model's copy in the repository (a clean clone has nothing
    # else), so this runs everywhere instead of skipping.
    text = (REPO / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    section = text.split("Technique families", 1)[-1]
    headings = re.findall(r"^- ([A-Z][A-Za-z /]+?):", section, flags=re.M)
    assert headings, "no technique families found in SECURITY.md"
    unmapped = [h for h in headings if h not in SECURITY_FAMILIES]
    assert not unmapped, f"SECURITY.md families without a corpus family: {unmapped}"
