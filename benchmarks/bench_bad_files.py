"""Worst-case files under the size limit: how long reading, metadata, works and chunking take.

Run from the repo root: ``.venv/bin/python benchmarks/bench_bad_files.py [--mb 5] [--case NAME]
[--timeout 600] [--json]``. Each case builds one adversarial file of about ``--mb`` megabytes in
a temporary folder and times, in a child process with a time limit, the steps before embedding:
``load_file`` (read, decode, parse the format), ``parse_review`` for every record,
``assign_works`` and ``chunk_review`` for every review. It also prints the number of chunks and
what embedding them would cost at 0.19 CPU-seconds per chunk (the default embedder, one thread).
Nothing is embedded or stored.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from index.decoding import DEFAULT_MAX_FILE_BYTES

EMBED_CPU_SECONDS_PER_CHUNK = 0.19
_PROSE = (
    "Der Film erzählt von einer Frau, die nach dem Tod ihrer Freundin den Täter sucht "
    "und dabei auf eine Bande stößt, die ihr das Leben schwer macht"
)


def _repeat_to(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit.encode("utf-8")))


def _one_line_prose(size: int) -> tuple[str, str]:
    """Sentences on a single line, no line break anywhere."""
    return "one-line.txt", _repeat_to(_PROSE + ". ", size)


def _one_sentence(size: int) -> tuple[str, str]:
    """Words with spaces but no sentence end and no line break: one endless sentence."""
    return "one-sentence.txt", _repeat_to(_PROSE.replace(",", "") + " ", size)


def _one_word(size: int) -> tuple[str, str]:
    """No whitespace at all."""
    return "one-word.txt", "a" * size


def _short_lines(size: int) -> tuple[str, str]:
    """A short prose line after another."""
    return "short-lines.txt", _repeat_to("Gut gemacht.\n", size)


def _header_lines(size: int) -> tuple[str, str]:
    """Every line looks like a header field."""
    return "header-lines.txt", "Titel: Film\n" + _repeat_to("Regie: Len Wiseman\n", size)


def _separators(size: int) -> tuple[str, str]:
    """One line of ``key: value`` fields joined by ``__``."""
    return "separators.txt", _repeat_to("Regie: Len Wiseman__", size)


def _csv_tiny_rows(size: int) -> tuple[str, str]:
    """Many one-word reviews: a record per 13 bytes."""
    rows = (f"{n},Gut\n" for n in range(size // 9))
    return "tiny-rows.csv", "id,text\n" + "".join(rows)


def _jsonl_tiny_records(size: int) -> tuple[str, str]:
    """Many one-word JSON Lines records."""
    return "tiny-records.jsonl", _repeat_to('{"text": "Gut"}\n', size)


def _same_title_rows(size: int) -> tuple[str, str]:
    """Many reviews of one title, each with its own director: as many works of that title."""
    rows = (f"{n},Ballerina,Regisseur {n},Gut\n" for n in range(size // 32))
    return "same-title.csv", "id,title,director,text\n" + "".join(rows)


def _untitled_rows(size: int) -> tuple[str, str]:
    """Titled reviews and as many without a title that mention the film: attach by evidence."""
    count = size // 90
    titled = (f"t{n},Ballerina {n % 50},Okju trifft Minhee Choi\n" for n in range(count // 2))
    untitled = (f"u{n},,In Ballerina {n % 50} treffen Okju und Minhee Choi\n" for n in range(count))
    return "untitled.csv", "id,title,text\n" + "".join(titled) + "".join(untitled)


CASES: dict[str, Callable[[int], tuple[str, str]]] = {
    "one-line": _one_line_prose,
    "one-sentence": _one_sentence,
    "one-word": _one_word,
    "short-lines": _short_lines,
    "header-lines": _header_lines,
    "separators": _separators,
    "csv-tiny-rows": _csv_tiny_rows,
    "jsonl-tiny-records": _jsonl_tiny_records,
    "same-title-rows": _same_title_rows,
    "untitled-rows": _untitled_rows,
}


def _emit(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


def run_case(name: str, size: int) -> None:
    """Child process: build the file, time each step and print one JSON line per step."""
    from index.chunking import chunk_review
    from index.loading import load_file
    from index.metadata import parse_review
    from index.works import assign_works

    with tempfile.TemporaryDirectory() as folder:
        file_name, content = CASES[name](size)
        path = Path(folder, file_name)
        path.write_text(content, encoding="utf-8")
        _emit({"step": "size", "bytes": path.stat().st_size})
        started = time.perf_counter()
        loaded = load_file(path, root=Path(folder), max_bytes=max(size * 2, 1))
        _emit({"step": "load", "seconds": time.perf_counter() - started})
        started = time.perf_counter()
        reviews = [parse_review(record) for record in loaded.records]
        _emit({"step": "metadata", "seconds": time.perf_counter() - started})
        started = time.perf_counter()
        assign_works(reviews)
        _emit({"step": "works", "seconds": time.perf_counter() - started})
        started = time.perf_counter()
        chunks = sum(len(chunk_review(review)) for review in reviews)
        _emit({"step": "chunks", "seconds": time.perf_counter() - started, "chunks": chunks})
        _emit({"step": "records", "count": len(reviews)})


def measure(name: str, size: int, timeout: float) -> dict[str, object]:
    """Run one case in a child process; steps it did not finish in time are missing."""
    command = [sys.executable, __file__, "--worker", name, "--bytes", str(size)]
    result: dict[str, object] = {"case": name}
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        output, timed_out = completed.stdout, False
    except subprocess.TimeoutExpired as expired:
        raw = expired.stdout or b""
        output = raw.decode() if isinstance(raw, bytes) else raw
        timed_out = True
    for line in output.splitlines():
        step = json.loads(line)
        name_of_step = step.pop("step")
        result.update({f"{name_of_step}_{key}": value for key, value in step.items()})
    result["timed_out"] = timed_out
    seconds = [v for k, v in result.items() if k.endswith("_seconds") and isinstance(v, float)]
    result["total_seconds"] = round(sum(seconds), 2)
    chunks = result.get("chunks_chunks")
    if isinstance(chunks, int):
        result["embed_cpu_seconds"] = round(chunks * EMBED_CPU_SECONDS_PER_CHUNK)
    return result


def _row(result: dict[str, object]) -> str:
    def seconds(step: str) -> str:
        value = result.get(f"{step}_seconds")
        return f"{value:9.2f}" if isinstance(value, float) else "        -"

    status = f"  > timeout at {result['total_seconds']} s" if result["timed_out"] else ""
    size = result.get("size_bytes")
    megabytes = size / 1e6 if isinstance(size, int) else 0.0
    return (
        f"{result['case']:<20}{megabytes:7.1f}"
        f"{result.get('records_count', '-'):>9}"
        f"{seconds('load')}{seconds('metadata')}{seconds('works')}{seconds('chunks')}"
        f"{result.get('chunks_chunks', '-'):>9}"
        f"{result.get('embed_cpu_seconds', '-'):>10}{status}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MAX_FILE_BYTES / 1024 / 1024)
    parser.add_argument("--case", action="append", choices=sorted(CASES))
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_case(args.worker, args.bytes)
        return
    size = int(args.mb * 1024 * 1024)
    if not args.json:
        print(
            f"{'case':<20}{'MB':>7}{'records':>9}{'load s':>9}{'meta s':>9}{'works s':>9}"
            f"{'chunk s':>9}{'chunks':>9}{'embed s':>10}"
        )
    for name in args.case or list(CASES):
        result = measure(name, size, args.timeout)
        print(json.dumps(result) if args.json else _row(result), flush=True)


if __name__ == "__main__":
    main()
