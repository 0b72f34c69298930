"""The DVD gold set end to end: answers to questions over real Amazon.de DVD reviews, dev and
test side by side (accuracy, recall@k, MRR, refusals, per language and kind).

Run from the repo root: ``.venv/bin/python benchmarks/bench_dvd_answers.py [--json]
[--threads N]``. The chosen reviews (``tests/gold/dvd_reviews.txt``) are read from
``../shared/data/webis_cls10`` into a temporary folder, indexed, and asked
``tests/gold/dvd.jsonl``: the same as ``reviewbot eval tests/gold/dvd.jsonl`` over an index
of ``python tests/gold/dvd_corpus.py FOLDER``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "tests" / "gold"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="embedder threads")
    parser.add_argument("--json", action="store_true", help="print the eval report as JSON")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))  # tests.gold is not an installed package
    from bot.cli import main as reviewbot
    from tests.gold.dvd_corpus import write_dvd_corpus

    with tempfile.TemporaryDirectory() as folder:
        os.environ["REVIEWBOT_DATA_DIR"] = str(Path(folder) / "data")
        os.environ["REVIEWBOT_EMBED_THREADS"] = str(args.threads)
        corpus = write_dvd_corpus(Path(folder) / "reviews")
        for step, argv in (
            ("index", ["index", str(corpus), "--json"]),
            ("eval", ["eval", str(GOLD / "dvd.jsonl"), "--split", "all"]),
        ):
            if step == "eval" and args.json:
                argv.append("--json")
            started = time.perf_counter()
            try:
                if step == "index":
                    # The index report is long; only its time is shown.
                    with open(os.devnull, "w") as quiet:
                        stdout, sys.stdout = sys.stdout, quiet
                        try:
                            reviewbot(argv)
                        finally:
                            sys.stdout = stdout
                else:
                    reviewbot(argv)
            except SystemExit as exit_:
                if exit_.code:
                    raise
            print(f"{step}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
