"""Expert, random and perturbed episodes of a suite: simulated from seeds once, then read from disk.

The suite's adapter (carverify/envs) steps the environment and says what a program sees;
an expert given as recorded demonstrations replays them (carverify/demonstrations.py).
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np

from carverify.envs.adapter import DEFAULT_EXPERT_SEEDS
from carverify.suite import Suite

DEFAULT_RANDOM_SEEDS = tuple(range(1000, 1020))


@dataclass
class Episode:
    seed: int
    policy: str                      # "expert" | "random"
    frames: np.ndarray               # (T+1, *obs) what a program sees after reset, then after each step:
                                     # MiniGrid (T+1, 8H, 8W, 3) uint8; Panda state (T+1, D) float64
    actions: np.ndarray              # (T,) int64; continuous control (T, A) float64
    success: bool                    # the env terminated with reward > 0 (Panda: info["is_success"])
    success_step: int | None         # index into frames of the first success frame
    facts: dict[str, np.ndarray]     # oracle fact -> (T+1,) bool
    measures: dict[str, np.ndarray] = field(default_factory=dict)  # oracle number -> (T+1,) float64

    def __len__(self) -> int:
        return len(self.actions)


def cache_base() -> pathlib.Path:
    """carverify's cache folder (carverify/cachedir.py): $CARVERIFY_CACHE, else the user cache dir."""
    from carverify.cachedir import cache_dir

    return cache_dir()


def cache_root() -> pathlib.Path:
    return cache_base() / "episodes"


def cache_key(suite: Suite) -> str:
    """Changes with the env id, the simulator versions, this module and every file that shapes
    an episode: the suite folder's files, the expert and oracle it names and the adapter's code."""
    h = hashlib.sha256()
    for label in (suite.env_id, suite.obs_kind, *suite.adapter.cache_labels(suite)):
        h.update(label.encode() + b"\0")
    for path in (pathlib.Path(__file__), *suite.source_files):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def simulate(suite: Suite, seed: int, policy: str, horizon: int | None = None, env=None,
             switch_after: str | None = None, script: np.ndarray | None = None) -> Episode:
    """Run one episode from `seed`; the random policy draws from a Generator seeded by it.

    policy "perturbed": the expert plays until the oracle fact `switch_after` first holds,
    then random actions follow for `horizon` more steps.  That reaches states off the
    expert's path (a door closed again, a key dropped elsewhere) near the states it visits.
    `script` (a perturbed episode without an oracle fact to switch at): these actions
    first (half an expert episode or demonstration), then random ones.
    frames[t] is what a program sees after reset (t = 0) and after each step; the episode
    stops at the environment's success, its termination or its step limit.
    """
    if policy not in ("expert", "random", "perturbed"):
        raise ValueError(f"policy must be 'expert', 'random' or 'perturbed', got {policy!r}")
    adapter = suite.adapter
    own = env is None
    env = suite.make_env() if own else env
    try:
        oracle = suite.oracle() or (lambda env: {})
        if script is not None:
            steps = iter(script)
            choose = lambda env: next(steps)   # noqa: E731
        else:
            choose = suite.expert() if policy != "random" else None
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        frames, actions, labels = [suite.render(env)], [], [oracle(env)]
        success_step = 0 if adapter.success_at_reset(env) else None
        switch = switch_point(policy, switch_after, labels[0]) if script is None else len(script)
        limit = adapter.episode_limit(env) if horizon is None or policy == "perturbed" else horizon
        while success_step is None and len(actions) < limit and (switch is None or len(actions) < switch + horizon):
            action = (adapter.expert_action(env, choose(env)) if choose and switch is None
                      else adapter.random_action(env, rng))
            _, reward, terminated, truncated, info = env.step(adapter.to_env_action(env, action))
            actions.append(action)
            frames.append(suite.render(env))
            labels.append(oracle(env))
            if switch is None:
                switch = switch_point(policy, switch_after, labels[-1], len(actions))
            if adapter.success(reward, terminated, info):
                success_step = len(frames) - 1
            if terminated or truncated:
                break
        actions = adapter.actions_array(env, actions)
    finally:
        if own:
            env.close()
    return episode_from(seed, policy_label(policy, switch_after), frames, actions, success_step, labels)


def episode_from(seed: int, policy: str, frames: list, actions: np.ndarray, success_step: int | None,
                 labels: list[dict]) -> Episode:
    """An Episode; oracle values that are truth values become facts, the others measures."""
    names = list(labels[0]) if labels else []
    facts = {k: np.array([bool(f[k]) for f in labels]) for k in names
             if isinstance(labels[0][k], (bool, np.bool_))}
    measures = {k: np.array([float(f[k]) for f in labels]) for k in names if k not in facts}
    return Episode(seed=seed, policy=policy, frames=np.stack(frames), actions=actions,
                   success=success_step is not None, success_step=success_step, facts=facts, measures=measures)


def switch_point(policy: str, fact: str | None, label: dict, step: int = 0) -> int | None:
    """The step after which a perturbed episode turns random: the first where `fact` holds."""
    if policy != "perturbed" or not label.get(fact):
        return None
    return step


def policy_label(policy: str, switch_after: str | None) -> str:
    return f"perturbed (random after {switch_after})" if policy == "perturbed" else policy


def _save(path: pathlib.Path, ep: Episode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"fact_{k}": v for k, v in ep.facts.items()}
    arrays.update({f"measure_{k}": v for k, v in ep.measures.items()})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(
                fh, frames=ep.frames, actions=ep.actions,
                meta=np.array([ep.seed, int(ep.success), -1 if ep.success_step is None else ep.success_step]),
                **arrays)
        # Rename is atomic, so concurrent readers see no file or a whole one.
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: pathlib.Path, policy: str, facts: tuple[str, ...]) -> Episode:
    with np.load(path) as data:
        seed, success, step = (int(v) for v in data["meta"])
        # Every stored fact: the suite's sub-task facts, plus any extra a Panda oracle reports.
        stored = [k[len("fact_"):] for k in data.files if k.startswith("fact_")]
        return Episode(seed=seed, policy=policy, frames=data["frames"], actions=data["actions"],
                       success=bool(success), success_step=None if step < 0 else step,
                       facts={k: data[f"fact_{k}"] for k in (*facts, *(k for k in stored if k not in facts))},
                       measures={k[len("measure_"):]: data[k] for k in data.files if k.startswith("measure_")})


def _episodes(suite: Suite, policy: str, seeds, horizon: int | None, switch_after: str | None = None,
              scripts: dict | None = None) -> list[Episode]:
    folder = cache_root() / suite.name / cache_key(suite)
    out, env = [], None
    label = policy_label(policy, switch_after)
    for seed in seeds:
        after = "half" if switch_after == HALF else switch_after
        name = (f"{policy}-{seed}" + ("" if after is None else f"-after-{after}")
                + ("" if horizon is None else f"-h{horizon}") + ".npz")
        path = folder / name
        try:
            out.append(_load(path, label, suite.facts))
            continue
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # missing or unreadable: simulate afresh
        if env is not None and not suite.adapter.reset_is_clean:
            env.close()
            env = None
        env = env if env is not None else suite.make_env()
        ep = simulate(suite, int(seed), policy, horizon, env=env, switch_after=switch_after,
                      script=None if scripts is None else scripts[seed])
        _save(path, ep)
        out.append(ep)
    if env is not None:
        env.close()
    return out


def _seeds(suite: Suite, key: str, default: tuple[int, ...], n: int | None) -> list[int]:
    seeds = [int(s) for s in suite.config.get("episodes", {}).get(key, default)]
    if n is None:
        return seeds
    if n > len(seeds):
        # More episodes than listed: continue the sequence past the last listed seed.
        seeds += list(range(max(seeds) + 1, max(seeds) + 1 + n - len(seeds)))
    return seeds[:n]


def expert_episodes(suite: Suite, n: int | None = None) -> list[Episode]:
    if suite.demonstrations:
        return demonstrations(suite)[:n]
    return _episodes(suite, "expert", _seeds(suite, "expert_seeds", DEFAULT_EXPERT_SEEDS, n), None)


def expert_episodes_for(suite: Suite, seeds) -> list[Episode]:
    """Expert episodes on explicit seeds (e.g. held-out layouts)."""
    if suite.demonstrations:
        return [ep for ep in demonstrations(suite) if ep.seed in {int(s) for s in seeds}]
    return _episodes(suite, "expert", [int(s) for s in seeds], None)


def demonstrations(suite: Suite) -> list[Episode]:
    """The suite's recorded expert episodes (an .npz, see the README's "Your own environment").

    Arrays: frames (or observations), every episode's frames one after another, reset frame
    first, as a program sees them; actions, every episode's actions one after another;
    lengths, each episode's number of actions (frames hold lengths + 1 per episode); success,
    per episode, whether it ended in the environment's success (on its last frame); seeds
    (optional), each episode's reset seed: with them perturbed play replays a demonstration's
    first half and continues at random.
    """
    from carverify.errors import UsageError

    path = suite.expert_path
    try:
        with np.load(path) as data:
            frames = data["frames"] if "frames" in data.files else data["observations"]
            actions, lengths = data["actions"], data["lengths"].astype(np.int64)
            success = data["success"].astype(bool)
            seeds = data["seeds"].astype(np.int64) if "seeds" in data.files else np.arange(len(lengths)) * -1 - 1
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot read demonstrations {path}: {exc} (needs frames or observations, actions, "
                         "lengths and success)") from exc
    if len(frames) != int(lengths.sum()) + len(lengths) or len(actions) != int(lengths.sum()) \
            or len(success) != len(lengths):
        raise UsageError(f"demonstrations {path}: {len(lengths)} episodes of {int(lengths.sum())} steps need "
                         f"{int(lengths.sum()) + len(lengths)} frames, {int(lengths.sum())} actions and "
                         f"{len(lengths)} success flags; got {len(frames)}, {len(actions)}, {len(success)}")
    out, f, a = [], 0, 0
    for n, won, seed in zip(lengths, success, seeds):
        out.append(Episode(seed=int(seed), policy="expert (recorded)", frames=frames[f:f + n + 1],
                           actions=actions[a:a + n], success=bool(won), success_step=int(n) if won else None,
                           facts={}))
        f, a = f + n + 1, a + n
    return out


def random_horizon(suite: Suite) -> int:
    """suite.toml's random_horizon, else the longest expert episode (matched to the expert)."""
    configured = suite.config.get("episodes", {}).get("random_horizon")
    if configured:
        return int(configured)
    return max(len(ep) for ep in expert_episodes(suite))


def random_episodes(suite: Suite, n: int | None = None, horizon: int | None = None) -> list[Episode]:
    horizon = random_horizon(suite) if horizon is None else int(horizon)
    return _episodes(suite, "random", _seeds(suite, "random_seeds", DEFAULT_RANDOM_SEEDS, n), horizon)


DEFAULT_PERTURBED = 10   # expert seeds perturbed after each sub-task fact


def perturbed_episodes(suite: Suite, n: int | None = None) -> list[Episode]:
    """Expert play until each sub-task fact (but the goal) first holds, then random actions.

    suite.toml [episodes] perturbed_seeds (default: the first 10 expert seeds); the random
    tail is random_horizon steps long.
    """
    configured = suite.config.get("episodes", {}).get("perturbed_seeds")
    seeds = ([int(s) for s in configured] if configured is not None
             else _seeds(suite, "expert_seeds", DEFAULT_EXPERT_SEEDS, None)[:DEFAULT_PERTURBED])
    if n is not None:
        seeds = seeds[:n]
    horizon = random_horizon(suite)
    if suite.has_oracle and not suite.demonstrations:
        out = []
        for fact in suite.subtask_facts[:-1]:
            out += _episodes(suite, "perturbed", seeds, horizon, switch_after=fact)
        return out
    # No oracle fact to switch at: replay the first half of each expert episode (or of each
    # demonstration with a reset seed), then play at random.
    experts = [ep for ep in expert_episodes(suite) if ep.seed >= 0]
    if not suite.demonstrations:
        experts = [ep for ep in experts if ep.seed in set(seeds)]
    scripts = {ep.seed: ep.actions[: len(ep) // 2] for ep in experts[:len(seeds)] if len(ep) >= 2}
    return _episodes(suite, "perturbed", list(scripts), horizon, switch_after=HALF, scripts=scripts)


HALF = "half of the expert's steps"


def _round_robin(episodes: list[Episode], skip_first: bool) -> list[np.ndarray]:
    # Interleave episodes step by step so a truncated selection still spans every episode.
    start = 1 if skip_first else 0
    longest = max((len(ep.frames) for ep in episodes), default=0)
    return [ep.frames[t] for t in range(start, longest) for ep in episodes if t < len(ep.frames)]


def suite_frames(suite: Suite, max_frames: int = 256) -> np.ndarray:
    """Deduplicated real frames: resets, success frames, expert frames, then random ones."""
    experts, randoms = expert_episodes(suite), random_episodes(suite)
    expert_order = ([ep.frames[0] for ep in experts]
                    + [ep.frames[ep.success_step] for ep in experts if ep.success_step is not None]
                    + _round_robin(experts, skip_first=True))
    random_order = [ep.frames[0] for ep in randoms] + _round_robin(randoms, skip_first=True)
    seen: set[bytes] = set()

    def unique(frames: list[np.ndarray]) -> list[np.ndarray]:
        kept = []
        for f in frames:
            digest = hashlib.blake2b(f.tobytes(), digest_size=16).digest()
            if digest not in seen:
                seen.add(digest)
                kept.append(f)
        return kept

    expert_unique, random_unique = unique(expert_order), unique(random_order)
    # A quarter of the budget goes to random frames: states the expert never visits.
    n_random = min(len(random_unique), max(max_frames // 4, max_frames - len(expert_unique)))
    chosen = expert_unique[: max_frames - n_random] + random_unique[:n_random]
    if not chosen:
        raise ValueError(f"suite {suite.name!r} produced no frames")
    return np.stack(chosen)
