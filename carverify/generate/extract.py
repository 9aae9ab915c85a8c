"""Find the reward program in a model's reply: fenced or not, among prose and other blocks.

The chosen block is the one that defines SUBTASKS (the last that parses, if several
do).  No program is finding CV701; a reply cut off inside its program is CV702.
The code is only parsed here, never compiled or run.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from carverify.result import Finding

_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n`]*$")
_SUBTASKS = re.compile(r"^SUBTASKS\s*(?::[^=\n]*)?=", re.M)
_COMMENTED_SUBTASKS = re.compile(r"^\s*#\s*SUBTASKS\s*=")
# Lines that start a program when the reply has no fences at all.
_CODE_START = re.compile(r"^(import numpy|import numpy as np|SUBTASKS\s*[:=]|def \w+\(|TILE\s*=|\"\"\"|#)")
_TRAILING_TRIM_LIMIT = 60


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    closed: bool
    line: int  # 1-based line of the opening fence in the reply


@dataclass
class Extraction:
    code: str | None
    findings: list[Finding] = field(default_factory=list)
    truncated: bool = False
    how: str = ""  # e.g. "block 2 of 3 (```python)", "unfenced"


def code_blocks(text: str) -> list[Block]:
    """Fenced blocks (``` or ~~~, any language); an unclosed last fence runs to the end."""
    lines = text.splitlines(keepends=True)
    blocks, i = [], 0
    while i < len(lines):
        match = _OPEN.match(lines[i].rstrip("\r\n"))
        if not match:
            i += 1
            continue
        fence = match.group("fence")
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j].rstrip("\r\n")):
            j += 1
        blocks.append(Block(match.group("lang").lower(), "".join(lines[i + 1:j]), j < len(lines), i + 1))
        i = j + 1
    return blocks


def defines_subtasks(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return bool(_SUBTASKS.search(code))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "SUBTASKS" for t in targets):
            return True
    return False


def parse_error(code: str) -> str | None:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # e.g. null bytes
        return str(exc)
    return None


def extract_program(text: str, finish_reason: str | None = None) -> Extraction:
    """The program in `text`, or a finding saying why there is none."""
    cut_off = finish_reason == "length"
    if not text.strip():
        why = f" (finish_reason {finish_reason!r})" if finish_reason not in (None, "stop") else ""
        return Extraction(None, [_no_program(f"the reply is empty{why}")])
    blocks = code_blocks(text)
    if blocks:
        chosen = _choose(blocks)
        if chosen is None:
            langs = ", ".join(sorted({b.lang or "unlabelled" for b in blocks}))
            why = f"{_count(len(blocks), 'code block')} ({langs}), none defines SUBTASKS"
            commented = next((line.strip() for b in blocks for line in b.code.splitlines()
                              if _COMMENTED_SUBTASKS.match(line)), None)
            if commented:
                # The 0.5B model wrote `# SUBTASKS = ("a", "b")` and its functions: say exactly what to change.
                why += (f": it is only in a comment ({commented[:80]}); write it as code, without the `#`, "
                        "e.g. SUBTASKS = (\"first_name\", \"second_name\")")
            return Extraction(None, [_no_program(why)])
        index, block = chosen
        how = f"block {index + 1} of {len(blocks)} (```{block.lang})" if len(blocks) > 1 else f"```{block.lang} block"
        return _finish(block.code, cut_off or not block.closed, how, finish_reason)
    code = _unfenced(text)
    if code is None:
        return Extraction(None, [_no_program(f"no code block and no Python program among "
                                             f"{_count(len(text.splitlines()), 'line')} of prose")])
    return _finish(code, cut_off, "unfenced", finish_reason)


def _choose(blocks: list[Block]) -> tuple[int, Block] | None:
    candidates = [(i, b) for i, b in enumerate(blocks) if defines_subtasks(b.code)]
    if not candidates:
        return None
    parsing = [(i, b) for i, b in candidates if parse_error(b.code) is None]
    # The last complete program wins: replies often quote the old code before the fix.
    return (parsing or candidates)[-1]


def _unfenced(text: str) -> str | None:
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return None
    # Leading prose goes; then drop trailing prose lines until what is left parses.
    body = lines[start:]
    for cut in range(min(len(body), _TRAILING_TRIM_LIMIT)):
        code = "".join(body[:len(body) - cut])
        if code.strip() and parse_error(code) is None and defines_subtasks(code):
            return code
    code = "".join(body)
    return code if defines_subtasks(code) else None


def _finish(code: str, truncated: bool, how: str, finish_reason: str | None) -> Extraction:
    error = parse_error(code)
    if truncated and error is not None:
        why = "the model hit its output limit (finish_reason 'length')" if finish_reason == "length" \
            else "its code block is never closed"
        return Extraction(code, [Finding(
            "CV702", f"the reply was cut off before the program ended: {why}, and the code does not "
                     f"parse ({error})",
            hint="ask for a shorter program: fewer comments, shared helpers")], truncated=True, how=how)
    return Extraction(code if code.endswith("\n") else code + "\n", [], truncated=truncated, how=how)


def _no_program(why: str) -> Finding:
    return Finding("CV701", f"no program in the reply: {why}",
                   hint="the reply must contain the whole program in one ```python block defining SUBTASKS")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
