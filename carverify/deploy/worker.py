"""The reward worker: where an accepted program's compiled checks run during training.

Two processes per guard (carverify/deploy/guard.py is the trainer's side):

- the **zygote**, started once: it imports numba, compiles the program for the frame
  type (never calling a check), then only forks workers on request.  It never runs the
  program's code, so no payload can hang it;
- the **worker**, forked from the zygote in ~10 ms with the checks already compiled:
  it maps the frame buffer read-only, lowers its limits (address space, no files, no
  processes, no core dumps, uid nobody when started as root), then answers calls.
  A call that overruns its CPU deadline is ended by the kernel (ITIMER_PROF, default
  action: terminate); the trainer kills one that overruns its wall deadline.  Either
  way the zygote forks a fresh worker and nothing the dead one did survives.

Protocol, all fixed-size binary (no JSON, no pickle on the hot path):

  control  (trainer <-> zygote, one SOCK_SEQPACKET socketpair, JSON messages)
    -> {"op": "load", ...}                      <- {"ok": true, "subtasks": [...], ...}
    -> {"op": "spawn"} + fds (request, reply, shm)  <- {"pid": N}
    -> {"op": "reap", "pid": N}                 <- {"signal": S | null, "code": C | null}
  request  (trainer -> worker pipe)   8 bytes: call number
  reply    (worker -> trainer pipe)   call number, status 0 (done), or status 1 + the
                                      failing check's index + one line "Type: message"
  shm      page 0, written by the worker: byte 0 the index of the check running (so a
           killed call names its check), bytes 8-15 progress (float64), from byte
           VALUES one byte per check; from page 1: the frame, written by the trainer.

All checks run inside one compiled function (`_combined`), so a call costs one numba
dispatch, one setitimer and two pipe messages, whatever the number of checks.
"""
from __future__ import annotations

import ctypes  # imported here: the worker cannot read the stdlib once it is uid nobody
import json
import mmap
import os
import resource
import signal
import socket
import struct
import sys

PAGE = mmap.PAGESIZE
REQUEST = struct.Struct("<Q")
REPLY_HEAD = struct.Struct("<QBB")      # call number, status (0 ok, 1 exception), check index
OK, RAISED = 0, 1
PROGRESS_AT, VALUES_AT = 8, 16     # byte offsets in page 0
MAX_CHECKS = 1024
NOBODY = 65534
MESSAGE_BYTES = 400


def main(argv: list[str] | None = None) -> None:
    """The zygote: python -c BOOT CONTROL_FD OWNER_PID (the owner's pid only labels the process)."""
    argv = sys.argv if argv is None else argv
    sys.stdout = sys.stderr  # a stray print must never reach anything but the diagnostics file
    control = socket.socket(fileno=int(argv[1]))
    request = json.loads(control.recv(1 << 20) or b"{}")
    try:
        program = _load(request)
    except BaseException as exc:  # noqa: BLE001 - anything that stops the compile is the answer
        control.send(json.dumps({"ok": False, "error": _one_line(exc)}).encode())
        return
    control.send(json.dumps({"ok": True, "subtasks": list(program["names"]),
                             "progress": program["progress"] is not None}).encode())
    del program["progress"]
    children: set[int] = set()
    try:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)
            except OSError:
                break
            if not data:
                break  # the trainer closed its end (or died): end every worker with us
            message = json.loads(data)
            if message["op"] == "spawn":
                pid = os.fork()
                if pid == 0:
                    try:
                        control.close()
                        _serve(program, *fds, request)
                    finally:
                        os._exit(0)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                control.send(json.dumps({"pid": pid}).encode())
            elif message["op"] == "reap":
                pid = int(message["pid"])
                control.send(json.dumps(_reap(pid) if pid in children else {"signal": None, "code": None}).encode())
                children.discard(pid)
    finally:
        for pid in children:
            _reap(pid)


def _reap(pid: int) -> dict:
    """Kill (a no-op on a process already dead) and collect one worker: how it ended."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return {"signal": None, "code": None}
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "code": None}
    return {"signal": None, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}


def _load(request: dict) -> dict:
    """Compile every check (and progress) for the frame type, as the audit did; call none."""
    import numba
    import numpy as np

    from carverify.deploy.compiled import compile_accepted, compile_progress, frame_signature

    _zygote_limits(int(request["compile_memory_bytes"]))
    checks = compile_accepted(request["source"], request["sha256"])
    progress = compile_progress(request["source"], request["sha256"])
    signature = frame_signature(np.zeros(tuple(request["shape"]), np.dtype(request["dtype"])))
    dispatchers = [check.dispatcher for check in checks.values()]
    if len(dispatchers) > MAX_CHECKS:
        raise ValueError(f"{len(dispatchers)} sub-tasks; the reward worker takes at most {MAX_CHECKS}")
    combined = _combined(dispatchers, None if progress is None else progress.dispatcher)
    page = np.zeros(PAGE, np.uint8)
    combined.compile(signature + (numba.typeof(page), numba.typeof(np.zeros(1)), numba.typeof(page)))
    return {"names": tuple(checks), "run": combined, "progress": progress}


def _combined(checks: list, progress):
    """One jitted function calling every check in order, recording which one runs.

    Its parameters and names start with __cv_, which no program may spell (CV209), so a
    sub-task called `status` or `out` cannot collide with them.
    """
    import numba

    from sandbox.native import JIT_OPTIONS

    namespace = {f"__cv_check{i}": check for i, check in enumerate(checks)}
    lines = ["def __cv_all(__cv_obs, __cv_status, __cv_progress, __cv_values):"]
    for i in range(len(checks)):
        lines += [f"    __cv_status[0] = {i}",
                  f"    __cv_values[{i}] = 1 if __cv_check{i}(__cv_obs) else 0"]
    if progress is not None:
        namespace["__cv_progress_fn"] = progress
        lines += [f"    __cv_status[0] = {len(checks)}",
                  "    __cv_progress[0] = float(__cv_progress_fn(__cv_obs))"]
    lines.append("    return 0")
    exec(compile("\n".join(lines) + "\n", "<carverify reward worker>", "exec"), namespace)  # noqa: S102 - our source
    return numba.njit(**JIT_OPTIONS)(namespace["__cv_all"])


def _zygote_limits(memory: int) -> None:
    # numba/LLVM need far more address space than the checks: the sandbox's compile limit.
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _serve(program: dict, request_fd: int, reply_fd: int, shm_fd: int, settings: dict) -> None:
    """The worker's life: set up, lower limits, answer calls until the trainer closes the pipe."""
    import numpy as np

    zygote = os.getppid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    shape, dtype = tuple(settings["shape"]), np.dtype(settings["dtype"])
    size = int(np.prod(shape)) * dtype.itemsize
    page = mmap.mmap(shm_fd, PAGE, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
    frames = mmap.mmap(shm_fd, max(size, 1), flags=mmap.MAP_SHARED, prot=mmap.PROT_READ, offset=PAGE)
    os.close(shm_fd)
    frame = np.frombuffer(frames, dtype=dtype, count=int(np.prod(shape))).reshape(shape)  # read-only
    status = np.frombuffer(page, np.uint8)
    progress = np.frombuffer(page, np.float64, count=1, offset=PROGRESS_AT)
    values = np.frombuffer(page, np.uint8, count=len(program["names"]), offset=VALUES_AT)
    _worker_limits(int(settings["memory_bytes"]), zygote)
    run = program["run"]
    cpu = float(settings["cpu_seconds"])
    signal.signal(signal.SIGPROF, signal.SIG_DFL)   # a call over its CPU deadline ends the process
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # Ctrl-C is the trainer's to handle
    while True:
        head = os.read(request_fd, REQUEST.size)
        if len(head) < REQUEST.size:
            return  # the trainer closed the pipe
        (number,) = REQUEST.unpack(head)
        # Re-armed, never disarmed: an idle worker blocked in read() uses no CPU time.
        signal.setitimer(signal.ITIMER_PROF, cpu)
        try:
            run(frame, status, progress, values)
            reply = REPLY_HEAD.pack(number, OK, 0)
        except BaseException as exc:  # noqa: BLE001 - whatever compiled code raises is a fault to report
            reply = REPLY_HEAD.pack(number, RAISED, int(status[0])) + \
                _one_line(exc).encode("utf-8", "replace")[:MESSAGE_BYTES]
        os.write(reply_fd, reply)


def _worker_limits(memory: int, zygote: int) -> None:
    """The sandbox child's limits, for a process that lives as long as training.

    Address space: what the worker already maps plus `memory` (the sandbox's 1 GiB by
    default), so an allocation over it fails with MemoryError.  CPU: the per-call
    ITIMER_PROF deadline instead of a lifetime total.  No files, processes or core dumps,
    and uid nobody when the trainer runs as root.
    """
    with open("/proc/self/statm", "rb") as f:
        mapped = int(f.read().split()[0]) * PAGE
    resource.setrlimit(resource.RLIMIT_AS, (mapped + memory, mapped + memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    _die_with_parent(zygote)


def _die_with_parent(zygote: int) -> None:
    # After the uid change: changing credentials clears the parent-death signal.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != zygote:
        os._exit(0)  # the zygote is already gone


def _one_line(exc: BaseException) -> str:
    try:
        text = " ".join(str(exc).split())
    except BaseException:  # noqa: BLE001 - a hostile value may not even format
        text = ""
    name = type(exc).__name__
    return f"{name}: {text}"[:MESSAGE_BYTES] if text else name


if __name__ == "__main__":
    main()
