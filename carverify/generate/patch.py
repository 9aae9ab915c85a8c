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

from carverify.generate.extract import code_blocks, defines_subtasks

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


def partial_code(text: str, previous: str | None = None) -> str | None:
    """The code of a reply that defines functions but no SUBTASKS: its answer block.

    Of the code blocks that define functions, the answer is the last one that is neither a
    quote of `previous` (every function as the previous candidate had it: "your original was")
    nor, when some block redefines a function of `previous`, a block that redefines none of
    them (a usage example with a `test_...` function); each rule applies only if some block
    passes it.  A fix with a syntax error of its own
    is still the answer: merged, it is audited and gets the syntax error quoted back (CV101),
    where dropping it said only "no program in the reply" (CV701; 13 of the v4 sweep's
    rejections)."""
    old = {name: _normalised(body) for name, function, body in sections(previous or "") if function and name}
    candidates = []
    for block in code_blocks(text):
        code = block.code
        if not block.closed or defines_subtasks(code):
            continue
        functions = {name: _normalised(body) for name, function, body in sections(code) if function and name}
        if not functions:
            continue
        # Only code blocks: a ```text or ```console block that mentions a def is prose.
        if not (compiles(code) or block.lang in ("", "python", "py", "python3")):
            continue
        quote = bool(old) and all(old.get(name) == body for name, body in functions.items())
        candidates.append((code, quote, bool(old.keys() & functions.keys())))
    # The previous code quoted back is the answer only when nothing else is (a model that sends
    # the function unchanged is then told its reply changed nothing).
    for keep in (lambda c: not c[1], lambda c: c[2]):
        if any(keep(c) for c in candidates):
            candidates = [c for c in candidates if keep(c)]
    return candidates[-1][0] if candidates else None


def compiles(code: str) -> bool:
    """Python compiles it: stricter than ast.parse, which accepts a `return` or `break` outside
    its place (a dedented line of a broken fix)."""
    try:
        compile(code, "<patch>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _normalised(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip() and
                     not line.lstrip().startswith("#"))


def _own_sections(patch_code: str) -> list[tuple[str | None, bool, str]]:
    """The patch's sections.  In a patch that does not parse, a line at column 0 that names
    nothing (a dedented `return`, a stray bracket) belongs to the definition above it: dropped,
    the syntax error would vanish from the merged program or surface in another function."""
    found = sections(patch_code)
    if compiles(patch_code):
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
