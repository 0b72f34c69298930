"""The corpus of the DVD gold set: chosen Amazon.de DVD reviews, written out at test time.

The reviews are third-party data (Webis-CLS-10, ``../shared/data/webis_cls10``) that may not
be copied into the repo; ``dvd_reviews.txt`` lists only their ids. ``write_dvd_corpus``
writes those records as one JSON Lines file, ``<parent>/dvd/de_dvd.jsonl``, so a record's
review id in the index is ``dvd/de_dvd.jsonl#<id>`` — the ids ``dvd.jsonl`` expects.

Usage: python tests/gold/dvd_corpus.py FOLDER   (then: reviewbot index FOLDER/dvd)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "shared" / "data" / "webis_cls10" / "de_dvd.jsonl"
REVIEW_IDS = HERE / "dvd_reviews.txt"
FOLDER = "dvd"
FILE = "de_dvd.jsonl"


def chosen_ids() -> list[str]:
    return [line.strip() for line in REVIEW_IDS.read_text(encoding="utf-8").splitlines() if line]


def review_id(record_id: str) -> str:
    """The id the indexer gives the record ``record_id`` of the written file."""
    return f"{FOLDER}/{FILE}#{record_id}"


def chosen_records() -> list[dict[str, Any]]:
    """The chosen reviews as written: the film (not the product with its edition) as title."""
    wanted = set(chosen_ids())
    records = []
    with SOURCE.open(encoding="utf-8") as source:
        for line in source:
            row = json.loads(line)
            if row["id"] in wanted:
                records.append(
                    {
                        "id": row["id"],
                        "title": row["title_normalized"],
                        "rating": row["rating"],
                        "date": row["review_date"],
                        "text": row["text"],
                    }
                )
    if missing := wanted - {r["id"] for r in records}:
        raise SystemExit(f"reviews not in {SOURCE}: {sorted(missing)}")
    return records


def write_dvd_corpus(parent: Path) -> Path:
    """Write the chosen reviews under ``parent``; returns the folder to index."""
    folder = parent / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in chosen_records())
    (folder / FILE).write_text("".join(lines), encoding="utf-8")
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(write_dvd_corpus(Path(sys.argv[1])))
