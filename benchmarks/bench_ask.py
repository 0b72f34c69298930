"""Answer latency: warm `ask` over a gold set, and the cold start of one `reviewbot ask`.

Run on demand:  .venv/bin/python benchmarks/bench_ask.py [--gold tests/gold/seeds.jsonl]
[--dvd N] [--imdb N] [--fast-index] [--threads N] [--cold N] [--slowest N]
[--keep DIR] [--json]

The seed reviews are indexed, with ``--dvd`` / ``--imdb`` the first N reviews of Webis-CLS-10
German DVD and of IMDb beside them (about 1.3 and 2 chunks a review), so the questions are
answered against a larger corpus. The data is read from ``../shared/data`` and written only to
a temporary folder (or to ``--keep DIR``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from index.embedding import ReviewEmbedder, create_embedder

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SEEDS = DATA / "seeds"
DVD = DATA / "webis_cls10" / "de_dvd.jsonl"
IMDB = DATA / "imdb" / "imdb_50k_labeled.jsonl.gz"


class IndexTimeHashEmbedder(ReviewEmbedder):
    """The real embedder, except that passages get hashed word vectors while ``hashing``.

    Indexing thousands of chunks (and their sentences) with the real model takes an hour on
    one thread; hashed vectors take seconds. Questions are then embedded, searched and ranked
    by the real model over the same number of stored vectors, so the time an answer takes is
    the real one, though what it finds means nothing.
    """

    def __init__(self, inner: ReviewEmbedder) -> None:
        self._inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.hashing = True

    def _hashed(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in re.findall(r"\w+", text.lower()):
            code = zlib.crc32(word.encode())
            vector[code % self.dimension] += 1.0 if code & 1 << 31 else -1.0
        norm = sum(x * x for x in vector) ** 0.5 or 1.0
        return [x / norm for x in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.hashing:
            return [self._hashed(text) for text in texts]
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def dvd_records(count: int) -> Iterator[dict[str, Any]]:
    with DVD.open(encoding="utf-8") as lines:
        for row in islice((json.loads(line) for line in lines if line.strip()), count):
            yield {"id": row["id"], "title": row["title_normalized"], "text": row["text"]}


def imdb_records(count: int) -> Iterator[dict[str, Any]]:
    with gzip.open(IMDB, "rt", encoding="utf-8") as lines:
        for row in islice((json.loads(line) for line in lines if line.strip()), count):
            title = row["title"] or row["imdb_title_id"]
            yield {"id": row["id"], "title": title, "language": "en", "text": row["text"]}


def write_corpus(folder: Path, *, seeds: Path, dvd: int, imdb: int) -> Path:
    """The seed reviews, and the extra reviews as one JSON Lines file per source."""
    corpus = folder / "reviews"
    corpus.mkdir(parents=True)
    for seed in sorted(seeds.iterdir()):
        if seed.is_file():
            (corpus / seed.name).write_bytes(seed.read_bytes())
    for name, records in (("de_dvd.jsonl", dvd_records(dvd)), ("imdb.jsonl", imdb_records(imdb))):
        lines = [json.dumps(record, ensure_ascii=False) + "\n" for record in records]
        if lines:
            (corpus / name).write_text("".join(lines), encoding="utf-8")
    return corpus


def cold_seconds(data: Path, runs: int) -> float | None:
    """Median wall time of ``reviewbot ask`` processes (imports, model load, answer)."""
    if runs < 1:
        return None
    env = {**os.environ, "REVIEWBOT_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "bot", "ask", "Wer hat bei Ballerina Regie geführt?"]
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--gold", type=Path, default=REPO / "tests" / "gold" / "seeds.jsonl")
    parser.add_argument("--seeds", type=Path, default=SEEDS, help="the reviews always indexed")
    parser.add_argument("--dvd", type=int, default=0, help="add the first N German DVD reviews")
    parser.add_argument("--imdb", type=int, default=0, help="add the first N IMDb reviews")
    parser.add_argument(
        "--fast-index",
        action="store_true",
        help="index with hashed word vectors for chunks and sentences (questions still use "
        "the real embedder): real latency, meaningless answers",
    )
    parser.add_argument("--threads", type=int, default=1, help="embedder threads (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    parser.add_argument("--cold", type=int, default=3, help="cold `reviewbot ask` processes")
    parser.add_argument(
        "--slowest",
        type=int,
        default=0,
        help="also print the N slowest questions (by median warm time) and their answers' kind",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="write the reviews and the index into this folder and keep them; a later run "
        "with the same folder indexes only what changed (for profiling a large index)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.fast_index and args.cold:
        parser.error("--fast-index: a cold process would embed with the real model; add --cold 0")

    from bot.service import ReviewService
    from bot.settings import Settings

    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        corpus = folder / "reviews"
        if not corpus.exists():
            write_corpus(folder, seeds=args.seeds, dvd=args.dvd, imdb=args.imdb)
        data = folder / "data"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=data, embed_threads=args.threads
        )
        real = create_embedder(settings.embedder, threads=args.threads)
        embedder = IndexTimeHashEmbedder(real) if args.fast_index else real
        service = ReviewService(settings, embedder=embedder)
        started = time.perf_counter()
        report = service.index([corpus])
        index_seconds = time.perf_counter() - started
        if isinstance(embedder, IndexTimeHashEmbedder):
            embedder.hashing = False
        gold = [json.loads(line) for line in args.gold.read_text().splitlines() if line.strip()]
        questions = [row["question"] for row in gold]
        service.ask(questions[0])  # load the keyword index, the sentence splitter, the ranker
        timings: list[float] = []
        per_question: dict[str, list[float]] = {}
        kinds: dict[str, str] = {}
        for _ in range(args.rounds):
            for question in questions:
                started = time.perf_counter()
                answer = service.ask(question)
                elapsed = (time.perf_counter() - started) * 1000
                timings.append(elapsed)
                per_question.setdefault(question, []).append(elapsed)
                kinds[question] = answer.kind
        cold = cold_seconds(data, args.cold)

    figures = {
        "reviews": len(report.added),
        "chunks": report.chunks_embedded,
        "sentences": report.sentences_embedded,
        "index_vectors": "hashed" if args.fast_index else embedder.name,
        "index_s": round(index_seconds, 1),
        "questions": len(timings),
        "warm_p50_ms": round(statistics.median(timings), 1),
        "warm_p95_ms": round(percentile(timings, 0.95), 1),
        "warm_max_ms": round(max(timings), 1),
        "cold_process_s": cold,
    }
    slowest = sorted(per_question.items(), key=lambda item: -statistics.median(item[1]))
    slowest = slowest[: args.slowest]
    if args.json:
        if slowest:
            figures["slowest"] = [
                {
                    "question": q,
                    "median_ms": round(statistics.median(ms), 1),
                    "max_ms": round(max(ms), 1),
                    "kind": kinds[q],
                }
                for q, ms in slowest
            ]
        print(json.dumps(figures, ensure_ascii=False))
        return
    for name, value in figures.items():
        print(f"{name:>16}: {value}")
    if slowest:
        print(f"slowest {len(slowest)} questions (median and max ms over the rounds, answer kind):")
    for question, ms in slowest:
        print(f"{statistics.median(ms):8.1f} {max(ms):8.1f}  {kinds[question]:<10}  {question}")


if __name__ == "__main__":
    main()
