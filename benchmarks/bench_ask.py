"""Answer latency: warm `ask` over a gold set, and the cold start of one `reviewbot ask`.

Run on demand:  .venv/bin/python benchmarks/bench_ask.py [--gold tests/gold/seeds.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "data" / "seeds"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gold", type=Path, default=REPO / "tests" / "gold" / "seeds.jsonl")
    parser.add_argument("--corpus", type=Path, default=SEEDS)
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    from bot.service import ReviewService
    from bot.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        settings = Settings(_env_file=None, data_dir=data)  # type: ignore[call-arg]
        service = ReviewService(settings)
        service.index([args.corpus])
        questions = [json.loads(line)["question"] for line in args.gold.read_text().splitlines()]
        service.ask(questions[0])  # load the keyword index and the sentence splitter
        timings: list[float] = []
        for _ in range(args.rounds):
            for question in questions:
                started = time.perf_counter()
                service.ask(question)
                timings.append((time.perf_counter() - started) * 1000)

        env = {**os.environ, "REVIEWBOT_DATA_DIR": str(data)}
        command = [sys.executable, "-m", "bot", "ask", "Wer hat bei Ballerina Regie geführt?"]
        cold: list[float] = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            cold.append(time.perf_counter() - started)

    figures = {
        "questions": len(questions) * args.rounds,
        "warm_p50_ms": round(statistics.median(timings), 1),
        "warm_p95_ms": round(percentile(timings, 0.95), 1),
        "warm_max_ms": round(max(timings), 1),
        "cold_process_s": round(statistics.median(cold), 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name:>16}: {value}")


if __name__ == "__main__":
    main()
