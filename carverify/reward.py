"""Rewards from an accepted reward program: what an audit report accepts, and the wrapper that pays.

    env = CodeReward(suite.make_env(), suite, source, "program.py.report.json")

CodeReward itself (the guarded reward path: reward worker, deadlines, fault policy,
runtime monitor) lives in carverify/deploy/reward.py; this module keeps the checks on
the audit report that every user of a program makes first.
"""
from __future__ import annotations

import json

from carverify.deploy.accepted import accepted_sha256, read_report, sha256_of
from carverify.deploy.reward import CodeReward
from carverify.errors import UsageError

__all__ = ["CodeReward", "accepted_sha256", "audited_report", "read_report", "reference_program",
           "sha256_of", "subtask_names"]


def reference_program(suite) -> tuple[str, str]:
    """(source, path) of the suite's reference program for training: [train] program in suite.toml,
    else the first program programs/manifest.toml says the audit accepts.  (A fixed default name
    sent five bundled suites without [train] looking for a programs/tile_probes.py they lack.)"""
    name = suite.config.get("train", {}).get("program") or _first_accepted(suite) or "programs/tile_probes.py"
    path = suite.path / name
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read the reference program {path}: {exc.strerror or exc}") from exc


def _first_accepted(suite) -> str | None:
    import tomllib

    try:
        with open(suite.path / "programs" / "manifest.toml", "rb") as f:
            entries = tomllib.load(f).get("program", [])
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return next((f"programs/{e['file']}" for e in entries
                 if isinstance(e, dict) and e.get("verdict") == "accepted" and isinstance(e.get("file"), str)), None)


def audited_report(source: str, suite, path: str = "program.py", *, config=None) -> dict:
    """The audit report of `source` (a dict), from the on-disk cache or by auditing it now.

    The cache key covers the source, the suite's episode files and the carverify version,
    so an edited program, suite or release is audited afresh.
    """
    from carverify import __version__
    from carverify.audit import audit_source
    from carverify.episodes import cache_key, cache_root
    from carverify.report.json_report import render_json

    folder = cache_root().parent / "audits" / suite.name
    target = folder / f"{sha256_of(source)[:16]}-{cache_key(suite)}-{__version__}.json"
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    report = audit_source(source, suite, path=path, config=config)
    text = render_json(report)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return json.loads(text)


def subtask_names(source: str) -> tuple[str, ...]:
    """SUBTASKS of a program, read by the sandbox's parser (no code runs)."""
    from carverify.compiled import checked_program

    return tuple(checked_program(source)[1].subtasks)

