"""Partial replies as patches: a reply that redefines some functions of the previous candidate.

Models often answer feedback with only the function they fixed.  Such a reply (a code
block with top-level definitions but no SUBTASKS) is applied to the previous candidate:
each top-level function or constant it defines replaces the one of the same name, new
ones are appended.  The previous candidate need not parse (a syntax error is exactly
what a one-function fix repairs), so top-level sections are found by indentation, not
by the AST.  Nothing here runs the code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from carverify.generate.extract import code_blocks, defines_subtasks, parse_error

_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(")
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")


@dataclass(frozen=True)
class Patch:
    code: str                 # the merged program
    replaced: tuple[str, ...]
    added: tuple[str, ...]

    def describe(self, base_round: int) -> str:
        parts = []
        if self.replaced:
            parts.append("replaced " + ", ".join(self.replaced))
        if self.added:
            parts.append("added " + ", ".join(self.added))
        return f"patch of round {base_round}: " + "; ".join(parts)


def sections(source: str) -> list[tuple[str | None, bool, str]]:
    """Top-level sections in order: (name or None, is a function, text).  A section runs from a line at
    column 0 to the next such line; blank and comment lines before a definition go with it."""
    lines = source.splitlines(keepends=True)
    out: list[tuple[str | None, bool, list[str]]] = []
    pending: list[str] = []   # blank/comment lines not yet assigned
    for line in lines:
        stripped = line.rstrip("\r\n")
        top = stripped[:1] not in ("", " ", "\t", "#", ")", "]", "}")
        if not top:
            if stripped.strip() == "" or stripped.lstrip().startswith("#") and stripped[:1] == "#":
                pending.append(line)
            elif out:
                out[-1][2].extend(pending + [line])
                pending = []
            else:
                pending.append(line)
            continue
        function = _DEF.match(stripped)
        match = function or _ASSIGN.match(stripped)
        out.append((match.group(1) if match else None, bool(function), pending + [line]))
        pending = []
    if pending:
        out.append((None, False, pending))
    return [(name, function, "".join(text)) for name, function, text in out]


def partial_code(text: str) -> str | None:
    """The code of a reply that defines functions but no SUBTASKS: its last such block.

    The last block is the model's answer; an earlier one is usually the code it quotes
    back before fixing it, so a later fix with a syntax error of its own still wins over an
    earlier block that parses.  Merged, it is audited and gets the syntax error quoted back
    (CV101), where dropping it said only "no program in the reply" (CV701; 13 of the v4
    sweep's rejections)."""
    chosen = None
    for block in code_blocks(text):
        code = block.code
        if not block.closed or defines_subtasks(code):
            continue
        if any(function for _, function, _ in sections(code)):
            # Only code blocks: a ```text or ```console block that mentions a def is prose.
            if parse_error(code) is None or block.lang in ("", "python", "py", "python3"):
                chosen = code
    return chosen


def _own_sections(patch_code: str) -> list[tuple[str | None, bool, str]]:
    """The patch's sections.  In a patch that does not parse, a line at column 0 that names
    nothing (a dedented `return`, a stray bracket) belongs to the definition above it: dropped,
    the syntax error would vanish from the merged program or surface in another function."""
    found = sections(patch_code)
    if parse_error(patch_code) is None:
        return found
    merged: list[tuple[str | None, bool, str]] = []
    for name, function, text in found:
        if name is None and merged and merged[-1][0] is not None:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + text)
        else:
            merged.append((name, function, text))
    return merged


def apply(previous: str, patch_code: str) -> Patch | None:
    """`previous` with every named section of `patch_code` put in place; None if nothing is defined."""
    base = sections(previous)
    index = {name: i for i, (name, _, _) in enumerate(base) if name}
    replaced, added, appended = [], [], []
    for name, function, text in _own_sections(patch_code):
        if name is None or name == "SUBTASKS":
            continue  # imports, prose comments: the previous candidate keeps its own
        body = text if text.endswith("\n") else text + "\n"
        if name in index:
            old_text = base[index[name]][2]
            # Keep the blank lines that separated the old section from the one above.
            lead = old_text[:len(old_text) - len(old_text.lstrip("\n"))]
            base[index[name]] = (name, function, lead + body.lstrip("\n"))
            replaced.append(name)
        else:
            appended.append(body)
            added.append(name)
    if not replaced and not added:
        return None
    merged = "".join(text for _, _, text in base).rstrip("\n") + "\n"
    for body in appended:
        merged += "\n\n" + body.strip("\n") + "\n"
    return Patch(merged, tuple(replaced), tuple(added))
