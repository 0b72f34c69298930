"""Give every gold question without a split one: dev or test, drawn once and then kept.

Usage: python tests/gold/draw_splits.py FILE.jsonl [...]

The draw (see README.md): within each (kind, language) stratum, or (kind, corpus, language) for
a set whose questions name their corpus, the questions that have no
split yet are taken in the order of the SHA-256 of their id; each goes to the split that has
fewer questions of the stratum so far, a tie to ``test`` when that hash is even, else ``dev``.
A question that already has a split keeps it, so adding questions never moves one that was
tuned on (dev) into the measurement (test) or back.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

SPLITS = ("dev", "test")


def id_hash(question_id: str) -> int:
    return int(hashlib.sha256(question_id.encode("utf-8")).hexdigest(), 16)


def stratum_of(q: dict[str, Any]) -> tuple[str, ...]:
    """The questions a split is balanced within: same kind and language, and same corpus
    where a set spans several."""
    if "corpus" in q:
        return (q["kind"], q["corpus"], q["language"])
    return (q["kind"], q["language"])


def draw(questions: list[dict[str, Any]]) -> int:
    """Set ``split`` on the questions that lack one; returns how many were drawn."""
    counts: Counter[tuple[str, ...]] = Counter()
    for q in questions:
        if q.get("split") in SPLITS:
            counts[(*stratum_of(q), q["split"])] += 1
    undrawn = sorted((q for q in questions if "split" not in q), key=lambda q: id_hash(q["id"]))
    for q in undrawn:
        stratum = stratum_of(q)
        dev, test = counts[(*stratum, "dev")], counts[(*stratum, "test")]
        if dev != test:
            split = "dev" if dev < test else "test"
        else:
            split = "test" if id_hash(q["id"]) % 2 == 0 else "dev"
        q["split"] = split
        counts[(*stratum, split)] += 1
    return len(undrawn)


def with_split_after_kind(q: dict[str, Any]) -> dict[str, Any]:
    ordered: dict[str, Any] = {}
    for key, value in q.items():
        if key != "split":
            ordered[key] = value
        if key == "kind":
            ordered["split"] = q["split"]
    return ordered


def main(paths: list[str]) -> None:
    for name in paths:
        path = Path(name)
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        questions = [json.loads(line) for line in lines]
        drawn = draw(questions)
        text = "".join(
            json.dumps(with_split_after_kind(q), ensure_ascii=False) + "\n" for q in questions
        )
        path.write_text(text, encoding="utf-8")
        print(f"{path.name}: {drawn} split(s) drawn, {len(questions)} questions")


if __name__ == "__main__":
    main(sys.argv[1:])
