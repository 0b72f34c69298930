"""Sanity check for the gold sets in this directory.

Usage: python tests/gold/check_gold.py
Checks: JSON parses, exact key set, unique ids, valid enums, a split (dev or test)
on every question and both splits balanced within each (kind, language) stratum
(see draw_splits.py), every expected review id exists, and every key fact (and at
least one any fact) of answerable questions occurs case-insensitively in one of
the expected reviews' text (count/rating questions are exempt from the text check).
"""

import csv
import io
import json
import sys
from collections import Counter
from pathlib import Path

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


def seed_corpus():
    return {f"seeds/{p.name}": read_text(p) for p in sorted(SEEDS_DIR.glob("*.txt"))}


def example_corpus():
    docs = {}
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


def dvd_corpus():
    return {review_id(r["id"]): r["text"] for r in chosen_records()}


def check_dvd_figures(path: Path) -> int:
    """Counts and averages of the DVD set are exact: they match the chosen reviews."""
    records = {review_id(r["id"]): r for r in chosen_records()}
    by_title = {}
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


def check(path: Path, corpus: dict) -> int:
    errors, seen = 0, set()
    stats = Counter()
    splits = Counter()

    def err(msg):
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
    langs = Counter()
    for (_kind, language), count in stats.items():
        langs[language] += count
    print(f"  total         de={langs['de']:3d} en={langs['en']:3d}")
    dev = sum(n for (_k, _l, split), n in splits.items() if split == "dev")
    print(f"  split         dev={dev:3d} test={sum(splits.values()) - dev:3d}")
    return errors


if __name__ == "__main__":
    total = check(HERE / "seeds.jsonl", seed_corpus())
    total += check(HERE / "examples.jsonl", example_corpus())
    total += check(HERE / "dvd.jsonl", dvd_corpus())
    total += check_dvd_figures(HERE / "dvd.jsonl")
    sys.exit(1 if total else 0)
