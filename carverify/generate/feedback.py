"""Turn audit findings into the text a person or a model needs to fix the program.

Codes, messages with their numbers, the offending source quoted with line numbers,
and counterexamples in words.  Nothing machine-local (saved paths, timings) goes in:
the text is part of the next request, whose hash keys recorded exchanges.
"""
from __future__ import annotations

import ast
import hashlib
import re
from typing import Callable

from carverify.codes import CODES
from carverify.result import AuditReport, Finding

MAX_FINDINGS = 8
MAX_QUOTED_LINES = 24
_SAVED_TO = re.compile(r";? saved to \S+")
_FRAME_INDEX = re.compile(r" \(frame \d+\)")


def title(code: str) -> str:
    return CODES.get(code, "")


def for_report(report: AuditReport, source: str, name_frame: Callable[[int], str | None] | None = None) -> str:
    """Why the audit rejected `source`, finding by finding.

    `name_frame` turns the index of a suite frame (restricted-stage findings) into words.
    """
    # Later stages that did not run are left out on purpose: adding a stage to carverify
    # must not change the feedback (and so the hash) of requests recorded before it.
    failed = [s.stage for s in report.stages if s.status == "failed"]
    passed = [s.stage for s in report.stages if s.status == "passed"]
    head = f"The audit REJECTED your program: stage {', '.join(failed) or '?'} failed"
    if passed:
        head += f" ({', '.join(passed)} passed)"
    return head + ".\n\n" + _findings(report.findings, source, name_frame)


FEEDBACK_MODES = ("full", "codes", "none")   # the ablation of bench/generate.py

# Python's own words for errors small models make, and what to do instead: the 0.5B model's
# first program wrote `if tile == colour:` (bench/results/generate, prompts v1), and the
# exception alone names neither the cause nor the fix.
_EXCEPTION_FIXES = (
    (re.compile(r"truth value of an array with more than one element is ambiguous"),
     "`if a == b:` (or `and`/`or`/`not`) on arrays compares pixel by pixel and gives an array of booleans, "
     "which `if` cannot take: reduce it first, e.g. `(tile == colour).all(axis=2).any()` "
     "(some pixel has the colour) or `np.all(tile == colour)` (every pixel has it)."),
    (re.compile(r"index \d+ is out of bounds for axis \d+ with size 0"),
     "an empty selection was indexed: `np.nonzero(...)` found nothing in this observation. "
     "Check `.size` (or `len(...)`) first and return False when it is 0."),
)


def for_round(report: AuditReport | None, findings: list[Finding], source: str | None, how: str,
              mode: str = "full", name_frame=None, repeat_of: int | None = None) -> str:
    """What the next request says about a rejected round: full findings (the default), only
    their codes and titles, or just that it was rejected.  `repeat_of`: the earlier round whose
    program this one repeats (full feedback says so first)."""
    if mode not in FEEDBACK_MODES:
        raise ValueError(f"feedback mode {mode!r} is not one of {', '.join(FEEDBACK_MODES)}")
    if mode == "none":
        return "The audit REJECTED your program. Try again."
    if mode == "codes":
        head = ("Your last reply gave the audit no program to run." if report is None
                else "The audit REJECTED your program.")
        codes = dict.fromkeys(f"{f.code} — {title(f.code)}" for f in findings)
        return head + "\n\nFinding codes:\n" + "\n".join(f"- {c}" for c in codes)
    text = for_report(report, source, name_frame) if report is not None else for_extraction(findings)
    text = (for_patch(how) + text) if how.startswith("patch") else text
    if repeat_of is not None:
        # Measured: the 0.5B model answered its findings by sending the same function back.
        same = "the program is" if report is not None else "your reply is"
        text = (f"Your reply changed nothing: {same} the same as in round {repeat_of}, so it fails "
                "the same way. Change what the findings point to.\n\n" + text)
    return text


def for_patch(how: str) -> str:
    """Why the line numbers below are not those of the reply: it was merged into the last program."""
    return (f"Your reply had no SUBTASKS, so it was applied to your previous program ({how}); "
            "the merged program is what was audited, and the line numbers below are its own.\n\n")


def for_extraction(findings: list[Finding]) -> str:
    """Why a reply gave the audit nothing to run."""
    return "Your last reply gave the audit no program to run.\n\n" + _findings(findings, None, None)


def _findings(findings: list[Finding], source: str | None, name_frame) -> str:
    groups = _same_mistake(findings)
    shown = groups[:MAX_FINDINGS]
    functions = _functions(source) if source else []
    quoted: set[tuple[int, int]] = set()
    parts = [f"Findings ({len(findings)}):"]
    for number, (finding, others) in enumerate(shown, 1):
        text = _one(number, finding, source, functions, quoted, name_frame)
        if others:
            text += "\n   The same mistake elsewhere: " + ", ".join(_where(f) for f in others) + "; fix it there too."
        parts.append(text)
    rest = [f for first, others in groups[MAX_FINDINGS:] for f in (first, *others)]
    if rest:
        parts.append(f"... and {len(rest)} more: " + ", ".join(f"{f.code} ({f.subtask or '-'})" for f in rest))
    return "\n\n".join(parts)


def _same_mistake(findings: list[Finding]) -> list[tuple[Finding, list[Finding]]]:
    """Findings that say the same thing about different checks, as one finding and the others.

    Measured (bench-generate, prompts v3): the 0.5B model wrote one body into all five checks,
    and five near-identical findings, each quoting its function, made the feedback 4,000 tokens,
    filled the 8,192-token context by round 5 and buried the one thing to fix."""
    groups: dict[tuple, tuple[Finding, list[Finding]]] = {}
    for finding in findings:
        key = (finding.code, _without_names(finding))
        if key in groups:
            groups[key][1].append(finding)
        else:
            groups[key] = (finding, [])
    return list(groups.values())


def _without_names(finding: Finding) -> str:
    text = _message(finding)
    if finding.subtask:
        text = re.sub(rf"\b{re.escape(finding.subtask)}\b", "<check>", text)
    return text


def _where(finding: Finding) -> str:
    line = f"line {finding.line}" if finding.line else ""
    if finding.subtask:
        return f"`{finding.subtask}`" + (f" ({line})" if line else "")
    return line or "another place"


def _one(number: int, finding: Finding, source: str | None, functions, quoted, name_frame) -> str:
    where = []
    if finding.subtask:
        where.append(f"in `{finding.subtask}`")
    if finding.line:
        where.append(f"line {finding.line}")
    head = " — ".join(p for p in (f"{number}. {finding.code}", title(finding.code), ", ".join(where)) if p)
    lines = [head, "   " + _message(finding)]
    frame = finding.data.get("frame") if isinstance(finding.data, dict) else None
    if name_frame is not None and isinstance(frame, int):
        named = name_frame(frame)
        if named:
            lines.append(f"   That observation (frame {frame}) is {named}.")
    description = finding.data.get("description") if isinstance(finding.data, dict) else None
    if description:
        lines.append(f"   Smallest failing observation (shrunk by hypothesis): {description}.")
    # Coverage findings name reachable states in words ("door closed, unlocked; agent at (2, 3)
    # facing east"): the model sees which situation its check gets wrong, not a frame index.
    states = finding.data.get("examples") if isinstance(finding.data, dict) else None
    single = finding.data.get("state_description") if isinstance(finding.data, dict) else None
    for state in (states or ([single] if single else []))[:4]:
        lines.append(f"   Reachable state where it is wrong: {state}.")
    if finding.hint and not finding.hint.startswith("reproduce:"):
        lines.append(f"   Hint: {finding.hint}")
    fix = _exception_fix(finding)
    if fix:
        lines.append(f"   What that error means: {fix}")
        suggestion = truth_value_suggestion(source, finding) if source else None
        if suggestion:
            lines.append(f"   {suggestion}")
    if source and finding.line:
        caret = finding.col if finding.code == "CV101" else None
        lines.append(_quote(source, finding.line, functions or _functions_by_text(source), quoted, caret=caret))
    if source and finding.code == "CV503":
        subtasks_line = _subtasks_line(source)
        if subtasks_line:
            lines.append(_quote(source, subtasks_line, [], quoted, single=True))
    return "\n".join(lines)


def _exception_fix(finding: Finding) -> str | None:
    if finding.code not in ("CV301", "CV401"):
        return None
    return next((fix for pattern, fix in _EXCEPTION_FIXES if pattern.search(finding.message)), None)


# Calls that give a single number or truth value, or a plain Python object, never an array of
# booleans; `.any()` on their result would raise (AttributeError on a bool).
_SCALAR_CALLS = frozenset({"any", "all", "sum", "mean", "max", "min", "count_nonzero", "len", "bool", "int",
                           "float", "abs", "round", "item", "argmax", "argmin", "hypot", "sqrt", "isfinite",
                           "isinstance", "issubclass", "hasattr", "callable", "allclose", "array_equal",
                           "array_equiv", "get", "startswith", "endswith", "where", "nonzero"})


def truth_value_suggestion(source: str, finding: Finding) -> str | None:
    """The exact rewrite for an array used as a truth value, on the line that raised.

    Measured why: told what the error means in general, the 1.5B model sent
    `mask_of(obs, rgb, 40) and ...` back unchanged in all 5 rounds of a tabletop run.  The
    operands of `and`/`or`/`not`/`if`/`bool()` on that line that can be arrays (calls other
    than reductions, comparisons of a slice; else comparisons of a name) are named with the
    `.any()` that makes them one value.
    Nothing here runs the program: the operands are read from its syntax tree.
    """
    if finding.code not in ("CV301", "CV401") or not finding.line or "truth value of an array" not in finding.message:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    operands = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp):
            operands.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operands.append(node.operand)
        elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            operands.append(node.test)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "bool"
              and len(node.args) == 1):
            operands.append(node.args[0])   # bool(c > 167) with c a pixel: the 1.5B model, v9
    on_line = [o for o in operands if o.lineno <= finding.line <= (o.end_lineno or o.lineno)]
    # A comparison of plain names is named only when nothing likelier is on the line.
    likely = [o for o in on_line if _maybe_array(o)] or [o for o in on_line if _compares_names(o)]
    shown = []
    for operand in likely:
        text = _as_array_text(source, operand)
        if text and "\n" not in text and text not in shown:
            shown.append(text)
    if not shown:
        return None
    rewrites = "; ".join(f"`{t}` -> `{t}.any()`" for t in shown[:3])
    return (f"On line {finding.line}, this can be an array of booleans, not one truth value: {rewrites} "
            "(`.any()`: some pixel matches; `.all()`: every pixel does).")


def _as_array_text(source: str, node: ast.expr) -> str | None:
    """The operand as an expression `.any()` can follow.  A chained comparison `0 < a < 9` is
    itself what raises on arrays, so it is spelled as the element-wise `(0 < a) & (a < 9)`."""
    text = ast.get_source_segment(source, node)
    if not text:
        return None
    if isinstance(node, ast.Compare) and len(node.ops) > 1:
        sides = [ast.get_source_segment(source, side) for side in (node.left, *node.comparators)]
        ops = [_OPS.get(type(op)) for op in node.ops]
        if None in sides or None in ops:
            return None
        return "(" + " & ".join(f"({a} {op} {b})" for a, op, b in zip(sides, ops, sides[1:])) + ")"
    return text if isinstance(node, (ast.Call, ast.Subscript, ast.Name)) else f"({text})"


_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


_REDUCTIONS = frozenset({"any", "all", "sum", "mean", "max", "min", "count_nonzero", "argmax", "argmin"})


def _is_module(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("np", "numpy")


def _compares_names(node: ast.expr) -> bool:
    return isinstance(node, ast.Compare) and any(isinstance(side, ast.Name) for side in (node.left, *node.comparators))


def _maybe_array(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        # (t == c).all(axis=2), np.any(m, 1): a reduction along an axis is still an array
        along_axis = any(k.arg == "axis" for k in node.keywords) or \
            len(node.args) > (1 if isinstance(func, ast.Attribute) and _is_module(func.value) else 0)
        return name not in _SCALAR_CALLS or (name in _REDUCTIONS and along_axis)
    if isinstance(node, ast.Compare):
        return any(_maybe_array(side) for side in (node.left, *node.comparators)
                   if isinstance(side, (ast.Subscript, ast.Call)))
    # s["x"]: an item of a dict, not a slice of an array
    return isinstance(node, ast.Subscript) and not (isinstance(node.slice, ast.Constant)
                                                   and isinstance(node.slice.value, str))


def _message(finding: Finding) -> str:
    text = finding.message
    if finding.data.get("description"):
        # The description gets its own line; the saved .npy path means nothing to the reader.
        text = _FRAME_INDEX.sub("", text.split(" — smallest failing observation:", 1)[0])
    return _SAVED_TO.sub("", text).strip()


def _functions(source: str) -> list[tuple[int, int, str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [(node.lineno, node.end_lineno or node.lineno, node.name)
            for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def _functions_by_text(source: str) -> list[tuple[int, int, str]]:
    """Functions found by their `def` lines, for a program that does not parse (no AST).

    Measured (bench-generate, the 1.5B model, prompts v4): a syntax error ("unmatched ')'")
    quoted as two lines either side hid the `return bool(np.any(` that opened the expression,
    and the model sent the same line back four times."""
    lines = source.splitlines()
    starts = [(n, m.group(1)) for n, text in enumerate(lines, 1) if (m := _DEF.match(text))]
    out = []
    for (first, name), nxt in zip(starts, [n for n, _ in starts[1:]] + [len(lines) + 1]):
        last = nxt - 1
        # up to the function's last non-blank line that is indented (or the def itself)
        while last > first and (not lines[last - 1].strip() or not lines[last - 1][:1].isspace()):
            last -= 1
        out.append((first, last, name))
    return out


_DEF = re.compile(r"def\s+([A-Za-z_]\w*)")


def _subtasks_line(source: str) -> int | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SUBTASKS" for t in node.targets):
            return node.lineno
    return None


def _quote(source: str, line: int, functions, quoted: set, single: bool = False, caret: int | None = None) -> str:
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return f"   (line {line} is outside the program's {len(lines)} lines)"
    inner = [f for f in functions if f[0] <= line <= f[1]]
    span = min(inner, key=lambda f: f[1] - f[0]) if inner else None
    if single:
        first = last = line
        label = f"   SUBTASKS (line {line}):"
    elif span and span[1] - span[0] < MAX_QUOTED_LINES:
        first, last = span[0], span[1]
        label = f"   Offending code (function `{span[2]}`, line {line} marked):"
    else:
        first, last = max(1, line - 2), min(len(lines), line + 2)
        label = f"   Offending code (line {line} marked):"
    if (first, last) in quoted:
        return f"   (code quoted above; see line {line})"
    quoted.add((first, last))
    width = len(str(last))
    body = []
    for n in range(first, last + 1):
        body.append(f"   {'>' if n == line else ' '} {n:>{width}} | {lines[n - 1]}")
        if n == line and caret is not None and 0 <= caret <= len(lines[n - 1]):
            # where Python stopped: a small model does not count 67 columns along a line
            body.append(f"     {'':>{width}} | {' ' * caret}^ here")
    return "\n".join([label, *body])


def suite_frame_namer(suite, max_frames: int) -> Callable[[int], str | None]:
    """index of a suite frame -> where it comes from, e.g. 'expert episode seed 0, frame 17 (...)'."""
    state: dict = {}

    def name(index: int) -> str | None:
        if not state:
            from carverify.episodes import expert_episodes, random_episodes
            from carverify.stages.restricted import frames_for

            state["frames"] = frames_for(suite, max_frames)
            origin: dict[bytes, tuple] = {}
            for ep in expert_episodes(suite) + random_episodes(suite):
                for t, frame in enumerate(ep.frames):
                    origin.setdefault(_digest(frame), (ep, t))
            state["origin"] = origin
        frames = state["frames"]
        if not 0 <= index < len(frames):
            return None
        found = state["origin"].get(_digest(frames[index]))
        if found is None:
            return None
        ep, t = found
        text = f"{ep.policy} episode seed {ep.seed}, frame {t}"
        if t == 0:
            return text + " (right after reset)"
        if ep.success_step == t:
            return text + " (the environment reports success on this frame)"
        return text + f" (after {t} actions)"

    return name


def _digest(frame) -> bytes:
    return hashlib.blake2b(frame.tobytes(), digest_size=16).digest()
