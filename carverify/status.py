"""Status lines for silent stretches: say what carverify is doing once a wait passes about 2 s."""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Iterator, TextIO

AFTER_SECONDS = 2.0


@contextlib.contextmanager
def status(what: str, *, after: float = AFTER_SECONDS, stream: TextIO | None = None) -> Iterator[None]:
    """Print `carverify: <what>…` on stderr if the block is still running after `after` seconds; quiet if not.

    Quick steps stay silent (a gate's log shows only what matters); a slow one (imports of
    torch, a numba compile, a model's answer) says what it is waiting for instead of hanging.
    """
    done = threading.Event()
    start = time.monotonic()
    spoke = threading.Event()

    def speak() -> None:
        if not done.wait(after):
            print(f"carverify: {what}…", file=stream or sys.stderr, flush=True)
            spoke.set()

    watcher = threading.Thread(target=speak, name="carverify-status", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        if spoke.is_set():
            print(f"carverify: {what.split(' (')[0]}: done in {time.monotonic() - start:.1f} s",
                  file=stream or sys.stderr, flush=True)


class _RetryLines(logging.Handler):
    """Turns the openai client's silent retries (it logs them, at DEBUG and INFO) into status lines."""

    def __init__(self, label: str, stream: TextIO | None):
        super().__init__(logging.DEBUG)
        self.label, self.stream, self.status_code = label, stream, None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Retrying due to status code"):
            self.status_code = text.rsplit(" ", 1)[-1]
        elif text.startswith("Retrying request in"):
            seconds, _, rest = text[len("Retrying request in "):].partition(" seconds ")
            why = f"HTTP {self.status_code}" if self.status_code else "no answer"
            print(f"carverify: {self.label}: {why}; retrying in {float(seconds):.1f} s {rest}",
                  file=self.stream or sys.stderr, flush=True)
            self.status_code = None


@contextlib.contextmanager
def openai_retries(label: str, *, stream: TextIO | None = None) -> Iterator[None]:
    """While the block runs, each retry the openai client makes (429, 5xx, timeouts) is one status line."""
    logger = logging.getLogger("openai._base_client")
    handler, level, propagate = _RetryLines(label, stream), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # its DEBUG chatter is ours to read, not the user's to see
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def without_status(text: str) -> str:
    """`text` (a stderr capture) without status lines, for readers that want only errors and warnings."""
    kept = [line for line in text.splitlines(keepends=True)
            if not (line.startswith("carverify: ") and (line.rstrip("\n").endswith("…") or ": done in " in line))]
    return "".join(kept)
