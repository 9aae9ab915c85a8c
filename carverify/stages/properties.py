"""The properties stage: hypothesis over the suite's observation space, run inside the sandbox.

Each generated observation goes to the audit's sandbox child; the program never runs
here.  Properties: total (no exception), truth-valued, deterministic (same answer
twice), pure (input untouched), within the per-call budget (CPU time), and the same
answer when compiled: every observation also goes to the audit's native child (the
numba twin training runs, compiled once per audit and shared with the compile stage),
and a different result is CV602.  The shrunk counterexample is saved as .npy with a
one-line reproduction command.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from carverify.config import AuditConfig
from carverify.result import Finding, StageResult
from carverify.stages.common import RETURNS, dense_terms, finding
from carverify.stages.static import loaded_sandbox
from carverify.stages.restricted import frames_for

# Sandbox codes on a generated observation -> property codes.
# CV604 (a wall-clock backstop, not the program) stays CV604: the stage's status becomes error.
_PROPERTY_CODE = {"CV301": "CV401", "CV303": "CV401", "CV310": "CV401", "CV304": "CV402",
                  "CV305": "CV404", "CV302": "CV405", "CV308": "CV405", "CV306": "CV401",
                  "CV307": "CV401", "CV604": "CV604"}
_WHAT = {"CV401": "is not total", "CV402": "is not truth-valued", "CV403": "is not deterministic",
         "CV404": "is not pure", "CV405": "is too slow", "CV507": "is out of range",
         "CV602": "differs when compiled (properties stage)", "CV604": "was not judged"}

# Seconds one interpreted call may take on a generated observation: loop-style checks
# on 64x64 frames take a few ms, so this is ~50x headroom, yet flags checks that
# would dominate an environment step.  Suites may override it in [budget].
DEFAULT_CALL_BUDGET = 0.25

# MiniGrid's own palette plus the extremes: generated frames should look like frames.
PALETTE = ((0, 0, 0), (255, 255, 255), (100, 100, 100), (255, 0, 0), (0, 255, 0), (0, 0, 255),
           (112, 39, 195), (255, 255, 0), (76, 76, 76), (178, 178, 178), (127, 127, 0))


class PropertyFailure(Exception):
    def __init__(self, code: str, subtask: str, message: str, line: int | None):
        super().__init__(f"{code} {subtask}: {message}")
        self.code, self.subtask, self.message, self.line = code, subtask, message, line


def observations(suite_frames: np.ndarray, suite_colours: bool = False):
    """A hypothesis strategy of (observation, description) shaped like the suite's frames.

    suite_colours: also paint with the suite frames' most common colours (for frames whose
    palette is not MiniGrid's)."""
    if suite_frames.ndim == 2:
        return state_vectors(suite_frames)
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    shape = suite_frames.shape[1:]
    # Repainted tiles are 8 px (MiniGrid's tile); other frame sizes get a partial last tile.
    tiles_y, tiles_x = max(1, -(-shape[0] // 8)), max(1, -(-shape[1] // 8))
    colour = st.sampled_from(PALETTE + (_frequent_colours(suite_frames) if suite_colours else ()))

    @st.composite
    def uniform(draw):
        c = draw(colour)
        return np.broadcast_to(np.array(c, np.uint8), shape).copy(), f"a frame filled with colour {c}"

    @st.composite
    def noise(draw):
        seed = draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, shape, dtype=np.uint8), f"uniform random noise (numpy seed {seed})"

    @st.composite
    def sparse(draw):
        fill = draw(st.integers(0, 255))
        arr = draw(arrays(np.uint8, shape, elements=st.integers(0, 255), fill=st.just(fill)))
        return arr, f"a frame of value {fill} with {int(np.count_nonzero(arr != fill))} differing channel values"

    @st.composite
    def repainted(draw):
        index = draw(st.integers(0, len(suite_frames) - 1))
        frame = suite_frames[index].copy()
        edits = draw(st.lists(st.tuples(st.integers(0, tiles_y - 1), st.integers(0, tiles_x - 1), colour),
                              max_size=6))
        for ty, tx, c in edits:
            frame[ty * 8:(ty + 1) * 8, tx * 8:(tx + 1) * 8] = c
        where = ", ".join(f"tile ({ty},{tx}) -> {c}" for ty, tx, c in edits) or "no change"
        return frame, f"suite frame {index} with tiles repainted: {where}"

    return st.one_of(repainted(), uniform(), noise(), sparse())


def _frequent_colours(frames: np.ndarray, n: int = 12) -> tuple:
    # The suite's own most common colours (a sample of pixels), so generated frames look like its frames.
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        return ()
    pixels = frames.reshape(-1, 3)[:: max(1, frames[..., 0].size // 65536)]
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    return tuple(tuple(int(v) for v in colours[i]) for i in np.argsort(-counts, kind="stable")[:n])


# Magnitudes a state vector may take in extreme (yet finite) generated observations.
EXTREMES = (0.0, 1e-9, -1e-9, 1.0, -1.0, 10.0, -10.0, 1e3, -1e3, 1e6, -1e6)


def state_vectors(suite_frames: np.ndarray):
    """(observation, description) for 1-D float64 state suites: real states with some entries
    replaced, values in the range the suite's states span (with a margin), and extremes."""
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    size = suite_frames.shape[1]
    low, high = suite_frames.min(axis=0), suite_frames.max(axis=0)
    margin = np.maximum(0.5 * (high - low), 0.1)
    low, high = low - margin, high + margin
    plausible = st.floats(float(low.min()), float(high.max()), allow_nan=False, allow_infinity=False)
    extreme = st.sampled_from(EXTREMES)
    index = st.integers(0, size - 1)

    @st.composite
    def edited(draw):
        row = draw(st.integers(0, len(suite_frames) - 1))
        obs = suite_frames[row].astype(np.float64).copy()
        edits = draw(st.lists(st.tuples(index, st.one_of(plausible, extreme)), max_size=6))
        for i, value in edits:
            obs[i] = value
        where = ", ".join(f"obs[{i}] = {v!r}" for i, v in edits) or "no change"
        return obs, f"suite state {row} with {where}"

    @st.composite
    def in_range(draw):
        seed = draw(st.integers(0, 2**16))
        obs = np.random.default_rng(seed).uniform(low, high)
        return obs, f"uniform in the suite's per-entry range with a margin (numpy seed {seed})"

    @st.composite
    def constant(draw):
        value = draw(st.one_of(extreme, plausible))
        return np.full(size, value, np.float64), f"every entry {value!r}"

    @st.composite
    def any_finite(draw):
        obs = draw(arrays(np.float64, size, elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)))
        return obs, "np.array(" + repr(obs.tolist()) + ")"

    return st.one_of(edited(), in_range(), constant(), any_finite())


def _checker(box, subtasks, line_of, record, budget: float = float("inf"), dense=(), native=None):
    """The hypothesis test body.  `native`: the loaded and compiled native child, or None."""
    fns = list(subtasks) + list(dense)

    def check(sample):
        frame, description = sample
        record["last"] = (frame, description)
        record["calls"] = record.get("calls", 0) + 2 * len(fns)
        batch = box.call(fns, np.stack([frame, frame]), stop_on_error=False, returns=RETURNS)
        if batch.dead is not None:
            dead = batch.dead
            raise PropertyFailure(_PROPERTY_CODE.get(dead.code, "CV401"), dead.subtask or subtasks[0],
                                  dead.message, None)
        for name in fns:
            issue = batch.issues.get(name)
            if issue is not None:
                raise PropertyFailure(_PROPERTY_CODE.get(issue.code, "CV401"), name, issue.message,
                                      issue.line or line_of.get(name))
            first, second = batch.values[name]
            worst = batch.max_seconds.get(name, 0.0)
            if worst > budget:
                raise PropertyFailure("CV405", name, f"took {worst * 1e3:.0f} ms on one observation "
                                      f"(budget {budget * 1e3:.0f} ms per interpreted call)", line_of.get(name))
            if name in dense and not (isinstance(first, float) and 0.0 <= first <= 1.0):
                raise PropertyFailure("CV507", name, f"returned {first!r}, outside [0, 1]", line_of.get(name))
            if first != second:
                raise PropertyFailure("CV403", name, f"returned {first} then {second} on the same observation",
                                      line_of.get(name))
        record.setdefault("examples", []).append((frame, description, {name: batch.values[name][0] for name in fns}))
        if native is not None and "native_death" not in record:
            _compare_compiled(native, fns, frame, description, batch, line_of, record)
    return check


def _compare_compiled(native, fns, frame, description, interpreted, line_of, record) -> None:
    """The same observation through the compiled twin: its answers must be the interpreted ones."""
    from carverify.stages.compile import _same

    record["compiled_calls"] = record.get("compiled_calls", 0) + len(fns)
    batch = native.call(fns, frame[None], stop_on_error=False, returns=RETURNS)
    if batch.dead is not None:
        # The child is gone, so hypothesis could not shrink this (every later example would
        # "fail" too): keep this observation and report it once the run is over.
        record["native_death"] = (frame, description, batch.dead)
        return
    for name in fns:
        ours, theirs = (batch.values.get(name) or [None])[0], interpreted.values[name][0]
        if not _same(ours, theirs):
            issue = batch.issues.get(name)
            compiled = f"error ({issue.message})" if ours is None and issue is not None else repr(ours)
            raise PropertyFailure("CV602", name, f"compiled {compiled}, interpreted {theirs!r}", line_of.get(name))


def check_properties(candidate, suite, *, config: AuditConfig = AuditConfig()) -> StageResult:
    """Hypothesis over the interpreted program, then every generated observation through the twin.

    The twin is compiled in the background (audit.py); waiting for it here would hold every
    program, even one the trajectories stage rejects at once, for the whole compile.  So when
    the audit allows it (`candidate.defer`), the compiled comparison is registered to run after
    the next stage and this returns the interpreted result; otherwise it runs now.
    """
    start = time.perf_counter()
    box, skip = loaded_sandbox(candidate, suite, config, "properties")
    if skip:
        return skip
    subtasks = list(candidate.info.subtasks)
    fns = subtasks + dense_terms(candidate)
    record: dict = {"examples": []}
    frames = frames_for(suite, config.max_suite_frames)
    findings = _hypothesis(box, candidate, suite, config, frames, record, native=None)
    metrics = {"examples": float(config.hypothesis_examples), "calls": float(record.get("calls", 0)),
               "compiled_calls": 0.0, "compiled_twin": 0.0}
    interpreted = StageResult("properties", "failed" if findings else "passed", findings, metrics,
                              time.perf_counter() - start)
    if findings:
        return interpreted

    def compared() -> StageResult:
        return _compare_examples(box, candidate, suite, config, frames, fns, record, interpreted)
    if candidate.defer is not None:
        candidate.defer("properties", compared,
                        {"compiled twin": "not compared: a later stage rejected the program first"})
        return interpreted
    return compared()


def _hypothesis(box, candidate, suite, config, frames, record, native) -> list[Finding]:
    """Run the properties (and, with `native`, the compiled comparison) under hypothesis."""
    from hypothesis import HealthCheck, Phase, given, settings

    budget = float(suite.budget.get("interpreted_call_seconds", DEFAULT_CALL_BUDGET))
    check = _checker(box, list(candidate.info.subtasks), candidate.info.functions, record, budget,
                     dense_terms(candidate), native)
    runner = settings(max_examples=config.hypothesis_examples, deadline=None, database=None,
                      derandomize=True, report_multiple_bugs=False, print_blob=False,
                      suppress_health_check=list(HealthCheck),
                      phases=(Phase.explicit, Phase.generate, Phase.shrink))(
        given(observations(frames, suite_colours=getattr(suite, "kind", "minigrid") != "minigrid"))(check))
    try:
        runner()
    except PropertyFailure as failure:
        return [_finding(failure, record["last"], candidate, config)]
    except Exception as exc:  # noqa: BLE001 - hypothesis wraps flaky failures (e.g. a timeout that comes and goes)
        failure = _property_failure_in(exc)
        if failure is None:
            raise
        return [_finding(failure, record["last"], candidate, config)]
    if "native_death" in record:
        frame, description, dead = record["native_death"]
        return [_native_death_finding(dead, (frame, description), list(candidate.info.subtasks), candidate, config)]
    return []


def _compare_examples(box, candidate, suite, config, frames, fns, record, interpreted: StageResult) -> StageResult:
    """Every observation hypothesis generated, through the compiled twin in one batch.

    Only a disagreement pays for hypothesis again (with the twin in the loop), so that the
    counterexample is shrunk; if that run does not meet it, the generated one is reported.
    """
    from carverify.stages.compile import _same

    start = time.perf_counter()
    metrics = dict(interpreted.metrics)

    def result(status, findings=(), skipped=None):
        return StageResult("properties", status, list(findings), metrics,
                           interpreted.seconds + time.perf_counter() - start, skipped_checks=skipped or {})

    native, trouble = _compiled_twin(candidate, fns, frames, config)
    if trouble is not None:
        return result("error", [trouble])
    if native is None:  # numba cannot compile it: the compile stage's finding (CV601)
        # Said in the report: an audit whose stages end here is otherwise accepted as if compared.
        return result("passed", skipped={"compiled twin": "not compared: numba cannot compile the program "
                                         "(the compile stage reports why, CV601)"})
    examples = record["examples"]
    metrics.update(compiled_twin=1.0, compiled_calls=float(len(examples) * len(fns)))
    if not examples:
        return result("passed")
    batch = native.call(fns, np.stack([frame for frame, _, _ in examples]), stop_on_error=False, returns=RETURNS)
    if batch.dead is not None:
        culprit = _frame_of(batch.dead.message)
        frame, description, _ = examples[culprit if culprit is not None and culprit < len(examples) else 0]
        return result("failed", [_native_death_finding(batch.dead, (frame, description), fns, candidate, config)])
    for index, (frame, description, answers) in enumerate(examples):
        for name in fns:
            ours = batch.values[name][index]
            if _same(ours, answers[name]):
                continue
            shrunk = _shrunk(box, candidate, suite, config, frames, native)
            if shrunk:
                return result("failed", shrunk)
            issue = batch.issues.get(name)
            compiled = (f"error ({issue.message})" if ours is None and issue is not None
                        and batch.frames.get(name) == index else repr(ours))
            failure = PropertyFailure("CV602", name, f"compiled {compiled}, interpreted {answers[name]!r}",
                                      candidate.info.functions.get(name))
            return result("failed", [_finding(failure, (frame, description), candidate, config)])
    return result("passed")


def _shrunk(box, candidate, suite, config, frames, native) -> list[Finding]:
    """The disagreement shrunk by hypothesis with the twin in the loop, or [] if the rerun did not
    meet it.  The rerun comes after the trajectories stage, on the audit's restricted child, which
    may have spent its CPU allowance (or reached its wall-clock backstop) there: what the rerun
    meets then is that child, not the program, and the batch's disagreement stands as found."""
    try:
        found = _hypothesis(box, candidate, suite, config, frames, {"examples": []}, native)
    except Exception:  # noqa: BLE001 - the batch's finding stands without the shrink
        return []
    return found if found and found[0].code == "CV602" else []


def _frame_of(message: str) -> int | None:
    # The sandbox names the frame a dead child was on ("... on frame 12").
    import re

    found = re.search(r"on frame (\d+)", message)
    return int(found.group(1)) if found else None


def _compiled_twin(candidate, fns, frames, config):
    """(the audit's native child, compiled, or None; a CV604 finding when the machine stalled it).

    A program numba cannot compile or load is the compile stage's finding (CV601): here the
    compiled comparison is then skipped, and the interpreted properties still run.
    """
    from carverify.stages.compile import compile_program, native_box

    native = native_box(candidate, config)
    if not native.loaded.ok:
        dead = next((i for i in native.loaded.issues if i.code == "CV604"), None)
        return None, (finding(dead) if dead is not None else None)
    failed, _ = compile_program(native, fns, frames, candidate.info.functions)
    if any(f.code == "CV604" for f in failed):
        return None, next(f for f in failed if f.code == "CV604")
    return (None if failed else native), None


def _native_death_finding(dead, last, subtasks, candidate, config) -> Finding:
    if dead.code == "CV604":
        return finding(dead)
    failure = PropertyFailure("CV602", dead.subtask or subtasks[0],
                              f"the compiled run died where the interpreted one answered: {dead.message}", None)
    return _finding(failure, last, candidate, config)


def _property_failure_in(exc: BaseException) -> PropertyFailure | None:
    seen = [exc]
    while seen:
        item = seen.pop()
        if isinstance(item, PropertyFailure):
            return item
        seen.extend(getattr(item, "exceptions", ()))
        for linked in (item.__cause__, item.__context__):
            if linked is not None:
                seen.append(linked)
    return None


def _finding(failure: PropertyFailure, last, candidate, config) -> Finding:
    if failure.code == "CV604":  # the machine, not the observation: nothing to reproduce
        return Finding("CV604", failure.message, None, None, failure.subtask,
                       hint="retry the audit; if it recurs on a quiet machine, report it")
    frame, description = last
    path = _save_counterexample(frame, candidate, failure, config)
    reproduce = f"carverify run {candidate.path} --obs {path} --fn {failure.subtask}"
    message = (f"{failure.subtask} {_WHAT[failure.code]}: {failure.message} — smallest failing observation: "
               f"{description}; saved to {path}")
    return Finding(failure.code, message, failure.line, None, failure.subtask,
                   hint=f"reproduce: {reproduce}",
                   data={"counterexample": str(path), "reproduce": reproduce, "description": description})


def _save_counterexample(frame, candidate, failure, config) -> Path:
    from carverify.cachedir import cache_dir  # scratch goes to the cache folder, never the working directory

    root = Path(config.artifacts_dir) if config.artifacts_dir else cache_dir() / "counterexamples"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(frame.tobytes()).hexdigest()[:8]
    path = root / f"{candidate.sha256[:12]}-{failure.subtask}-{failure.code}-{digest}.npy"
    np.save(path, frame, allow_pickle=False)
    return path
