"""First layer: size, encoding and depth caps, then ast.parse."""
from __future__ import annotations

import ast

from sandbox.issue import Issue
from sandbox.limits import Limits


def parse_source(source: str | bytes, limits: Limits = Limits()) -> tuple[ast.Module | None, list[Issue]]:
    if isinstance(source, bytes):
        if len(source) > limits.max_source_bytes:
            return None, [_too_large(len(source), limits)]
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [Issue("CV104", f"source is not valid UTF-8: {exc.reason} at byte {exc.start}",
                                hint="save the program as UTF-8 text")]
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError as exc:
        line = source.count("\n", 0, exc.start) + 1
        return None, [Issue("CV104", f"source contains a character that is not valid UTF-8 ({exc.reason})",
                            line=line, col=0, hint="remove lone surrogates and other undecodable characters")]
    if size > limits.max_source_bytes:
        return None, [_too_large(size, limits)]
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        return None, [Issue("CV101", "source contains a null byte", line=line, col=0)]
    try:
        tree = ast.parse(source, filename="program.py", type_comments=False)
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        if "too many nested" in msg or "too complex" in msg:
            return None, [Issue("CV103", f"syntax tree too deep: {msg}", exc.lineno, _col(exc.offset))]
        return None, [Issue("CV101", f"syntax error: {msg}", exc.lineno, _col(exc.offset))]
    except (RecursionError, MemoryError):
        return None, [Issue("CV103", "syntax tree too deep for the parser")]
    except ValueError as exc:  # e.g. null bytes on older Pythons
        return None, [Issue("CV101", f"syntax error: {exc}")]
    deep = _too_deep(tree, limits.max_ast_depth)
    if deep is not None:
        return None, [Issue("CV103", f"syntax tree nests deeper than {limits.max_ast_depth} levels",
                            getattr(deep, "lineno", None), getattr(deep, "col_offset", None),
                            hint="split deep expressions into named steps")]
    return tree, []


def _col(offset: int | None) -> int | None:
    return None if offset is None else max(offset - 1, 0)


def _too_large(size: int, limits: Limits) -> Issue:
    return Issue("CV102", f"source is {size} bytes (limit {limits.max_source_bytes})",
                 hint="a reward program is a few checks, not a library")


def _too_deep(tree: ast.AST, max_depth: int) -> ast.AST | None:
    # Iterative so a hostile tree cannot exhaust our own recursion limit.
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return node
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None
