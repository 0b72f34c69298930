"""Choose the thresholds of bot/engine/aspects.py on a dev set and write them to aspects.json.

Data, from ../shared/data (never copied into the project): sentences of Webis-CLS-10 German
and English DVD reviews (``--per-language`` reviews of each, sampled with a fixed seed from
the TEST split, which the polarity head never fitted on) and of the three seed reviews.

Labels. A sentence is labelled "about" a seed aspect when it contains one of that aspect's
label words (``LABEL_WORDS`` below: the seed phrases' nouns, their German compounds and
plural forms), and "not about" it otherwise. Nobody read the sentences one by one: the labels
are a word rule, independent of the embedder. The rule is noisy both ways ("am Ende" is
"in the end", not the ending; "the colors seem a bit too jacked up" is about the picture
without any label word), so every (sentence, aspect) pair the scores return near and above
the threshold was also read, and where the reader disagreed with the rule the reading is
listed in ``READ`` and wins. Pairs below the threshold were not read: the recall printed is
against the rule only.

Split: reviews go to dev or test by a hash of their id (the seeds to dev), so no review has
sentences on both sides. ``about_threshold`` is the lowest score on a grid at which the
precision of ``about`` over all seed aspects on dev reaches ``TARGET_PRECISION``.
``ask_threshold`` is chosen on the dev questions of ``QUESTIONS`` (written for this script:
aspect questions in German and English, questions about aspects outside the seeds, and
verdict questions) as the middle of the widest threshold interval with the best dev accuracy.
Test figures are printed and written, never used to choose.

The ``answering`` block of the data file (how many sentences an aspect answer quotes, from
which score) is not written here: it was chosen on the dev aspect questions of
``tests/gold/opinions.jsonl`` over the indexed corpora, and a run keeps it as it is.

Run: ``.venv/bin/python scripts/fit_aspects.py`` (about four minutes on one core: embedding).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.engine.aspects import ASPECTS_FILE, AspectData, AspectFinder, AspectQuery  # noqa: E402
from index.chunking import split_sentences  # noqa: E402
from index.embedding import create_embedder  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TARGET_PRECISION = 0.87  # the 0.85 the answers need, and a margin for test
MIN_RAISE_PAIRS = 10
SEED = 11
MIN_CHARS, MAX_CHARS = 20, 400

LABEL_WORDS: dict[str, str] = {
    "story": r"handlung|\bgeschichte\b|\bstory|\bplot|drehbuch|storyline|\bscript|screenplay",
    "acting": r"schauspiel|darsteller|besetzung|\bact(?:ing|or|ors|ress|resses)\b"
    r"|\bperformance|\bcast\b",
    "music": r"musik|soundtrack|\bscore\b|komponi|\bsongs?\b|\blied(?:er)?\b|\bmusic|compose",
    "camera": r"kamera|cinematograph|photograph|bildsprache|\bcamera",
    "action": r"action|kampf|kämpf|schießerei|schiesserei|verfolgungsjagd|\bfight|shootout"
    r"|gunfight|\bchases?\b|\bstunts?\b",
    "effects": r"effekt|\bcgi\b|\bspecial effects?|\bvisual effects?|\beffects\b|\bfx\b",
    "ending": r"\bende\b|\bschluss\b|\bfinale|showdown|auflösung|\bending|\bends\b",
    "picture": r"bildqualität|\bbild\b|\bbildes\b|bildformat|widescreen|anamorph|\bschärfe"
    r"|\btransfer|\bpicture quality|\bimage quality|\bvideo quality|\bhd\b|1080|aspect ratio"
    r"|full ?screen",
    "sound": r"\bton\b|\btons\b|tonqualität|tonspur|dolby|\bdts\b|5\.1|\bsound|\baudio"
    r"|surround|stereo",
    "extras": r"\bextras?\b|bonus|making[- ]of|featurette|kommentar|commentary"
    r"|special features|deleted scenes",
    "dubbing": r"synchro|untertitel|sprachfassung|originalton|o-ton|originalfassung"
    r"|\bdubb|subtitle|\bvoice|language track",
    "humour": r"humor|humour|witz|lustig|komisch|komik|\bgags?\b|funny|\bjokes?\b|hilarious"
    r"|\blaugh",
}

# Where a reader disagreed with the word rule: (sentence, aspect, about it). Read were, on
# dev, every pair scoring 0.036 or above (224 pairs; the rule was wrong on 30); on test, after
# the thresholds were chosen, every pair scoring 0.042 or above (102; wrong on 13). Also read:
# the pairs a variant with each seed's scores scaled by their spread returned (dev 24, wrong
# on 6; test 61, wrong on 9); on dev it returned fewer sentences at the target, so it was
# dropped.
READ: list[tuple[str, str, bool]] = [
    ("webis-cls10-de-dvd-test-0378#9", "music", False),
    ("webis-cls10-de-dvd-test-0914#5", "music", False),
    ("webis-cls10-de-dvd-test-0400#5", "music", False),
    ("webis-cls10-de-dvd-test-0400#7", "music", False),
    ("webis-cls10-de-dvd-test-0689#24", "camera", False),
    ("000_20005b48146ddf91.txt#37", "music", False),
    ("webis-cls10-de-dvd-test-1646#31", "dubbing", True),
    ("webis-cls10-de-dvd-test-0122#8", "acting", True),
    ("webis-cls10-de-dvd-test-0238#8", "dubbing", True),
    ("webis-cls10-de-dvd-test-0153#0", "acting", True),
    ("webis-cls10-en-dvd-test-1826#6", "camera", True),
    ("webis-cls10-en-dvd-test-1653#34", "music", True),
    ("webis-cls10-en-dvd-test-1653#35", "music", True),
    ("webis-cls10-en-dvd-test-0914#3", "camera", False),
    ("webis-cls10-en-dvd-test-0447#11", "camera", False),
    ("webis-cls10-en-dvd-test-0061#2", "ending", True),
    ("webis-cls10-en-dvd-test-1702#2", "picture", True),
    ("webis-cls10-de-dvd-test-1853#13", "picture", True),
    ("webis-cls10-en-dvd-test-1752#4", "camera", True),
    ("webis-cls10-de-dvd-test-1496#13", "acting", True),
    ("webis-cls10-en-dvd-test-0718#4", "ending", True),
    ("webis-cls10-de-dvd-test-1258#18", "extras", True),
    ("webis-cls10-de-dvd-test-0928#11", "sound", True),
    ("webis-cls10-de-dvd-test-0928#6", "sound", True),
    ("webis-cls10-de-dvd-test-1646#10", "extras", False),
    ("webis-cls10-de-dvd-test-1686#2", "sound", False),
    ("webis-cls10-en-dvd-test-0575#2", "action", False),
    ("webis-cls10-en-dvd-test-1653#11", "sound", False),
    ("webis-cls10-en-dvd-test-1714#15", "picture", True),
    ("webis-cls10-en-dvd-test-1863#8", "humour", True),
    ("webis-cls10-en-dvd-test-1309#11", "picture", True),
    ("webis-cls10-en-dvd-test-1621#2", "humour", True),
    ("webis-cls10-en-dvd-test-0173#38", "story", True),
    ("webis-cls10-en-dvd-test-1150#60", "picture", True),
    ("webis-cls10-en-dvd-test-0365#10", "humour", True),
    ("webis-cls10-en-dvd-test-1646#1", "picture", True),
    ("webis-cls10-en-dvd-test-1491#0", "humour", True),
    ("webis-cls10-en-dvd-test-1936#19", "humour", True),
    ("webis-cls10-de-dvd-test-0859#5", "sound", True),
    ("webis-cls10-en-dvd-test-0346#7", "picture", True),
    ("webis-cls10-en-dvd-test-1310#1", "picture", True),
    ("webis-cls10-en-dvd-test-1356#8", "humour", True),
    ("webis-cls10-de-dvd-test-0790#2", "dubbing", True),
    ("webis-cls10-de-dvd-test-1257#10", "sound", True),
    ("webis-cls10-de-dvd-test-1515#28", "picture", True),
    ("webis-cls10-de-dvd-test-1257#8", "dubbing", True),
    ("webis-cls10-en-dvd-test-0458#1", "acting", True),
    ("webis-cls10-en-dvd-test-0159#0", "story", True),
    ("002_8bc465d4c9f8ae35.txt#39", "ending", True),
    ("webis-cls10-en-dvd-test-0045#11", "humour", True),
    ("webis-cls10-de-dvd-test-0859#1", "sound", True),
    ("webis-cls10-en-dvd-test-1863#3", "story", True),
    ("webis-cls10-de-dvd-test-1898#12", "ending", False),
    ("001_404a93345931fd65.txt#15", "ending", False),
    ("webis-cls10-en-dvd-test-0266#1", "humour", False),
    ("webis-cls10-de-dvd-test-0400#18", "ending", False),
    ("webis-cls10-en-dvd-test-1150#42", "acting", False),
    ("webis-cls10-de-dvd-test-0839#0", "effects", False),
]

# (question, language, title in the question, expected key: a seed key, "other" for an
# aspect outside the seeds, None for a verdict question, split)
QUESTIONS: list[tuple[str, str, str, str | None, str]] = [
    ("Wie ist die Musik in Ballerina?", "de", "Ballerina", "music", "dev"),
    ("What do critics say about the acting?", "en", "", "acting", "dev"),
    ("Taugt die Bildqualität der DVD?", "de", "", "picture", "dev"),
    ("How is the soundtrack of Heat?", "en", "Heat", "music", "dev"),
    ("Was sagen die Kritiker zur Handlung von Matrix?", "de", "Matrix", "story", "dev"),
    ("Is the story of Inception any good?", "en", "Inception", "story", "dev"),
    ("Wie spielen die Schauspieler in Ballerina?", "de", "Ballerina", "acting", "dev"),
    ("How good is the camera work in Drive?", "en", "Drive", "camera", "dev"),
    ("Wie sind die Actionszenen in John Wick?", "de", "John Wick", "action", "dev"),
    ("Are the fight scenes in The Raid worth it?", "en", "The Raid", "action", "dev"),
    ("Wie sind die Spezialeffekte in Avatar?", "de", "Avatar", "effects", "dev"),
    ("What do reviewers think of the ending of Se7en?", "en", "Se7en", "ending", "dev"),
    ("Wie ist der Ton auf der Blu-ray?", "de", "", "sound", "dev"),
    ("What extras are on the DVD?", "en", "", "extras", "dev"),
    ("Wie ist die deutsche Synchronisation?", "de", "", "dubbing", "dev"),
    ("Is Hot Fuzz funny?", "en", "Hot Fuzz", "humour", "dev"),
    ("Wie findet ihr die Kostüme in Amadeus?", "de", "Amadeus", "other", "dev"),
    ("What do the critics say about the villain?", "en", "", "other", "dev"),
    ("Lohnt sich Ballerina?", "de", "Ballerina", None, "dev"),
    ("Is the Netflix Ballerina worth watching?", "en", "Ballerina", None, "dev"),
    ("Was sagen die Kritiken zu Ballerina?", "de", "Ballerina", None, "dev"),
    ("How do the reviewers like Heat?", "en", "Heat", None, "dev"),
    ("Wie kommt Ballerina bei den Kritikern an?", "de", "Ballerina", None, "dev"),
    ("Was halten die Rezensenten vom Score?", "de", "", "music", "dev"),
    ("Is the cinematography of Barry Lyndon praised?", "en", "Barry Lyndon", "camera", "dev"),
    ("Wie gut ist das Drehbuch?", "de", "", "story", "dev"),
    ("Wie ist die Filmmusik von Lee Seong-hwa?", "de", "", "music", "test"),
    ("How is the music in Ballerina?", "en", "Ballerina", "music", "test"),
    ("Was sagen die Kritiker über die Darsteller?", "de", "", "acting", "test"),
    ("Are the performances in Heat convincing?", "en", "Heat", "acting", "test"),
    ("Wie ist der Plot von Memento?", "de", "Memento", "story", "test"),
    ("What do reviewers say about the plot?", "en", "", "story", "test"),
    ("Wie ist die Kameraführung in Children of Men?", "de", "Children of Men", "camera", "test"),
    ("Is the cinematography good?", "en", "", "camera", "test"),
    ("Überzeugen die Kampfszenen in Ballerina?", "de", "Ballerina", "action", "test"),
    ("How is the action in John Wick?", "en", "John Wick", "action", "test"),
    ("Sind die Effekte in Jurassic Park gut gealtert?", "de", "Jurassic Park", "effects", "test"),
    ("What about the CGI in The Hobbit?", "en", "The Hobbit", "effects", "test"),
    ("Wie finden die Kritiker das Ende von Ballerina?", "de", "Ballerina", "ending", "test"),
    ("Is the ending of Lost satisfying?", "en", "Lost", "ending", "test"),
    ("Wie ist das Bild der Blu-ray von Alien?", "de", "Alien", "picture", "test"),
    ("How is the picture quality of the DVD?", "en", "", "picture", "test"),
    ("Taugt der Sound der DVD?", "de", "", "sound", "test"),
    ("Is the audio of the Blu-ray any good?", "en", "", "sound", "test"),
    ("Hat die DVD gutes Bonusmaterial?", "de", "", "extras", "test"),
    ("Are there good special features on the disc?", "en", "", "extras", "test"),
    ("Are the subtitles good on the DVD?", "en", "", "dubbing", "test"),
    ("Ist der Humor in Hot Fuzz gut?", "de", "Hot Fuzz", "humour", "test"),
    ("Wie sind die Dialoge in Pulp Fiction?", "de", "Pulp Fiction", "other", "test"),
    ("What do critics say about the costumes?", "en", "", "other", "test"),
    ("Lohnt sich der Film?", "de", "", None, "test"),
    ("Is Heat worth watching?", "en", "Heat", None, "test"),
    ("Welche Rezensionen sind negativ über Ballerina?", "de", "Ballerina", None, "test"),
    ("What do the reviews say about Memento?", "en", "Memento", None, "test"),
]


@dataclass(frozen=True)
class LabelledSentence:
    source: str  # review id and the sentence's number in it
    text: str
    language: str
    split: str
    labels: frozenset[str]


def _split_of(review_id: str) -> str:
    return "dev" if hashlib.sha256(review_id.encode()).digest()[0] % 2 == 0 else "test"


def _labels(source: str, text: str) -> frozenset[str]:
    lowered = text.lower()
    by_rule = {key for key, pattern in LABEL_WORDS.items() if re.search(pattern, lowered)}
    read = {key: about for read_source, key, about in READ if read_source == source}
    return frozenset({k for k in by_rule if read.get(k, True)} | {k for k, a in read.items() if a})


def _sentences(review_id: str, text: str, language: str, split: str) -> Iterator[LabelledSentence]:
    for number, sentence in enumerate(split_sentences(text, language=language)):
        piece = " ".join(text[sentence.start : sentence.end].split())
        if MIN_CHARS <= len(piece) <= MAX_CHARS and not sentence.is_header:
            source = f"{review_id}#{number}"
            yield LabelledSentence(source, piece, language, split, _labels(source, piece))


def labelled_sentences(per_language: int) -> list[LabelledSentence]:
    rng = random.Random(SEED)
    result: list[LabelledSentence] = []
    for language in ("de", "en"):
        path = DATA / "webis_cls10" / f"{language}_dvd.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        rows = [r for r in rows if r["split"] == "test"]
        for row in rng.sample(rows, per_language):
            result.extend(_sentences(row["id"], row["text"], language, _split_of(row["id"])))
    for path in sorted((DATA / "seeds").glob("*.txt")):
        result.extend(_sentences(path.name, path.read_text(encoding="utf-8"), "de", "dev"))
    return result


def precision_at(
    scores: np.ndarray, labels: np.ndarray, threshold: float
) -> tuple[float, int, float]:
    """Micro precision over aspects, returned count, micro recall (against the word rule)."""
    chosen = scores >= threshold
    returned = int(chosen.sum())
    hits = int((chosen & labels).sum())
    recall = hits / max(int(labels.sum()), 1)
    return (hits / returned if returned else 1.0), returned, recall


def fit_about(scores: np.ndarray, labels: np.ndarray) -> float:
    """The lowest threshold on the grid whose dev precision reaches the target."""
    grid = np.round(np.arange(0.030, 0.080, 0.002), 4)
    for threshold in grid:
        if precision_at(scores, labels, threshold)[0] >= TARGET_PRECISION:
            return float(threshold)
    return float(grid[-1])


def fit_raised(
    scores: np.ndarray, labels: np.ndarray, keys: list[str], threshold: float
) -> dict[str, float]:
    """A higher threshold for each seed aspect whose own dev precision at ``threshold``,
    over at least ``MIN_RAISE_PAIRS`` returned sentences, falls short of the target."""
    raised = {}
    grid = np.round(np.arange(threshold, 0.080, 0.002), 4)
    for column, key in enumerate(keys):
        precision, returned, _ = precision_at(scores[:, column], labels[:, column], threshold)
        if returned < MIN_RAISE_PAIRS or precision >= TARGET_PRECISION:
            continue
        raised[key] = float(grid[-1])
        for higher in grid:
            if precision_at(scores[:, column], labels[:, column], higher)[0] >= TARGET_PRECISION:
                raised[key] = float(higher)
                break
    return raised


def asked_right(finder: AspectFinder, row: tuple[str, str, str, str | None, str]) -> bool:
    question, language, title, expected, _ = row
    found = finder.asked(question, language, (title,) if title else ())
    if expected is None:
        return found is None
    if found is None:
        return False
    if expected == "other":
        return not found.seed
    return found.seed and found.key == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-language", type=int, default=300)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/fit_aspects_vectors.npz"))
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    args = parser.parse_args()

    sentences = labelled_sentences(args.per_language)
    texts = [s.text for s in sentences]
    embedder = create_embedder()
    if args.cache.exists() and list(np.load(args.cache)["texts"]) == texts:
        vectors = np.load(args.cache)["vectors"]
    else:
        vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        np.savez(args.cache, texts=np.asarray(texts), vectors=vectors)

    stored = json.loads(ASPECTS_FILE.read_text(encoding="utf-8"))
    draft = AspectData.load(ASPECTS_FILE, fitted=False)
    finder = AspectFinder(embedder, draft)
    keys = [seed.key for seed in finder.seeds]
    matrix = np.stack(
        [
            finder.scores(AspectQuery(seed.key, seed.key, vector).vector, vectors)
            for seed, vector in zip(finder.seeds, finder.seed_vectors, strict=True)
        ],
        axis=1,
    )
    labels = np.array([[key in s.labels for key in keys] for s in sentences])
    splits = np.array([s.split for s in sentences])
    dev, test = splits == "dev", splits == "test"
    about_threshold = fit_about(matrix[dev], labels[dev])
    raised = fit_raised(matrix[dev], labels[dev], keys, about_threshold)
    cutoffs = np.array([raised.get(key, about_threshold) for key in keys])

    figures: dict[str, object] = {}
    for name, rows in (("dev", dev), ("test", test)):
        precision, returned, recall = precision_at(matrix[rows] - cutoffs, labels[rows], 0.0)
        figures[f"about_{name}"] = {
            "sentences": int(rows.sum()),
            "returned": returned,
            "precision": round(precision, 3),
            "recall_of_word_rule": round(recall, 3),
        }
        per_aspect = {}
        for column, key in enumerate(keys):
            p, n, _ = precision_at(
                matrix[rows][:, column], labels[rows][:, column], float(cutoffs[column])
            )
            per_aspect[key] = f"{p:.2f} of {n}"
        print(name, figures[f"about_{name}"], per_aspect)

    # An aspect outside the seeds is searched by the question's phrase: stand-ins are the
    # seeds' names, each alone, scored as a phrase would be.
    phrase_columns, phrase_keys = [], []
    for seed, prototypes in zip(finder.seeds, finder.prototypes, strict=True):
        for row in prototypes[: len(dict.fromkeys(seed.names.values()))]:
            phrase_columns.append(finder.scores(row, vectors, phrase=True))
            phrase_keys.append(seed.key)
    phrase_matrix = np.stack(phrase_columns, axis=1)
    phrase_labels = labels[:, [keys.index(key) for key in phrase_keys]]
    phrase_threshold = fit_about(phrase_matrix[dev], phrase_labels[dev])
    for name, rows in (("dev", dev), ("test", test)):
        precision, returned, recall = precision_at(
            phrase_matrix[rows], phrase_labels[rows], phrase_threshold
        )
        figures[f"phrase_{name}"] = {
            "returned": returned,
            "precision_lower_bound": round(precision, 3),
            "recall_of_word_rule": round(recall, 3),
        }
        print("phrase", name, figures[f"phrase_{name}"])

    dev_questions = [q for q in QUESTIONS if q[4] == "dev"]
    seeds_best = []
    for question, language, title, expected, _ in dev_questions:
        phrase = finder.content_phrase(question, language, (title,) if title else ())
        if phrase and expected is not None:
            seeds_best.append((max(finder.seed_similarities(phrase)), expected != "other"))
    candidates = np.round(np.arange(0.80, 0.97, 0.0025), 4)
    accuracy = []
    for threshold in candidates:
        trial = finder.with_thresholds(ask=float(threshold), about=about_threshold)
        accuracy.append(sum(asked_right(trial, q) for q in dev_questions))
    best = max(accuracy)
    runs = _runs([a == best for a in accuracy])
    start, end = max(runs, key=lambda r: r[1] - r[0])
    ask_threshold = float(round((candidates[start] + candidates[end]) / 2, 4))
    print("seed phrase similarity on dev (best seed, is a seed):", sorted(seeds_best))

    final = finder.with_thresholds(ask=ask_threshold, about=about_threshold)
    for split in ("dev", "test"):
        rows = [q for q in QUESTIONS if q[4] == split]
        right = [asked_right(final, q) for q in rows]
        aspect_rows = [r for q, r in zip(rows, right, strict=True) if q[3] is not None]
        figures[f"asked_{split}"] = {
            "questions": len(rows),
            "right": sum(right),
            "aspect_questions": len(aspect_rows),
            "aspect_right": sum(aspect_rows),
        }
        print(split, figures[f"asked_{split}"])
        if split == "dev":
            for q, r in zip(rows, right, strict=True):
                if not r:
                    found = final.asked(q[0], q[1], (q[2],) if q[2] else ())
                    print("  wrong:", q[0], "->", found and (found.key, found.name))

    stored["fitted"] = {
        "about": "Written by scripts/fit_aspects.py; thresholds chosen on dev only.",
        "embedder": embedder.name,
        "ask_threshold": ask_threshold,
        "about_threshold": about_threshold,
        "raised": raised,
        "phrase_threshold": phrase_threshold,
        "phrase_figures": "seed names searched alone; pairs not read count by the word rule",
        "figures": figures,
    }
    if args.dry_run:
        print(json.dumps(stored["fitted"], indent=1))
        return
    ASPECTS_FILE.write_text(
        json.dumps(stored, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {ASPECTS_FILE}")


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    runs, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index - 1))
            start = None
    return runs


if __name__ == "__main__":
    main()
