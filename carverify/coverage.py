"""Coverage states of a suite: every reachable abstract state (MiniGrid) or a spread of set states
(Panda), rendered as a program sees them and labelled by the oracle; built once, then read from disk.

The suite's adapter builds the states (EnvAdapter.coverage_blocks: reset-to, enumerate or
sample); this module caches them and joins the blocks.

What an audit means rests on this set: a program that passes the coverage stage is right on
every state listed here, not only on the frames a few episodes happened to show.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import time
import zipfile
from dataclasses import dataclass, field

import numpy as np

from carverify.envs.adapter import layout_seeds  # noqa: F401  (re-exported: tests and bench read it here)
from carverify.suite import Suite

_FORMAT = 2                    # bump when the files' layout changes


@dataclass
class CoverageSet:
    """Coverage states, one block per layout (MiniGrid) or one block (continuous suites).

    Frames stay in per-block arrays (memory-mapped from the cache) so an audit never holds
    every frame at once; every other array is indexed by the global state number.
    """

    blocks: list[np.ndarray]                 # frames, (n_b, *obs) each
    facts: dict[str, np.ndarray]             # oracle fact -> (N,) bool
    success: np.ndarray                      # (N,) bool: the environment's own success in this state
    layout: np.ndarray                       # (N,) int64: the layout seed (continuous suites: 0)
    edges: np.ndarray                        # (E, 2) int64 global (from, to); empty without transitions
    descriptions: np.ndarray                 # (N,) bytes: the state in words
    ambiguous: dict[str, np.ndarray]         # fact -> (N,) bool: an identical frame has the other value
    summary: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.success)

    def chunks(self, size: int = 4096):
        """(first global index, frames) pieces of at most `size` frames, in order."""
        start = 0
        for block in self.blocks:
            for i in range(0, len(block), size):
                piece = np.asarray(block[i:i + size])
                yield start + i, piece
            start += len(block)

    def frames_at(self, indexes) -> np.ndarray:
        """The frames of some global state numbers, in the order given."""
        offsets = np.cumsum([0] + [len(b) for b in self.blocks])
        indexes = np.asarray(indexes, np.int64)
        if not len(indexes):
            return np.zeros((0, *self.blocks[0].shape[1:]), self.blocks[0].dtype)
        which = np.searchsorted(offsets, indexes, side="right") - 1
        return np.stack([self.blocks[b][i - offsets[b]] for b, i in zip(which, indexes)])

    def describe(self, i: int) -> str:
        return self.descriptions[i].decode("utf-8")


def cache_folder(suite: Suite) -> pathlib.Path:
    from carverify.episodes import cache_key, cache_root

    h = hashlib.sha256(cache_key(suite).encode())
    here = pathlib.Path(__file__)
    h.update(here.name.encode() + b"\0" + here.read_bytes() + b"\0")
    h.update(json.dumps(suite.config.get("coverage", {}), sort_keys=True).encode())
    return cache_root().parent / "coverage" / suite.name / f"{_FORMAT}-{h.hexdigest()[:16]}"


def coverage_states(suite: Suite, *, progress=None) -> CoverageSet:
    """The suite's coverage set, built on first use (progress(done, total, what) reports it)."""
    folder = cache_folder(suite)
    plan = suite.adapter.coverage_blocks(suite)
    blocks = [_block(folder, name, build, progress, k, len(plan)) for k, (name, _, build) in enumerate(plan)]
    return _join(suite, blocks, [layout for _, layout, _ in plan])


def _block(folder: pathlib.Path, name: str, build, progress, k: int, total: int) -> dict:
    meta_path, frames_path = folder / f"{name}.npz", folder / f"{name}-frames.npy"
    try:
        return _read(meta_path, frames_path)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # missing or unreadable: build afresh
    if progress is not None:
        progress(k, total, name)
    start = time.perf_counter()
    block = build()
    block["ambiguous"] = _pixel_ambiguous(block["frames"], block["facts"])
    for fact, unsettled in block.pop("unsettled", {}).items():
        block["ambiguous"][fact] = block["ambiguous"][fact] | unsettled
    block["seconds"] = time.perf_counter() - start
    _write(folder, meta_path, frames_path, block)
    return _read(meta_path, frames_path)


def _write(folder, meta_path, frames_path, block) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # Frames first, the small file last: a block counts as cached only once both exist, and
    # each rename is atomic, so concurrent audits see nothing or a whole block.
    _atomic(frames_path, lambda fh: np.save(fh, block["frames"]))
    arrays = {f"fact_{k}": v for k, v in block["facts"].items()}
    arrays.update({f"ambiguous_{k}": v for k, v in block["ambiguous"].items()})
    extra = json.dumps({"left_out": block["left_out"], "groups": block.get("groups", {}),
                        "seconds": block["seconds"]})
    _atomic(meta_path, lambda fh: np.savez_compressed(
        fh, success=block["success"], edges=block["edges"], depth=block["depth"],
        descriptions=block["descriptions"], extra=np.array(extra), **arrays))


def _atomic(path: pathlib.Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _read(meta_path, frames_path) -> dict:
    frames = np.load(frames_path, mmap_mode="r")
    with np.load(meta_path) as data:
        extra = json.loads(str(data["extra"]))
        block = {"frames": frames, "success": data["success"], "edges": data["edges"], "depth": data["depth"],
                 "descriptions": data["descriptions"],
                 "facts": {k[len("fact_"):]: data[k] for k in data.files if k.startswith("fact_")},
                 "ambiguous": {k[len("ambiguous_"):]: data[k] for k in data.files if k.startswith("ambiguous_")},
                 **extra}
    if len(block["success"]) != len(frames):
        raise ValueError("frames and labels differ in length")
    return block


def _join(suite: Suite, blocks: list[dict], seeds: list[int]) -> CoverageSet:
    exhaustive = suite.adapter.exhaustive_coverage
    sizes = [len(b["success"]) for b in blocks]
    offsets = np.cumsum([0] + sizes)
    facts = {k: np.concatenate([b["facts"][k] for b in blocks]) for k in suite.facts}
    edges = np.concatenate([b["edges"].astype(np.int64) + off for b, off in zip(blocks, offsets)]) \
        if blocks else np.zeros((0, 2), np.int64)
    left_out: dict[str, int] = {}
    for b in blocks:
        for why, n in b["left_out"].items():
            left_out[why] = left_out.get(why, 0) + int(n)
    out = CoverageSet(
        blocks=[b["frames"] for b in blocks], facts=facts,
        success=np.concatenate([b["success"] for b in blocks]),
        layout=np.concatenate([np.full(n, s, np.int64) for n, s in zip(sizes, seeds)]),
        edges=edges, descriptions=np.concatenate([b["descriptions"] for b in blocks]),
        ambiguous={k: np.concatenate([b["ambiguous"][k] for b in blocks]) for k in suite.facts
                   if all(k in b["ambiguous"] for b in blocks)}, summary={
            "states": int(offsets[-1]), "layouts": len(blocks) if exhaustive else 0,
            "states_per_layout": sizes if exhaustive else [],
            "transitions": int(len(edges)), "left_out": left_out,
            "groups": blocks[0].get("groups", {}) if blocks and not exhaustive else {},
            "build_seconds": float(sum(b.get("seconds", 0.0) for b in blocks)),
            "exhaustive": exhaustive,
        })
    return out


def _pixel_ambiguous(frames: np.ndarray, facts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per fact, the states whose exact frame also shows a state where the fact differs.

    No program can settle such a fact from that frame (a carried object is not drawn; a
    vector observation has no such twins), so those states do not count against it.
    Twins are looked for within a block: two layouts differ in their walls, so never look alike.
    """
    if not len(frames):
        return {name: np.zeros(0, bool) for name in facts}
    digests = np.array([hashlib.blake2b(f.tobytes(), digest_size=16).digest() for f in frames])
    _, group = np.unique(digests, return_inverse=True)
    out = {}
    for name, values in facts.items():
        trues = np.bincount(group, weights=values.astype(np.float64), minlength=group.max() + 1)
        sizes = np.bincount(group, minlength=group.max() + 1)
        mixed = (trues > 0) & (trues < sizes)
        out[name] = mixed[group]
    return out
