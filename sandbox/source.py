"""First layer: a bounded read of the program file; size, encoding and depth caps, then ast.parse."""
from __future__ import annotations

import ast
import os
import stat

from sandbox.issue import Issue
from sandbox.limits import Limits


class UnreadableSource(ValueError):
    """The program path names nothing a program could be read from; the message is one line."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_source(path: str | os.PathLike, limits: Limits = Limits()) -> bytes:
    """At most `max_source_bytes + 1` bytes of a regular file: enough for parse_source to see it is too large.

    A 4 GB "program" must cost 64 KiB of memory, not 4 GB; a FIFO or /dev/zero must not block
    or stream forever.  The file is checked with stat before it is opened, and again (fstat)
    once open, in case it was swapped in between.
    """
    try:
        _require_regular(path, os.stat(path).st_mode)
        # O_NONBLOCK: opening a FIFO that slipped in after the stat must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UnreadableSource(f"cannot read {os.fspath(path)}: no such file") from None
    except OSError as exc:
        raise UnreadableSource(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    try:
        _require_regular(path, os.fstat(fd).st_mode)
        chunks, wanted = [], limits.max_source_bytes + 1
        while wanted > 0:
            chunk = os.read(fd, min(wanted, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableSource(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _require_regular(path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise UnreadableSource(f"cannot read {os.fspath(path)}: it is {kind}, not a regular file "
                           "(a reward program is a .py file)")


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
        return None, [_not_utf8(source, exc.start)]
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
    # read_source stops one byte past the cap, so that size means "more than the cap", not a count.
    what = f"more than {limits.max_source_bytes}" if size == limits.max_source_bytes + 1 else str(size)
    return Issue("CV102", f"source is {what} bytes (limit {limits.max_source_bytes})",
                 hint="a reward program is a few checks, not a library")


def _not_utf8(source: str, start: int) -> Issue:
    """Where the first undecodable byte or character is, in words a user can act on."""
    line = source.count("\n", 0, start) + 1
    col = start - (source.rfind("\n", 0, start) + 1)
    char = source[start]
    if "\udc80" <= char <= "\udcff":  # a byte the file's decoding could not read (surrogateescape)
        what = f"byte 0x{ord(char) - 0xdc00:02x}"
    else:
        what = f"character U+{ord(char):04X}, which no UTF-8 file can hold"
    return Issue("CV104", f"source is not valid UTF-8: {what} at line {line}, column {col + 1}",
                 line=line, col=col, hint="save the program as UTF-8 text")


def _too_deep(tree: ast.AST, max_depth: int) -> ast.AST | None:
    # Iterative so a hostile tree cannot exhaust our own recursion limit.
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return node
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None
