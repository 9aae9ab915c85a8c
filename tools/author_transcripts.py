"""Write the authored replay transcripts: suites/<suite>/transcripts/authored-<prompt version>.json.

The replies are authored by hand (tools/authored/<suite>/decompose.md, round1.md, ...):
fixtures standing in for a model, whose first program is flawed the way a model's often
is.  The *requests* are not authored: the real loop sends them, with feedback from real
audits of the authored programs, and they are recorded exactly as sent, so that
`carverify generate --provider replay` later hits every one of them.

    .venv/bin/python tools/author_transcripts.py            # every suite under tools/authored/
    .venv/bin/python tools/author_transcripts.py --suite minigrid-doorkey-8x8 --check

Each suite must end ACCEPTED at its last authored round, after rejected rounds whose
feedback came from the audit; then the transcript is replayed through the same loop
with the CLI's defaults as a check.  Exit 1 if any suite does not behave so.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from carverify.generate import loop  # noqa: E402
from carverify.generate.prompts import PROMPT_VERSION  # noqa: E402
from carverify.generate.providers import ReplayProvider, ScriptedProvider  # noqa: E402
from carverify.generate.transcripts import TranscriptWriter, default_folder  # noqa: E402
from carverify.suite import load_suite  # noqa: E402

AUTHORED = ROOT / "tools" / "authored"
FILE_NAME = f"authored-{PROMPT_VERSION}.json"
NOTE = ("authored fixture standing in for model output: every reply was written by hand "
        "(tools/authored/{suite}/) to show a realistic flawed first program and its fix; the "
        "requests, including the audit feedback in them, were produced by the real generate "
        "loop and real audits (tools/author_transcripts.py). No model produced these replies.")


def replies_for(suite: str) -> list[str]:
    folder = AUTHORED / suite
    rounds = sorted(folder.glob("round*.md"), key=lambda p: int(re.sub(r"\D", "", p.stem)))
    decompose = folder / "decompose.md"
    if not decompose.is_file() or not rounds:
        raise SystemExit(f"{folder}: need decompose.md and round1.md, round2.md, ...")
    return [decompose.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in rounds]


def author(suite_name: str) -> bool:
    suite = load_suite(suite_name)
    replies = replies_for(suite_name)
    n_rounds = len(replies) - 1
    path = default_folder(suite) / FILE_NAME
    writer = TranscriptWriter(path, suite=suite.name, provider="authored", model="authored",
                              prompt_version=PROMPT_VERSION, authored=True, note=NOTE.format(suite=suite.name))
    print(f"== {suite.name}: {n_rounds} authored round(s) -> {path.relative_to(ROOT)}", file=sys.stderr)
    gen = loop.generate(suite, ScriptedProvider(replies, name="authored"), model="authored", rounds=n_rounds,
                        listeners=[loop.ProgressPrinter(sys.stderr, n_rounds), loop.TranscriptRecorder(writer)])
    ok = len(gen.rounds) == n_rounds and gen.rounds[-1].accepted and not any(r.accepted for r in gen.rounds[:-1])
    if not ok:
        print(f"   FAILED: expected rejections then ACCEPTED at round {n_rounds}, got "
              f"{[r.verdict for r in gen.rounds]}", file=sys.stderr)
    return ok


def check(suite_name: str) -> bool:
    """Replay the transcript as `carverify generate` would (default rounds and stages)."""
    suite = load_suite(suite_name)
    start = time.perf_counter()
    gen = loop.generate(suite, ReplayProvider(default_folder(suite), suite_name=suite.name), model="any",
                        rounds=loop.DEFAULT_ROUNDS)
    ok = gen.accepted and len(gen.rounds) >= 2 and gen.rounds[0].report is not None
    findings = [sorted({f.code for f in r.findings}) for r in gen.rounds]
    print(f"   replay: {[r.verdict for r in gen.rounds]} findings per round {findings} "
          f"({time.perf_counter() - start:.1f} s){'' if ok else '  FAILED'}", file=sys.stderr)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", help="only this suite (repeatable)")
    parser.add_argument("--check", action="store_true", help="only replay the existing transcripts")
    args = parser.parse_args()
    suites = args.suite or sorted(p.name for p in AUTHORED.iterdir() if p.is_dir())
    ok = True
    for name in suites:
        if not args.check:
            ok &= author(name)
        ok &= check(name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
