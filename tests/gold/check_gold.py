"""Sanity check for the gold sets in this directory.

Usage: python tests/gold/check_gold.py
Checks: JSON parses, exact key set, unique ids, valid enums, a split (dev or test)
on every question and both splits balanced within each (kind, language) stratum
(see draw_splits.py), every expected review id exists, and every key fact (and at
least one any fact) of answerable questions occurs case-insensitively in one of
the expected reviews' text (count/rating questions are exempt from the text check).

The opinion set (opinions.jsonl) is checked by its own rules: the keys of its kind, every
review id in its corpus, verdicts and aspects about the reviews of one work, DVD majorities
and most-positive/negative reviews recomputed from the star ratings, winners among the
candidates, aspect terms lower case and found in the work's reviews, and splits balanced
within each (kind, corpus, language) stratum.
"""

import csv
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dvd_corpus import chosen_records, review_id

HERE = Path(__file__).resolve().parent
MAIN = HERE.parents[1]
SEEDS_DIR = Path("/work/shared/data/seeds")
EXAMPLES_DIR = MAIN / "examples" / "reviews"

KEYS = {
    "id",
    "question",
    "language",
    "kind",
    "split",
    "history",
    "expected_review_ids",
    "key_facts",
    "any_facts",
}
KINDS = {
    "factual",
    "paraphrase",
    "ambiguous",
    "field",
    "count",
    "rating",
    "followup",
    "unanswerable",
    "out_of_corpus",
    "general",
}
# Questions the bot must refuse: nothing in the reviews, a film that is not indexed, or
# general knowledge that no review is about.
REFUSED_KINDS = {"unanswerable", "out_of_corpus", "general"}
SPLITS = {"dev", "test"}


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def seed_corpus() -> dict[str, str]:
    return {f"seeds/{p.name}": read_text(p) for p in sorted(SEEDS_DIR.glob("*.txt"))}


def example_corpus() -> dict[str, str]:
    docs: dict[str, str] = {}
    for p in sorted(EXAMPLES_DIR.iterdir()):
        text = read_text(p)
        if p.suffix == ".jsonl":
            for line in text.splitlines():
                if line.strip():
                    rec = json.loads(line)
                    docs[f"reviews/{p.name}#{rec['id']}"] = json.dumps(rec, ensure_ascii=False)
        elif p.suffix == ".csv":
            for rec in csv.DictReader(io.StringIO(text)):
                docs[f"reviews/{p.name}#{rec['id']}"] = " ".join(rec.values())
        else:
            docs[f"reviews/{p.name}"] = text
    return docs


def dvd_corpus() -> dict[str, str]:
    return {review_id(r["id"]): r["text"] for r in chosen_records()}


def check_dvd_figures(path: Path) -> int:
    """Counts and averages of the DVD set are exact: they match the chosen reviews."""
    records = {review_id(r["id"]): r for r in chosen_records()}
    by_title: dict[str, list[str]] = {}
    for rid, record in records.items():
        by_title.setdefault(record["title"], []).append(rid)
    errors = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        expected = q["expected_review_ids"]
        if q["kind"] not in ("count", "rating", "field") or not expected:
            continue
        chosen = [records[rid] for rid in expected if rid in records]
        ratings = [r["rating"] for r in chosen]
        problem = None
        if q["kind"] in ("count", "rating"):
            titles = {r["title"] for r in chosen}
            if len(titles) != 1 or sorted(expected) != sorted(by_title[titles.pop()]):
                problem = "expected reviews are not all the reviews of one film"
            elif q["kind"] == "count" and q["key_facts"] != [str(len(expected))]:
                problem = f"key fact should be {len(expected)}"
            elif q["kind"] == "rating":
                average = sum(ratings) / len(ratings)
                if f"{average:.2f}" not in q["any_facts"]:
                    problem = f"any facts miss the average {average:.2f}"
        elif len(chosen) != 1:
            problem = "a field question expects one review"
        elif not {f"{chosen[0]['rating']:.0f}/5", chosen[0]["date"]} & set(q["any_facts"]):
            problem = "any facts hold neither the review's rating nor its date"
        if problem:
            errors += 1
            print(f"  ERROR {q['id']}: {problem}")
    return errors


def check(path: Path, corpus: dict[str, str]) -> int:
    errors, seen = 0, set[str]()
    stats: Counter[tuple[str, ...]] = Counter()
    splits: Counter[tuple[str, ...]] = Counter()

    def err(msg: str) -> None:
        nonlocal errors
        errors += 1
        print(f"  ERROR {msg}")

    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            err(f"line {n}: {e}")
            continue
        qid = q.get("id", f"line{n}")
        if set(q) != KEYS:
            err(f"{qid}: keys {sorted(set(q) ^ KEYS)}")
            continue
        if qid in seen:
            err(f"{qid}: duplicate id")
        seen.add(qid)
        if q["language"] not in ("de", "en") or q["kind"] not in KINDS:
            err(f"{qid}: bad language/kind")
        stats[(q["kind"], q["language"])] += 1
        if q["split"] not in SPLITS:
            err(f"{qid}: split must be dev or test")
        splits[(q["kind"], q["language"], q["split"])] += 1
        if (q["kind"] == "followup") != bool(q["history"]):
            err(f"{qid}: history must be non-empty exactly for followup")
        for rid in q["expected_review_ids"]:
            if rid not in corpus:
                err(f"{qid}: unknown review id {rid}")
        if q["kind"] in REFUSED_KINDS:
            if q["expected_review_ids"] or q["key_facts"] or q["any_facts"]:
                err(f"{qid}: {q['kind']} must have empty ids/facts")
            continue
        if not q["expected_review_ids"]:
            err(f"{qid}: answerable question without expected reviews")
        if q["kind"] in ("count", "rating", "field"):
            continue
        texts = [corpus.get(r, "").lower() for r in q["expected_review_ids"]]
        for fact in q["key_facts"]:
            if not any(fact.lower() in t for t in texts):
                err(f"{qid}: key fact {fact!r} not in expected reviews")
        if q["any_facts"]:
            present = [f for f in q["any_facts"] if any(f.lower() in t for t in texts)]
            if not present:
                err(f"{qid}: no any fact present in expected reviews")
        if not q["key_facts"] and not q["any_facts"]:
            err(f"{qid}: answerable question without facts")
    for kind, language in sorted(stats):
        dev, test = splits[(kind, language, "dev")], splits[(kind, language, "test")]
        if abs(dev - test) > 1:
            err(f"{kind}/{language}: {dev} dev and {test} test questions (draw_splits.py)")
    print(f"{path.name}: {len(seen)} questions, {errors} errors")
    for kind in sorted(KINDS):
        if stats[(kind, "de")] or stats[(kind, "en")]:
            print(f"  {kind:13s} de={stats[(kind, 'de')]:3d} en={stats[(kind, 'en')]:3d}")
    langs: Counter[str] = Counter()
    for (_kind, language), count in stats.items():
        langs[language] += count
    print(f"  total         de={langs['de']:3d} en={langs['en']:3d}")
    dev = sum(n for (_k, _l, split), n in splits.items() if split == "dev")
    print(f"  split         dev={dev:3d} test={sum(splits.values()) - dev:3d}")
    return errors


OPINION_KEYS = {"id", "question", "language", "kind", "split", "corpus", "history"}
OPINION_FIELDS = {
    "verdict": ({"expected_review_ids", "majority"}, set()),
    "aspect": ({"expected_review_ids", "aspect", "aspect_terms"}, {"majority"}),
    "comparison": ({"winner_review_ids", "candidate_review_ids"}, set()),
    "extreme": ({"expected_review_ids", "polarity"}, set()),
}
POLARITIES = {"positive", "negative", "mixed"}


def star_polarity(stars: float) -> str:
    """1-2 of 5 negative, 3 mixed, 4-5 positive (README.md, "Opinion questions")."""
    share = stars / 5
    return "positive" if share >= 0.7 else "negative" if share <= 0.4 else "mixed"


def majority(polarities: list[str]) -> str:
    """The most frequent polarity; a tie is mixed."""
    counts = Counter(polarities)
    top = max(counts.values())
    leaders = [p for p in ("positive", "negative", "mixed") if counts[p] == top]
    return leaders[0] if len(leaders) == 1 else "mixed"


def has_term(text: str, terms: list[str]) -> bool:
    """A term starts a word of ``text`` (terms are stems)."""
    return any(re.search(rf"(?<!\w){re.escape(t.casefold())}", text.casefold()) for t in terms)


def check_opinions(path: Path, corpora: dict[str, dict[str, str]]) -> int:
    """The opinion set: see the module's docstring."""
    records = {review_id(r["id"]): r for r in chosen_records()}
    dvd_films: dict[str, list[str]] = {}
    for rid, record in records.items():
        dvd_films.setdefault(record["title"], []).append(rid)
    errors, seen = 0, set[str]()
    strata: Counter[tuple[str, ...]] = Counter()

    def err(msg: str) -> None:
        nonlocal errors
        errors += 1
        print(f"  ERROR {msg}")

    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        q = json.loads(line)
        qid = q.get("id", f"line{n}")
        required, optional = OPINION_FIELDS.get(q.get("kind"), (None, set()))
        if required is None:
            err(f"{qid}: kind must be one of {sorted(OPINION_FIELDS)}")
            continue
        keys = set(q) - optional
        if keys != OPINION_KEYS | required:
            err(f"{qid}: keys {sorted(keys ^ (OPINION_KEYS | required))}")
            continue
        if qid in seen:
            err(f"{qid}: duplicate id")
        seen.add(qid)
        corpus = corpora.get(q["corpus"])
        if corpus is None or q["language"] not in ("de", "en") or q["split"] not in SPLITS:
            err(f"{qid}: bad corpus/language/split")
            continue
        if q["history"]:
            err(f"{qid}: opinion questions have no history")
        strata[(q["kind"], q["corpus"], q["language"], q["split"])] += 1
        ids = q.get("expected_review_ids") or q["candidate_review_ids"]
        for rid in ids + q.get("winner_review_ids", []):
            if rid not in corpus:
                err(f"{qid}: unknown review id {rid}")
        if not ids:
            err(f"{qid}: no reviews")
            continue
        for polarity in (q.get("majority"), q.get("polarity")):
            if polarity is not None and polarity not in POLARITIES:
                err(f"{qid}: polarity {polarity!r}")
        if q["kind"] == "comparison" and not set(q["winner_review_ids"]) < set(ids):
            err(f"{qid}: the winner's reviews must be some of the candidates'")
        if q["kind"] == "aspect":
            terms = q["aspect_terms"]
            if not terms or any(t != t.lower() or not t.strip() for t in terms):
                err(f"{qid}: aspect terms must be lower case words")
            elif not any(has_term(corpus[rid], terms) for rid in ids):
                err(f"{qid}: no aspect term in the work's reviews")
        if q["corpus"] == "dvd":
            errors += _check_dvd_opinion(q, records, dvd_films, err)
    for kind, corpus_name, language in {k[:3] for k in strata}:
        dev = strata[(kind, corpus_name, language, "dev")]
        test = strata[(kind, corpus_name, language, "test")]
        if abs(dev - test) > 1:
            err(f"{kind}/{corpus_name}/{language}: {dev} dev and {test} test (draw_splits.py)")
    print(f"{path.name}: {len(seen)} questions, {errors} errors")
    for dimension, position in (("kind", 0), ("corpus", 1), ("language", 2), ("split", 3)):
        counts: Counter[str] = Counter()
        for key, count in strata.items():
            counts[key[position]] += count
        print(f"  {dimension:9s} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return errors


def _check_dvd_opinion(
    q: dict[str, Any],
    records: dict[str, dict[str, Any]],
    films: dict[str, list[str]],
    err: Callable[[str], None],
) -> int:
    """Truth from the stars: a verdict's majority, an extreme's reviews, a winner's lead."""
    before = 0
    expected = q.get("expected_review_ids", [])
    titles = {records[rid]["title"] for rid in expected if rid in records}
    if q["kind"] in ("verdict", "aspect"):
        if len(titles) != 1 or sorted(expected) != sorted(films[titles.pop()]):
            err(f"{q['id']}: expected reviews are not all the reviews of one film")
            return 1
        if q["kind"] == "verdict":
            truth = majority([star_polarity(records[rid]["rating"]) for rid in expected])
            if q["majority"] != truth:
                err(f"{q['id']}: majority by the stars is {truth}")
                return 1
    elif q["kind"] == "extreme":
        if len(titles) != 1:
            err(f"{q['id']}: the extreme reviews are of one film")
            return 1
        stars = [records[rid]["rating"] for rid in films[titles.pop()]]
        best = max(stars) if q["polarity"] == "positive" else min(stars)
        if {records[rid]["rating"] for rid in expected} != {best}:
            err(f"{q['id']}: the {q['polarity']} extreme has {best} stars")
            return 1
    elif q["kind"] == "comparison":
        by_film: dict[str, list[float]] = {}
        for rid in q["candidate_review_ids"]:
            by_film.setdefault(records[rid]["title"], []).append(records[rid]["rating"])
        winner = {records[rid]["title"] for rid in q["winner_review_ids"]}
        if len(winner) != 1:
            err(f"{q['id']}: the winner is one film")
            return 1
        stars = by_film.pop(winner.pop())

        def positive_share(ratings: list[float]) -> float:
            return sum(star_polarity(r) == "positive" for r in ratings) / len(ratings)

        for other in by_film.values():
            if not (
                positive_share(stars) > positive_share(other)
                and sum(stars) / len(stars) > sum(other) / len(other)
            ):
                err(f"{q['id']}: the winner does not lead on both share and average")
                return 1
    return before


if __name__ == "__main__":
    total = check(HERE / "seeds.jsonl", seed_corpus())
    total += check(HERE / "examples.jsonl", example_corpus())
    total += check(HERE / "dvd.jsonl", dvd_corpus())
    total += check_dvd_figures(HERE / "dvd.jsonl")
    total += check_opinions(
        HERE / "opinions.jsonl",
        {"seeds": seed_corpus(), "examples": example_corpus(), "dvd": dvd_corpus()},
    )
    sys.exit(1 if total else 0)
