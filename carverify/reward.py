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
    name = suite.config.get("train", {}).get("program")
    origin = "[train] program in suite.toml"
    if not name:
        name, why = _first_accepted(suite)
        origin = "the first accepted program in programs/manifest.toml"
        if name is None and (suite.path / LEGACY_PROGRAM).is_file():
            name, origin = LEGACY_PROGRAM, "the default name"
        if name is None:
            raise UsageError(f"suite {suite.name} names no program to train with: no [train] program in "
                             f"suite.toml, and {why}")
    path = suite.path / name
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, ValueError) as exc:   # ValueError: undecodable text, a NUL in the name
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise UsageError(f"cannot read the reference program {path} ({origin}): {reason}") from exc


LEGACY_PROGRAM = "programs/tile_probes.py"   # the name a suite without either used to get


def _first_accepted(suite) -> tuple[str | None, str]:
    """(programs/FILE of the manifest's first accepted entry, or None; why not, in words)."""
    import tomllib

    manifest = suite.path / "programs" / "manifest.toml"
    try:
        with open(manifest, "rb") as f:
            entries = tomllib.load(f).get("program", [])
    except OSError:
        return None, "there is no programs/manifest.toml"
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, f"programs/manifest.toml is not valid TOML ({str(exc).splitlines()[0]})"
    if not isinstance(entries, list):
        return None, "programs/manifest.toml has no [[program]] entries"
    for entry in entries:
        if isinstance(entry, dict) and entry.get("verdict") == "accepted":
            file = entry.get("file")
            if isinstance(file, str) and file and "\0" not in file:
                return f"programs/{file}", ""
    return None, "programs/manifest.toml lists no program with verdict = \"accepted\" and a file name"


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

