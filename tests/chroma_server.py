"""A real `chroma run` server on a loopback port, for tests that share one store."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port


@contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    """Run a Chroma server storing into ``folder``; yields its URL, stops it afterwards."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder.parent / f"{folder.name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [chroma, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, process, log_path)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("chroma run did not start: " + log_path.read_text()) from None
            time.sleep(0.2)
