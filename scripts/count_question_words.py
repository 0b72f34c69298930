"""Write bot/data/question_words.json: the question words that ask rather than say what
would answer, counted from questions and the reviews that answer them.

A word of a question is *asking* ("which", "laut", "critics", "think") when the review
that answers the question seldom contains it, over many questions; it is *generic*
("film", "gut") when most reviews contain it, whatever they are about. Both say nothing
about which sentence answers, so the answerer does not score them.

Questions: the dev split only, never test: SubjQA movies dev (each with its review) and
the dev questions of tests/gold/{dvd,seeds,examples,opinions}.jsonl with their expected
reviews (in the other language, words meet them through the dictionary). Reviews:
../shared/data/webis_cls10/{de,en}_dvd.jsonl and the SubjQA reviews, for how many reviews
contain a word. The interrogative pronouns and adverbs of both languages, a closed class,
are added as they are: a relative "wer" is common in reviews, so counting cannot find them.

    .venv/bin/python scripts/count_question_words.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from index.keyword import tokenize
from index.language import detect_language
from index.lexicon import DEFAULT_DICTIONARY, Lexicon

ROOT = Path(__file__).resolve().parent.parent
GOLD_SETS = ("dvd", "seeds", "examples", "opinions")
OUTPUT = ROOT / "bot" / "data" / "question_words.json"
# A word is judged from at least this many questions that contain it.
MIN_QUESTIONS = 3
# Asking: the answering review lacks the word in at least this share of those questions.
ABSENT_SHARE = 0.75
# Generic: at least this share of the reviews of its language contain the word.
REVIEW_SHARE = 0.2
LANGUAGES = ("de", "en")
# Interrogative pronouns and adverbs (closed word classes): German as Duden, Die Grammatik
# lists the w-words (Interrogativpronomen and -adverbien), English the wh-words of
# Huddleston & Pullum, The Cambridge Grammar of the English Language, ch. 10.
INTERROGATIVES = {
    "de": (
        "wer", "wen", "wem", "wessen", "was", "welche", "welcher", "welches", "welchen",
        "welchem", "wann", "wo", "woher", "wohin", "warum", "wieso", "weshalb", "weswegen",
        "wie",
    ),
    "en": ("who", "whom", "whose", "what", "which", "when", "where", "why", "how"),
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]{2,}")


def _question_words(text: str, language: str) -> set[str]:
    """The question's words; in English, not the capitalised ones after the first: they
    name a film or a person, which the review may or may not repeat."""
    found = list(_WORD.finditer(text))
    return {
        m.group(0).lower()
        for i, m in enumerate(found)
        if language == "de" or i == 0 or not m.group(0)[0].isupper()
    }


def _stems(text: str, language: str) -> set[str]:
    return set(tokenize(text, language=language))


def _shared_reviews(shared: Path) -> dict[str, str]:
    """Review texts by the id the gold sets give them ("dvd/de_dvd.jsonl#…", "seeds/…")."""
    texts: dict[str, str] = {}
    for name in ("de_dvd.jsonl", "en_dvd.jsonl"):
        with (shared / "webis_cls10" / name).open(encoding="utf-8") as rows:
            for line in rows:
                row = json.loads(line)
                # The title is the passage's header in the index: a question naming it meets it.
                text = f"{row.get('title') or ''}. {row.get('summary') or ''}. {row['text']}"
                texts[f"dvd/{name}#{row['id']}"] = text
    for path in sorted((shared / "seeds").glob("*.txt")):
        texts[f"seeds/{path.name}"] = path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "examples" / "reviews").iterdir()):
        if path.suffix in (".txt", ".md"):
            texts[f"reviews/{path.name}"] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def _pairs(shared: Path) -> Iterator[tuple[str, str, str, list[str]]]:
    """(question's language, reviews' language, question, texts of the reviews that answer
    it), dev questions only."""
    with (shared / "subjqa" / "subjqa_movies_qa.jsonl").open(encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            # Only answerable pairs: the review of an unanswerable one lacks what is asked.
            if row["split"] == "dev" and row["answers"]:
                yield "en", "en", row["question"], [row["review"]]
    reviews = _shared_reviews(shared)
    for name in GOLD_SETS:
        with (ROOT / "tests" / "gold" / f"{name}.jsonl").open(encoding="utf-8") as rows:
            for line in rows:
                row = json.loads(line)
                if row["split"] != "dev":
                    continue
                texts = [reviews[i] for i in row.get("expected_review_ids", []) if i in reviews]
                languages = {detect_language(t) for t in texts}
                if len(languages) == 1:
                    yield row["language"], languages.pop(), row["question"], texts


def _review_shares(shared: Path) -> dict[str, Counter[str]]:
    """For each language, in how many reviews each stem occurs; the count of reviews at ""."""
    shares: dict[str, Counter[str]] = {language: Counter() for language in LANGUAGES}
    sources = [
        ("de", shared / "webis_cls10" / "de_dvd.jsonl", "text"),
        ("en", shared / "webis_cls10" / "en_dvd.jsonl", "text"),
        ("en", shared / "subjqa" / "subjqa_movies_reviews.jsonl", "review"),
    ]
    for language, path, key in sources:
        with path.open(encoding="utf-8") as rows:
            for line in rows:
                text = json.loads(line).get(key) or ""
                shares[language].update(_stems(text, language))
                shares[language][""] += 1
    return shares


def count(shared: Path, lexicon: Lexicon) -> dict[str, object]:
    asked: dict[str, Counter[str]] = {language: Counter() for language in LANGUAGES}
    absent: dict[str, Counter[str]] = {language: Counter() for language in LANGUAGES}
    questions = Counter[str]()
    for language, reviewed, question, texts in _pairs(shared):
        questions[language] += 1
        review_stems = set().union(*(_stems(t, reviewed) for t in texts))
        for word in _question_words(question, language):
            stems = _stems(word, language)
            if not stems:  # a stop word of the language: left out anyway
                continue
            if reviewed != language:
                # A question asked over reviews in the other language meets them through
                # the dictionary: a word it cannot translate says nothing either way.
                stems = set(lexicon.translate(word, source=language, target=reviewed))
                if not stems:
                    continue
            asked[language][word] += 1
            if not stems & review_stems:
                absent[language][word] += 1
    shares = _review_shares(shared)
    asking: set[str] = set()
    generic: set[str] = set()
    for language in LANGUAGES:
        total = shares[language][""]
        for word, n in asked[language].items():
            if n < MIN_QUESTIONS:
                continue
            if absent[language][word] / n >= ABSENT_SHARE:
                asking.add(word)
            stems = _stems(word, language)
            if max(shares[language][s] for s in stems) / total >= REVIEW_SHARE:
                generic.add(word)
    return {
        "about": (
            "Question words the answerer does not score: 'asking' words are seldom in the "
            "review that answers a question containing them ('critics', 'rezension', 'worth'); "
            "'generic' words are in most reviews ('film'); 'interrogatives' ask by their "
            "word class ('wer', 'whose'). Written by "
            "scripts/count_question_words.py; do not edit by hand."
        ),
        "source": (
            "Dev-split questions only: SubjQA movies dev (Bjerva et al., EMNLP 2020), "
            "answerable pairs with their reviews, and the dev questions of "
            "tests/gold/{dvd,seeds,examples,opinions} with their expected reviews (reviews "
            "from Webis-CLS-10 de_dvd, the seed reviews and "
            "examples/reviews). Review shares from Webis-CLS-10 de_dvd and en_dvd and the "
            "SubjQA movies reviews. Interrogatives: the German w-words (Duden, Die "
            "Grammatik) and English wh-words (Cambridge Grammar of the English Language, "
            "ch. 10), a closed class. Stop words (bm25s lists, as index.keyword.tokenize "
            "drops them) are left out. A question over reviews in the other language meets "
            "them through the Ding German-English dictionary (index/lexicon.py)."
        ),
        "rule": {
            "min_questions": MIN_QUESTIONS,
            "asking_if_absent_from_answering_review_share": ABSENT_SHARE,
            "generic_if_in_reviews_share": REVIEW_SHARE,
        },
        "questions": dict(sorted(questions.items())),
        "interrogatives": {language: list(words) for language, words in INTERROGATIVES.items()},
        "asking": sorted(asking),
        "generic": sorted(generic),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--dictionary", type=Path, default=DEFAULT_DICTIONARY)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        lexicon = Lexicon.load(args.dictionary, cache_dir=Path(cache))
        result = count(args.shared, lexicon)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(f"{len(result['asking'])} asking, {len(result['generic'])} generic -> {args.output}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
