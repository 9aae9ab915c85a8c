"""llama.cpp's OpenAI-compatible server on loopback, for `generate --provider local`.

    with LocalServer(model_file, alias) as server:     # started, answering, or ProviderError
        provider = LocalProvider(server)                # the same openai client, text only
    # always stopped here, whatever happened inside

Every failure is one line (ProviderError, exit 3): the runtime missing, a port in use,
a server that exits or never answers, a server that dies mid-generation.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from carverify.generate.providers import OpenAIProvider, ProviderError

READY_TIMEOUT = 120.0        # loading 1.1 GB from a cold disk on a busy machine
STATUS_AFTER = 2.0
# A whole program is 40-120 lines; without a cap a small model that loops runs to n_ctx.
MAX_TOKENS = 2048           # a wait longer than this prints a status line
_RUNTIME_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def runtime_missing() -> str | None:
    """The first module of carverify[local] that is not installed, or None."""
    return next((m for m in _RUNTIME_MODULES if importlib.util.find_spec(m) is None), None)


def llama_command(model_file: Path, alias: str, port: int, threads: int, context: int) -> list[str]:
    missing = runtime_missing()
    if missing:
        raise ProviderError(f"the local runtime is not installed (no module {missing}) — "
                            "pip install 'carverify[local]'")
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_file), "--model_alias", alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(context)]


class LocalServer:
    def __init__(self, model_file: Path, alias: str, *, port: int | None = None, threads: int = 2,
                 context: int = 8192, status=None, ready_timeout: float = READY_TIMEOUT):
        self.model_file, self.alias = Path(model_file), alias
        self.port, self.threads, self.context = port, threads, context
        self.status = status or (lambda text: None)
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        if self.port is None:
            self.port = free_port()
        elif port_in_use(self.port):
            raise ProviderError(f"port {self.port} on 127.0.0.1 is in use — choose another with --port, "
                                "or leave it out for a free one")
        command = llama_command(self.model_file, self.alias, self.port, self.threads, self.context)
        fd, log = tempfile.mkstemp(prefix="carverify-llama-", suffix=".log")
        self.log_path = Path(log)
        # Passive waiting: on a busy machine, OpenMP threads spinning at every barrier slowed
        # prompt processing tenfold (measured: 973 prompt tokens took 105 s at load 8 on 2 cores).
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "OMP_WAIT_POLICY": "PASSIVE"}
        with os.fdopen(fd, "wb") as out:
            # Its own session, so stopping it also stops anything it started.
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                            env=env, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        start = time.monotonic()
        said = False
        while True:
            self.check_alive("before it was ready")
            if self._answers():
                return
            waited = time.monotonic() - start
            if waited > STATUS_AFTER and not said:
                self.status(f"local: loading {self.model_file.name} into llama.cpp's server on 127.0.0.1:{self.port}")
                said = True
            if waited > self.ready_timeout:
                raise ProviderError(f"the local llama.cpp server did not answer on 127.0.0.1:{self.port} "
                                    f"within {self.ready_timeout:g} s{self._last_words()}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def check_alive(self, when: str = "during generation", grace: float = 0.0) -> None:
        """ProviderError naming the exit if the server is gone (after up to `grace` s of dying)."""
        if self.process is not None and grace > 0:
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            raise ProviderError(f"the local llama.cpp server exited {when} "
                                f"({_exit_words(code)}){self._last_words()}")

    def _last_words(self) -> str:
        if self.log_path is None:
            return ""
        try:
            lines = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return f": {lines[-1][:200]}" if lines else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if carverify is killed outright (SIGKILL),
    so not even a crash leaves a 2 GB server behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def stop_on_sigterm() -> None:
    """A SIGTERM (a job killed, a CI timeout) unwinds the stack, so `with LocalServer` stops it."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _exit_words(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


class LocalProvider(OpenAIProvider):
    """The openai provider pointed at a LocalServer; text only; a dead server is named as such."""

    name = "local"

    def __init__(self, server: LocalServer, *, timeout: float = 600.0, max_retries: int = 0,
                 sampling: dict | None = None):
        super().__init__(base_url=server.base_url, api_key="local", timeout=timeout, max_retries=max_retries,
                         images=False, sampling={"max_tokens": MAX_TOKENS, **(sampling or {})})
        self.server = server
        self.context_tokens = server.context   # the loop leaves out old rounds to stay inside it

    def complete(self, messages, *, model):
        self.server.check_alive()
        try:
            return super().complete(messages, model=model)
        except ProviderError:
            # The real cause, if the server died under the request (a dropped connection
            # arrives a moment before the exit status).
            self.server.check_alive(grace=2.0)
            raise
