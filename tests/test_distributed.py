"""Sweeps: many programs audited sequentially or as Ray tasks give the same reports, dead workers are retried.

One local Ray instance serves the whole module (2 CPUs, its own temp dir); it is shut down at
the end and the module checks that none of its processes are left.  The CLI tests start their
own instance in a subprocess, under their own RAY_TMPDIR, and check the same.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from carverify import distributed
from carverify.audit import audit_file
from carverify.distributed import AuditJob, audit_many
from carverify.errors import UsageError
from carverify.suite import list_suites

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SUITE = "minigrid-doorkey-5x5"
FAST = ("parse", "policy", "restricted")
# Report fields that measure time rather than the program: they differ between any two runs.
TIMING_METRIC = re.compile(r"(seconds|_ms)$")
DIES_ONCE, DIES_ALWAYS = "dies_once.py", "dies_always.py"
# Training runs the hook kills (named REWARD-seedN): seed 7 on its first attempt, seed 8 always.
RUN_DIES_ONCE, RUN_DIES_ALWAYS = "car-seed7", "car-seed8"
DIE_HOOK = f"{DIES_ONCE},{DIES_ALWAYS}:always,{RUN_DIES_ONCE},{RUN_DIES_ALWAYS}:always"


def comparable(report) -> dict:
    """The report as a dict without timings: equal for equal audits, wherever they ran."""
    data = report.to_dict()
    data.pop("seconds")
    for stage in data["stages"]:
        stage.pop("seconds")
        stage["metrics"] = {k: v for k, v in stage["metrics"].items() if not TIMING_METRIC.search(k)}
    return data


def _processes_mentioning(text: str) -> dict[int, str]:
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline:
            found[int(pid)] = cmdline[:160]
    return found


def _alive(pids) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_gone(what, seconds: float = 20.0):
    """Poll `what()` (a collection) until it is empty; return what is left after `seconds`."""
    deadline = time.monotonic() + seconds
    left = what()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = what()
    return left


@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    """One local Ray instance for the module, started as carverify starts one, in a private temp dir."""
    ray = _need_ray()
    temp = _ray_temp(tmp_path_factory)
    # Workers inherit the driver's environment when the instance starts: the test-only hook
    # must be set before, and names programs only the retry tests use.
    restore = distributed._raylet_messages_to_log()  # as `carverify audit --workers` does
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(distributed.DIE_ENV, DIE_HOOK)
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 object_store_memory=256 << 20, _temp_dir=temp)
        started = time.perf_counter() - start
    print(f"\nlocal Ray started in {started:.1f} s")
    ours = _processes_mentioning(temp)
    assert ours, "no Ray process found under the instance's temp dir"
    workers: set[int] = set()
    try:
        yield workers  # tests add the worker pids they saw
    finally:
        ray.shutdown()
        restore()
        left = _wait_gone(lambda: _processes_mentioning(temp)) or _wait_gone(lambda: _alive(workers))
        shutil.rmtree(temp, ignore_errors=True)
        assert not left, f"Ray processes left after shutdown: {left}"


def _ray_temp(tmp_path_factory) -> str:
    """A fresh, short directory for one Ray instance's session files.

    Under pytest's own temp root (other test runs on the machine watch /tmp for strangers),
    unless that path is too long: Ray's unix sockets live under it and must fit in 107 bytes.
    """
    folder = str(tmp_path_factory.mktemp("ray"))
    return folder if len(folder) <= 40 else tempfile.mkdtemp(prefix="cvray-")


def _need_ray():
    if os.environ.get("CI"):
        import ray  # CI installs carverify[ray]: a missing Ray must fail there, not skip
        return ray
    return pytest.importorskip("ray")


def _copy(tmp_path: Path, source: Path, name: str) -> str:
    target = tmp_path / name
    shutil.copyfile(source, target)
    return str(target)


# ----------------------------------------------------------------- without Ray


def test_plain_audits_never_import_ray():
    code = ("import sys, carverify.cli as c\n"
            f"one = c.main(['audit', {str(EXAMPLES / 'good_vectorized.py')!r}, '--suite', {SUITE!r}, "
            "'--stages', 'parse', 'policy', '--no-track'])\n"
            f"two = c.main(['audit', {str(EXAMPLES / 'good_vectorized.py')!r}, {str(EXAMPLES / 'imports_os.py')!r}, "
            f"'--suite', {SUITE!r}, '--stages', 'parse', 'policy', '--no-track'])\n"
            "print('EXIT', one, two, 'RAY', 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "EXIT 0 1 RAY False" in out.stdout, out.stdout + out.stderr


def test_sequential_sweep_equals_one_audit_at_a_time():
    paths = [str(EXAMPLES / n) for n in ("good_vectorized.py", "imports_os.py", "not_a_bool.py")]
    seen = []
    sweep = audit_many([AuditJob(p, SUITE, FAST) for p in paths],
                       on_report=lambda i, report, source: seen.append((i, report.program_path, len(source))))
    assert sweep.workers is None and sweep.retried == []
    assert [comparable(r) for r in sweep.reports] == [comparable(audit_file(p, SUITE, stages=FAST)) for p in paths]
    assert [i for i, *_ in seen] == [0, 1, 2] and all(n > 0 for *_, n in seen)
    assert distributed.exit_code(sweep.reports) == 1


def test_misuse_fails_before_any_audit(tmp_path):
    good = str(EXAMPLES / "good_vectorized.py")
    with pytest.raises(UsageError, match="unknown suite 'nope'"):
        audit_many([AuditJob(good, "nope")])
    with pytest.raises(UsageError, match="unknown stage 'nonsense'"):
        audit_many([AuditJob(good, SUITE, ("nonsense",))])
    with pytest.raises(UsageError, match="cannot read .*missing.py"):
        audit_many([AuditJob(good, SUITE, FAST), AuditJob(str(tmp_path / "missing.py"), SUITE, FAST)])


def test_workers_without_ray_installed_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when it is not installed
    with pytest.raises(UsageError, match=re.escape("need Ray: pip install 'carverify[ray]'")):
        audit_many([AuditJob(str(EXAMPLES / "good_vectorized.py"), SUITE, FAST)], workers=2)


def test_exit_codes_of_a_sweep():
    def report(verdict_status):
        from carverify.result import AuditReport, StageResult
        return AuditReport("p.py", "0" * 64, SUITE, [StageResult("parse", verdict_status)])

    assert distributed.exit_code([report("passed")] * 2) == 0
    assert distributed.exit_code([report("passed"), report("failed")]) == 1
    assert distributed.exit_code([report("failed"), report("error"), report("passed")]) == 3


def test_several_reports_in_one_file():
    paths = [str(EXAMPLES / n) for n in ("good_vectorized.py", "imports_os.py")]
    reports = audit_many([AuditJob(p, SUITE, ("parse", "policy")) for p in paths]).reports
    data = json.loads(distributed.render_many(reports, "json"))
    assert [r["verdict"] for r in data["reports"]] == ["accepted", "rejected"]
    sarif = json.loads(distributed.render_many(reports, "sarif"))
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1  # one run per sweep, every result in it
    assert sarif["runs"][0]["results"][0]["ruleId"] == "CV204"
    junit = distributed.render_many(reports, "junit")
    assert junit.count("<testsuite ") == 2 and 'tests="4"' in junit.split("\n")[1]


def test_cli_several_programs_sequential(tmp_path):
    good = EXAMPLES / "good_vectorized.py"
    out = subprocess.run([sys.executable, "-m", "carverify.cli", "audit", str(good), str(good), "--suite", SUITE,
                          "--stages", *FAST, "--no-track", "--no-cache", "--json", str(tmp_path / "r.json")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.strip().splitlines() if not line.startswith("    ")]  # findings are indented
    assert len(lines) == 3 and all(line.startswith("ACCEPTED  ") for line in lines[:2])
    assert lines[2].startswith("2 programs: 2 accepted, 0 rejected, 0 errors (sequential, ")
    assert [r["verdict"] for r in json.loads((tmp_path / "r.json").read_text())["reports"]] == ["accepted"] * 2


# -------------------------------------------------------------------- on Ray


def test_ray_reports_equal_sequential_ones(ray_local, tmp_path, monkeypatch):
    # All stages on a program whose counterexample is saved: the file a worker writes comes back
    # to the driver at the path the report names (in carverify's cache folder, never the cwd).
    monkeypatch.chdir(tmp_path)
    from carverify.cachedir import cache_dir
    crash = str(ROOT / "suites" / SUITE / "programs" / "crash_off_distribution.py")
    paths = [str(EXAMPLES / n) for n in sorted(os.listdir(EXAMPLES))]
    jobs = [AuditJob(p, SUITE, FAST) for p in paths * 2] + [AuditJob(crash, SUITE)]
    on_ray = audit_many(jobs, workers=2)
    artifacts = on_ray.reports[-1].artifacts
    assert artifacts and all(Path(p).is_file() and Path(p).is_relative_to(cache_dir()) for p in artifacts.values())
    assert list(tmp_path.iterdir()) == []
    ray_bytes = {p: Path(p).read_bytes() for p in artifacts.values()}
    for p in artifacts.values():
        Path(p).unlink()
    sequential = audit_many(jobs)
    assert [comparable(r) for r in on_ray.reports] == [comparable(r) for r in sequential.reports]
    assert {p: Path(p).read_bytes() for p in artifacts.values()} == ray_bytes
    assert on_ray.workers == 2 and on_ray.retried == []
    assert sequential.reports[-1].verdict == "rejected" and "CV401" in {f.code for f in sequential.reports[-1].findings}


def test_dead_worker_is_retried_once_then_reported_as_error(ray_local, tmp_path):
    import ray

    once = _copy(tmp_path, EXAMPLES / "good_vectorized.py", DIES_ONCE)
    always = _copy(tmp_path, EXAMPLES / "good_vectorized.py", DIES_ALWAYS)
    good = str(EXAMPLES / "good_vectorized.py")
    bad = str(EXAMPLES / "imports_os.py")
    seen = []
    sweep = audit_many([AuditJob(p, SUITE, FAST) for p in (good, once, always, bad)], workers=2,
                       on_report=lambda i, report, source: seen.append(i))
    verdicts = [r.verdict for r in sweep.reports]
    assert verdicts == ["accepted", "accepted", "error", "rejected"]
    assert sorted(seen) == [0, 1, 2, 3]                 # every program reported, once
    assert sorted(sweep.retried) == [1, 2]              # each dead worker's program ran once more
    error = sweep.reports[2]
    assert [(s.stage, s.status) for s in error.stages] == [
        ("parse", "error"), ("policy", "skipped"), ("restricted", "skipped")]
    [finding] = error.findings
    assert finding.code == "CV000"
    assert finding.message.startswith("the Ray worker auditing this program died on all 2 attempts "
                                      "(WorkerCrashedError: ")
    assert error.program_sha256 == sweep.reports[1].program_sha256  # same bytes, same identity
    assert comparable(sweep.reports[1]) == comparable(audit_file(once, SUITE, stages=FAST))
    assert distributed.exit_code(sweep.reports) == 3
    assert "1 error" in distributed.summary_line(sweep) and "2 retried" in distributed.summary_line(sweep)

    @ray.remote
    def pid():
        return os.getpid()
    ray_local.update(ray.get([pid.remote() for _ in range(4)]))


def test_a_connected_process_refuses_another_address_and_accepts_its_own(ray_local):
    """Library use: connected first, then asked for another cluster, a sweep must not land here silently."""
    import ray
    port = ray.get_runtime_context().gcs_address.rpartition(":")[2]
    jobs = [AuditJob(str(EXAMPLES / "imports_os.py"), SUITE, FAST)]
    with pytest.raises(UsageError, match=r"already connected to Ray at .*; it cannot also use 127\.0\.0\.1:1 "):
        audit_many(jobs, address="127.0.0.1:1")
    assert ray.is_initialized(), "the refusal must leave the caller's connection alone"
    # The same head, however the user spells this machine, is the connection already open.
    for spelling in (f"127.0.0.1:{port}", f"localhost:{port}", "auto"):
        assert audit_many(jobs, address=spelling).reports[0].verdict == "rejected"


def test_sweep_tracks_one_parent_run_with_a_child_per_audit(ray_local, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    jobs = [AuditJob(str(EXAMPLES / n), SUITE, FAST) for n in ("good_vectorized.py", "imports_os.py")]
    tracker = distributed.SweepTracker(uri)
    parent = tracker.start({"programs": len(jobs)}, run_name="sweep-test")
    sweep = audit_many(jobs, workers=2, on_report=lambda i, report, source: tracker.log(report, source))
    tracker.finish(sweep)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("carverify-audit")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert runs[parent].info.status == "FINISHED" and runs[parent].data.metrics["rejected"] == 1.0
    children = [r for r in runs.values() if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(r.data.tags["verdict"] for r in children) == ["accepted", "rejected"]
    assert all(r.info.experiment_id == experiment.experiment_id for r in runs.values())


@pytest.mark.long
@pytest.mark.slow
def test_two_hundred_programs_on_two_workers_match_sequential(ray_local, tmp_path):
    """The suites' reference programs and the attack corpus, repeated to 200, on parse/policy/restricted."""
    from corpus.attacks import ATTACKS

    folder = tmp_path / "attacks"
    folder.mkdir()
    programs, repeatable, racing = [], [], {}
    for attack in ATTACKS[::3]:  # every family, a third of each
        # surrogateescape: the invalid-UTF-8 attack's lone surrogate becomes the raw byte it stands for
        (folder / f"{attack.id}.py").write_bytes(attack.source.encode("utf-8", "surrogateescape"))
        programs.append(AuditJob(str(folder / f"{attack.id}.py"), SUITE, FAST))
        if attack.family != "resource":  # seconds each, up to the limits: once is enough
            repeatable.append(programs[-1])
        else:
            racing[programs[-1].path] = attack.expect
    for suite in list_suites():
        if suite.kind != "minigrid":  # Panda suites are still being built; their programs need the simulator
            continue
        manifest = tomllib.loads((suite.path / "programs" / "manifest.toml").read_text())
        programs += [AuditJob(str(suite.path / "programs" / e["file"]), suite.name, FAST) for e in manifest["program"]]
    jobs = programs + (repeatable * 2)[:200 - len(programs)]
    assert len(jobs) == 200 and len(set(jobs)) == len(programs) < 200

    start = time.perf_counter()
    sequential = audit_many(jobs)
    middle = time.perf_counter()
    on_ray = audit_many(jobs, workers=2)
    print(f"\n200 audits: sequential {middle - start:.1f} s, Ray with 2 workers {time.perf_counter() - middle:.1f} s")

    def summary(reports):
        return [(r.program_path, r.verdict, sorted({f.code for f in r.findings})) for r in reports]

    def same(s, r):
        if s[0] in racing:
            # A resource attack is stopped by whichever limit it reaches first: the per-call
            # wall-clock alarm (CV302) on a loaded machine, the child's CPU rlimit (CV308)
            # on a quiet one. Both are rejections the corpus expects; the verdict must agree.
            return s[1] == r[1] == "rejected" and set(s[2]) <= racing[s[0]] and set(r[2]) <= racing[s[0]]
        return s == r
    # Name what differed: a bare list comparison of 200 entries hides it.
    mismatched = [(s, r) for s, r in zip(summary(sequential.reports), summary(on_ray.reports)) if not same(s, r)]
    assert not mismatched, mismatched
    assert len(racing) >= 5 and sum(s[0] not in racing for s in summary(sequential.reports)) >= 180
    assert on_ray.retried == [], [jobs[i].path for i in on_ray.retried]
    errors = [f.message for r in on_ray.reports + sequential.reports if r.verdict == "error" for f in r.findings]
    assert not errors, errors


def test_cli_workers_sweep(tmp_path, tmp_path_factory):
    """`--workers 2`: its own local instance, a dead worker retried, one line per program, exit 3."""
    _need_ray()
    once = _copy(tmp_path, EXAMPLES / "good_vectorized.py", DIES_ONCE)
    always = _copy(tmp_path, EXAMPLES / "good_vectorized.py", DIES_ALWAYS)
    bad = str(EXAMPLES / "imports_os.py")
    ray_tmp = _ray_temp(tmp_path_factory)
    env = {**os.environ, distributed.DIE_ENV: DIE_HOOK, "RAY_TMPDIR": ray_tmp}
    try:
        out = subprocess.run([sys.executable, "-m", "carverify.cli", "audit", once, always, bad, "--suite", SUITE,
                              "--stages", *FAST, "--no-track", "--no-cache", "--workers", "2", "--json", str(tmp_path / "r.json")],
                             capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
        left = _wait_gone(lambda: _processes_mentioning(ray_tmp))
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stderr == ""  # a quiet Ray: no start-up banner, no "worker died" chatter
    lines = [line for line in out.stdout.strip().splitlines() if not line.startswith("    ")]  # findings are indented
    assert [line.split()[0] for line in lines[:3]] == ["ACCEPTED", "ERROR", "REJECTED"]
    assert lines[1].startswith(f"ERROR  {always}  (suite {SUITE}") and lines[1].endswith("CV000")
    assert lines[3].startswith("3 programs: 1 accepted, 1 rejected, 1 error (local Ray, 2 workers, ")
    assert lines[3].endswith("; 2 retried after a worker died")
    reports = json.loads((tmp_path / "r.json").read_text())["reports"]
    assert [r["verdict"] for r in reports] == ["accepted", "error", "rejected"]
    assert not left, f"Ray processes left after the CLI exited: {left}"


# ------------------------------------------------------------------- training


def _tiny_train(out: Path, uri: str | None, **kwargs):
    from carverify import train

    # 2 PPO updates of 8 envs x 128 steps; evaluated at 0, 1024 and 2048 steps on 2 layouts.
    return train.Args(suite=SUITE, rewards=("car", "sparse"), steps=2048, seeds=(0, 1), eval_every=1024,
                      eval_episodes=2, out=str(out), tracking_uri=uri, track=uri is not None, progress=False,
                      **kwargs)


def _without_timings(metrics):
    return [(step, {k: v for k, v in values.items() if k != "train.steps_per_second"}) for step, values in metrics]


def _policy_weights(path: Path) -> dict:
    import zipfile

    import torch

    with zipfile.ZipFile(path) as archive, archive.open("policy.pth") as f:
        return torch.load(f, map_location="cpu", weights_only=True)


@pytest.mark.long
@pytest.mark.slow
def test_ray_training_equals_sequential_and_logs_the_same_runs(ray_local, tmp_path):
    """Each (reward, seed) as a Ray task: same curves, same metrics, bit-identical policy weights, same MLflow runs."""
    import torch
    from mlflow.tracking import MlflowClient

    from carverify import train

    uris = {how: f"sqlite:///{tmp_path / how / 'mlruns.db'}" for how in ("sequential", "ray")}
    start = time.perf_counter()
    sequential = train.main(_tiny_train(tmp_path / "sequential", uris["sequential"]))
    middle = time.perf_counter()
    on_ray = train.main(_tiny_train(tmp_path / "ray", uris["ray"], workers=2))
    print(f"\n4 tiny PPO runs: sequential {middle - start:.1f} s, Ray with 2 workers "
          f"{time.perf_counter() - middle:.1f} s")

    assert [(r.reward, r.seed) for r in on_ray] == [("car", 0), ("car", 1), ("sparse", 0), ("sparse", 1)]
    for seq, ray_run in zip(sequential, on_ray):
        assert ray_run.error is None and ray_run.steps == seq.steps == 2048
        assert ray_run.curve == seq.curve and [s for s, _ in seq.curve] == [8, 1024, 2048]
        assert ray_run.subtask_curve == seq.subtask_curve
        assert _without_timings(ray_run.metrics) == _without_timings(seq.metrics)
        name = Path(SUITE) / seq.reward / f"model-seed{seq.seed}.zip"
        ours, theirs = _policy_weights(tmp_path / "sequential" / name), _policy_weights(tmp_path / "ray" / name)
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    # Different seeds train differently: the equality above is not two copies of one run.
    first = _policy_weights(tmp_path / "ray" / SUITE / "car" / "model-seed0.zip")
    second = _policy_weights(tmp_path / "ray" / SUITE / "car" / "model-seed1.zip")
    assert not all(torch.equal(first[k], second[k]) for k in first)

    def runs(uri):
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("carverify-train")
        found = client.search_runs([experiment.experiment_id])
        by_id = {r.info.run_id: r for r in found}
        tree = {}
        for r in found:
            parent = by_id.get(r.data.tags.get("mlflow.parentRunId"))
            history = [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, "eval.success_rate")]
            tree[r.info.run_name] = (parent.info.run_name if parent else None, r.info.status, sorted(history))
        return tree
    expected = runs(uris["sequential"])
    assert set(expected) == {f"train {SUITE} car", f"train {SUITE} sparse", "car seed 0", "car seed 1",
                             "sparse seed 0", "sparse seed 1"}
    assert expected["car seed 1"][0] == f"train {SUITE} car"
    assert runs(uris["ray"]) == expected
    for how in ("sequential", "ray"):
        curves = json.loads((tmp_path / how / SUITE / "car" / "curves.json").read_text())
        assert [r["seed"] for r in curves["runs"]] == [0, 1]
    assert (tmp_path / "ray" / SUITE / "success_rate.png").stat().st_size > 1000


@pytest.mark.long
@pytest.mark.slow
def test_ray_training_streams_evaluations_and_steps_while_runs_train(ray_local, tmp_path, monkeypatch, capsys):
    """Evaluations reach the driver (MLflow) and steps the bar before a run ends, not only with its result."""
    from carverify import train

    plan = train.make_plan(_tiny_train(tmp_path, None, workers=2))
    events = []
    advance = distributed._StepsBar.advance
    monkeypatch.setattr(distributed._StepsBar, "advance",
                        lambda bar, index, step: (events.append(("step", index, step)), advance(bar, index, step)))
    distributed.train_many(plan, [("car", 0), ("car", 1)], run=train.run_seed, failed=train.failed_run,
                           workers=2, progress=True,
                           on_result=lambda result, model: events.append(("result", result.seed, result.steps)),
                           on_metrics=lambda reward, seed, metrics, step: events.append(("eval", seed, step)))
    results = [e for e in events if e[0] == "result"]
    assert sorted(results) == [("result", 0, 2048), ("result", 1, 2048)]
    for seed in (0, 1):
        done = events.index(next(e for e in results if e[1] == seed))
        evals = [e[2] for e in events[:done] if e[:2] == ("eval", seed)]
        assert evals[:2] == [8, 1024], events   # the last evaluation may trail its result: the result carries it
        beats = [e[2] for e in events[:done] if e[:2] == ("step", seed) and 0 < e[2] < 2048]
        assert len(beats) >= 10 and beats == sorted(beats), beats  # about every 2% of the run
    err = capsys.readouterr().err
    assert "4096/4096" in err and "2/2 runs done" in err, err[-500:]


def test_steps_bar_counts_each_run_once_up_to_its_steps():
    bar = distributed._StepsBar(runs=2, steps=100, address=None, enabled=False)
    bar.advance(0, 40)
    bar.advance(0, 8)       # a retried run starting over counts nothing new
    bar.advance(1, 130)     # PPO finishing a rollout past the steps asked
    assert bar.counted == {0: 40, 1: 100}
    bar.finish(0, "car seed 0: error")  # a failed or early-stopped run jumps to its end
    assert bar.counted == {0: 100, 1: 100} and bar.finished == 1


@pytest.mark.long
@pytest.mark.slow
def test_ray_training_retries_a_dead_worker_then_reports_the_run_as_failed(ray_local, tmp_path):
    from mlflow.tracking import MlflowClient

    from carverify import train

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    args = train.Args(suite=SUITE, rewards=("car",), steps=256, seeds=(0, 7, 8), eval_every=256, eval_episodes=1,
                      out=str(tmp_path), tracking_uri=uri, progress=False, workers=2)
    results = train.main(args)
    assert [(r.seed, r.error is None) for r in results] == [(0, True), (7, True), (8, False)]
    assert results[1].steps >= 256                             # died once, ran again
    assert results[2].error.startswith("the Ray worker training this run died on all 2 attempts ")
    assert results[2].curve == [] and results[2].final_success == 0.0
    folder = tmp_path / SUITE / "car"
    assert sorted(p.name for p in folder.glob("model-*.zip")) == ["model-seed0.zip", "model-seed7.zip"]
    curves = json.loads((folder / "curves.json").read_text())
    assert [("error" in r) for r in curves["runs"]] == [False, False, True]

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("carverify-train")
    status = {r.info.run_name: (r.info.status, r.data.tags.get("carverify.error", ""))
              for r in client.search_runs([experiment.experiment_id])}
    assert status[f"train {SUITE} car"][0] == "FINISHED"
    assert status["car seed 0"] == ("FINISHED", "") and status["car seed 7"] == ("FINISHED", "")
    assert status["car seed 8"][0] == "FAILED" and "died on all 2 attempts" in status["car seed 8"][1]


def test_training_on_ray_refuses_subprocess_envs(capsys):
    from carverify.cli import EXIT_USAGE, main

    code = main(["train", "--suite", SUITE, "--workers", "2", "--vec-env", "subproc", "--no-track"])
    assert code == EXIT_USAGE
    from carverify.status import without_status  # importing torch may take long enough for a status line
    assert without_status(capsys.readouterr().err) == ("carverify: error: --vec-env subproc cannot run on Ray: "
                                                       "each Ray task trains one seed in one process\n")


@pytest.mark.long
@pytest.mark.slow
def test_cli_train_on_local_ray_and_sequential_train_never_imports_ray(tmp_path, tmp_path_factory):
    """`train --workers 2` starts and stops its own instance; a dead run is an ERROR row and exit 3."""
    _need_ray()
    ray_tmp = _ray_temp(tmp_path_factory)
    env = {**os.environ, distributed.DIE_ENV: DIE_HOOK, "RAY_TMPDIR": ray_tmp}
    tiny = ["--suite", SUITE, "--steps", "128", "--eval-every", "128", "--eval-episodes", "1", "--no-track",
            "--no-progress"]
    try:
        out = subprocess.run([sys.executable, "-m", "carverify.cli", "train", *tiny, "--seeds", "0", "8",
                              "--out", str(tmp_path / "ray"), "--workers", "2"],
                             capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
        left = _wait_gone(lambda: _processes_mentioning(ray_tmp))
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert out.returncode == 3, out.stdout + out.stderr
    rows = out.stdout.splitlines()
    assert rows[1].split()[:2] == ["car", "0"] and rows[1].split()[3] == "1024"  # PPO trains whole rollouts: 8 envs x 128
    assert rows[2].startswith("car        8 ERROR   the Ray worker training this run died on all 2 attempts")
    assert not left, f"Ray processes left after the CLI exited: {left}"

    code = ("import sys, carverify.cli as c\n"
            f"code = c.main(['train', *{tiny!r}, '--seeds', '0', '--out', {str(tmp_path / 'seq')!r}])\n"
            "print('EXIT', code, 'RAY', 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "EXIT 0 RAY False" in out.stdout, out.stdout + out.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, seconds: float = 60.0) -> bool:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.mark.long
@pytest.mark.slow
def test_audit_and_train_on_a_cluster_reached_by_address(tmp_path, tmp_path_factory):
    """A head node started the way the README tells users (`ray start --head`), reached as HOST:PORT.

    Ray >= 2.59 authenticates with a token; head and driver share one through the environment,
    as the README says to, so nothing is read from or written to ~/.ray.
    """
    import secrets

    _need_ray()
    ray_tmp, port = _ray_temp(tmp_path_factory), _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    head = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
                             f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={ray_tmp}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        assert _wait_listening(port), "the Ray head never listened on its port"
        good, bad = str(EXAMPLES / "good_vectorized.py"), str(EXAMPLES / "imports_os.py")
        audit = subprocess.run([sys.executable, "-m", "carverify.cli", "audit", good, bad, "--suite", SUITE,
                                "--stages", *FAST, "--no-track", "--no-cache", "--ray-address", address],
                               capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
        trained = subprocess.run([sys.executable, "-m", "carverify.cli", "train", "--suite", SUITE, "--steps", "128",
                                  "--eval-every", "128", "--eval-episodes", "1", "--seeds", "0", "1", "--no-track",
                                  "--no-progress", "--out", str(tmp_path), "--ray-address", address],
                                 capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
        refused = subprocess.run([sys.executable, "-m", "carverify.cli", "audit", good, "--suite", SUITE,
                                  "--stages", "parse", "--no-track", "--no-cache", "--ray-address", address],
                                 capture_output=True, text=True, cwd=ROOT, timeout=300,
                                 env={**env, "RAY_AUTH_TOKEN": "not-the-cluster-token"})
    finally:
        head.terminate()
        head.wait(timeout=60)
        left = _wait_gone(lambda: _processes_mentioning(ray_tmp), seconds=30)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert audit.returncode == 1, audit.stdout + audit.stderr
    lines = [line for line in audit.stdout.strip().splitlines() if not line.startswith("    ")]
    assert [line.split()[0] for line in lines[:2]] == ["ACCEPTED", "REJECTED"]
    assert lines[2].startswith(f"2 programs: 1 accepted, 1 rejected, 0 errors (Ray at {address}, ")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    rows = trained.stdout.splitlines()
    assert [row.split()[:2] for row in rows[1:3]] == [["car", "0"], ["car", "1"]]
    assert sorted(p.name for p in (tmp_path / SUITE / "car").glob("model-*.zip")) == [
        "model-seed0.zip", "model-seed1.zip"]
    # Ray's client logs a refused token once a second to file descriptor 2; the user gets one line.
    assert refused.returncode == 3 and refused.stdout == ""
    assert refused.stderr == (f"carverify: internal error: Ray at {address} refused this driver's authentication "
                              "token: set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on the head "
                              "node)\n")
    assert not left, f"Ray processes left after the head stopped: {left}"


# train reaches Ray by the same path as audit, after ~20 s of imports: make test-long.
@pytest.mark.parametrize("command", ["audit", pytest.param("train", marks=pytest.mark.long)])
def test_an_address_nobody_answers_is_one_line_and_exit_3(command):
    # A fresh process: this one may already be connected to the module's Ray instance,
    # which carverify would use whatever the address.
    _need_ray()
    port = _free_port()  # nothing listens on it once the probe socket is closed
    target = [str(EXAMPLES / "good_vectorized.py")] if command == "audit" else ["--seeds", "0", "--no-progress"]
    out = subprocess.run([sys.executable, "-m", "carverify.cli", command, *target, "--suite", SUITE, "--no-track",
                          *(["--no-cache"] if command == "audit" else []), "--ray-address", f"127.0.0.1:{port}"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stdout == ""
    from carverify.status import without_status  # train's imports may print a status line first
    assert without_status(out.stderr) == (f"carverify: internal error: cannot start or reach Ray at 127.0.0.1:{port}: "
                                          f"nothing answers at 127.0.0.1:{port} (Connection refused)\n")
