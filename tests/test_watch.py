"""`reviewbot watch` re-indexes by itself when review files come and go."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import SEEDS


def test_watch_indexes_added_and_deleted_files(tmp_path: Path) -> None:
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "a.txt").write_text("Titel: Kaltfront\n\nEin dichter Krimi.", encoding="utf-8")
    env = {**os.environ, "REVIEWBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    lines: queue.Queue[str] = queue.Queue()

    with subprocess.Popen(
        [sys.executable, "-m", "bot", "watch", str(folder), "--debounce", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        output = process.stdout

        def read_lines() -> None:
            for line in output:
                lines.put(line)

        threading.Thread(target=read_lines, daemon=True).start()

        seen: list[str] = []

        def wait_for(text: str) -> str:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                seen.append(line)
                if text in line:
                    return line
            raise AssertionError(f"watch never printed {text!r}; it printed {seen}")

        try:
            wait_for("1 added")
            wait_for("watching")
            time.sleep(2)  # the file watcher starts just after the line is printed
            (folder / "b.txt").write_text((SEEDS.iterdir().__next__()).read_text(), "utf-8")
            wait_for("1 added")
            # Poisoned files are those files' failures or repairs; the watcher goes on.
            (folder / "tief.json").write_text("[" * 100_000, "utf-8")
            (folder / "kaputt.json").write_text('{"text": "Kaputt \\ud83d hier."}', "utf-8")
            wait_for("failed: ")
            wait_for("note: ")
            (folder / "a.txt").unlink()
            wait_for("1 removed")
            assert process.poll() is None
            assert not any("Traceback" in line for line in seen)
        finally:
            process.terminate()
            process.wait(timeout=20)
