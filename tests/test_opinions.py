"""Opinion questions over the seed reviews: verdicts, comparisons and extreme reviews are
answered with exact counts and quotes from the right reviews, whatever the wording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.answers import Answer
from bot.engine.opinions import OpinionReader, answer_opinion
from bot.engine.reading import Question
from bot.service import ReviewService
from bot.settings import Settings
from index.polarity import PolarityHead
from index.records import Rating, Review, Work
from tests.conftest import SEEDS, RememberingEmbedder, run_cli

# Which seed reviews are about which "Ballerina" (tests/gold/seeds.jsonl's expected ids).
NETFLIX = {"seeds/000_20005b48146ddf91.txt", "seeds/001_404a93345931fd65.txt"}
JOHN_WICK = {"seeds/002_8bc465d4c9f8ae35.txt"}
RATED = "seeds/001_404a93345931fd65.txt"  # "Bewertung: 3.5 von 5."


@pytest.fixture(scope="module")
def seeds(indexed_data: Path, embedder: RememberingEmbedder) -> ReviewService:
    settings = Settings(_env_file=None, data_dir=indexed_data, reviews_dir=SEEDS)  # type: ignore[call-arg]
    return ReviewService(settings, embedder=embedder)


def _review_text(review_id: str) -> str:
    return " ".join((SEEDS.parent / review_id).read_text(encoding="utf-8").split())


def _quotes_are_verbatim(answer: Answer) -> None:
    for source in answer.sources:
        assert source.quote, source
        assert " ".join(source.quote.split()) in _review_text(source.review_id)
        assert source.polarity in ("positive", "negative", "mixed")


@pytest.mark.parametrize(
    "question",
    [
        "Is the Netflix Ballerina worth watching?",
        "Lohnt sich die Netflix-Ballerina?",
        "Wie kommt der südkoreanische Netflix-Film Ballerina bei den Kritikern an?",
        "Was sagen die Kritiken zur Netflix-Ballerina?",
        "How did critics like the Korean Netflix film Ballerina?",
        "Should I watch Ballerina from 2023?",
        "Ist Ballerina von Lee Chung-hyun gut?",
    ],
)
def test_a_verdict_counts_and_quotes_the_reviews_of_the_netflix_ballerina(
    seeds: ReviewService, question: str
) -> None:
    answer = seeds.ask(question)
    assert answer.kind == "verdict", answer.answer
    [opinion] = answer.opinions
    assert "2023" in opinion.work
    # Two reviews: one rated 3.5 of 5 (positive), one without a rating, counted by its text.
    assert (opinion.reviews, opinion.from_rating, opinion.from_text, opinion.rated) == (2, 1, 1, 1)
    assert opinion.average_rating == pytest.approx(0.7)
    assert {s.review_id for s in answer.sources} == NETFLIX
    rated = next(s for s in answer.sources if s.review_id == RATED)
    assert rated.polarity == "positive"
    _quotes_are_verbatim(answer)
    german = answer.language == "de"
    assert ("2 Rezensionen" if german else "2 reviews") in answer.answer
    assert ("Ø 3,5/5 aus 1 Wertung" if german else "average 3.5/5 from 1 rating") in answer.answer
    assert ("nach dem Text gezählt" if german else "counted by their text") in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "Welcher Ballerina kommt bei den Kritikern besser an?",
        "Which Ballerina do the critics like better?",
        "Which of the two Ballerina films got the better reviews?",
        "Welche Ballerina gefällt den Rezensenten am besten?",
        "Is the Netflix Ballerina better than the John Wick Ballerina?",
    ],
)
def test_a_comparison_names_both_ballerinas_with_their_counts(
    seeds: ReviewService, question: str
) -> None:
    answer = seeds.ask(question)
    assert answer.kind == "comparison", answer.answer
    assert len(answer.opinions) == 2
    by_year = {("2023" in o.work): o for o in answer.opinions}
    assert (by_year[True].reviews, by_year[True].rated) == (2, 1)
    assert (by_year[False].reviews, by_year[False].rated) == (1, 0)
    assert "Lee Chung-hyun" in answer.answer and "Len Wiseman" in answer.answer
    # Best liked first: by share of positive reviews, then the average rating.
    first, second = answer.opinions
    assert first.positive / first.reviews >= second.positive / second.reviews
    assert {s.review_id for s in answer.sources} == NETFLIX | JOHN_WICK
    _quotes_are_verbatim(answer)


def test_the_most_negative_and_the_most_positive_review_are_quoted(seeds: ReviewService) -> None:
    negative = seeds.ask("Which review is the most negative?")
    positive = seeds.ask("Welche Rezension ist am positivsten?")
    assert negative.kind == positive.kind == "extreme"
    assert negative.sources[0].review_id != positive.sources[0].review_id
    assert negative.sources[0].polarity != "positive"
    assert positive.sources[0].polarity != "negative"
    _quotes_are_verbatim(negative)
    _quotes_are_verbatim(positive)
    of_work = seeds.ask("What is the most negative review of the Netflix Ballerina?")
    assert of_work.kind == "extreme"
    assert of_work.sources[0].review_id in NETFLIX


def test_a_ranking_of_all_works_counts_every_review(seeds: ReviewService) -> None:
    answer = seeds.ask("Which film do the critics like most?")
    assert answer.kind == "comparison"
    assert sum(o.reviews for o in answer.opinions) == 3
    assert answer.answer.startswith("Best liked:")


def test_a_film_that_is_not_indexed_is_still_refused(seeds: ReviewService) -> None:
    answer = seeds.ask("Is the film Barbie worth watching?")
    assert answer.status == "not_found"
    assert "Barbie" in answer.answer


def test_a_fact_question_is_still_answered_from_the_text(seeds: ReviewService) -> None:
    answer = seeds.ask("Wer hat bei Ballerina Regie geführt?")
    assert answer.kind == "passages"
    assert "Lee Chung-hyun" in answer.answer and "Len Wiseman" in answer.answer


def test_works_show_each_works_positive_share_and_a_quoted_consensus(
    seeds: ReviewService, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = run_cli(["works", "--json"], seeds, capsys).json()
    assert isinstance(listed, list)
    by_year = {w["year"]: w["opinion"] for w in listed}
    netflix, john_wick = by_year[2023], by_year[2025]
    assert (netflix["counted"], netflix["from_rating"], netflix["from_text"]) == (2, 1, 1)
    assert netflix["positive"] + netflix["negative"] + netflix["mixed"] == 2
    assert (john_wick["counted"], john_wick["from_text"]) == (1, 1)
    for opinion, ids in ((netflix, NETFLIX), (john_wick, JOHN_WICK)):
        consensus = opinion["consensus"]
        assert consensus["review_id"] in ids
        assert " ".join(consensus["quote"].split()) in _review_text(consensus["review_id"])
    plain = run_cli(["works"], seeds, capsys)
    assert plain.exit_code == 0
    assert f"{netflix['positive']} of 2 positive · average 3.5/5 (1 rated) · " in plain.out
    assert " ".join(netflix["consensus"]["quote"].split()) in plain.out
    # The aspects the reviews' sentences are most about, counted.
    assert all(a["sentences"] > 0 for a in netflix["aspects"])


def test_an_aspect_question_quotes_sentences_about_the_aspect(seeds: ReviewService) -> None:
    answer = seeds.ask("Wie ist die Musik in der Netflix-Ballerina?")
    assert answer.kind == "aspect", answer.answer
    assert answer.aspect == "Musik"
    # Both reviews speak of the music: one of "Musik", the other of its "Score".
    assert answer.answer.startswith("Ballerina (2023, Lee Chung-hyun): Musik — 2 Rezensionen")
    assert all(re.search(r"musik|score", s.quote, re.I) for s in answer.sources)
    _quotes_are_verbatim(answer)


def test_a_how_question_without_an_opinion_is_answered_from_the_text(
    seeds: ReviewService,
) -> None:
    answer = seeds.ask("How is Ok-ju related to Min-hee in Ballerina?")
    assert answer.kind == "passages"


def _work_review(review_id: str, work: Work, *, rating: float | None, polarity: float) -> Review:
    stars = Rating(f"{rating * 5:g}/5", rating, 5) if rating is not None else None
    return Review(
        review_id, review_id, None, "txt", "", review_id, rating=stars, work=work, polarity=polarity
    )


def test_a_clearly_positive_unrated_review_inside_the_mixed_band_outranks_a_split_work() -> None:
    """One rated positive and one middling unrated review of A, one unrated review of B that
    reads positive but sits just inside the mixed band: B is liked better."""
    head = PolarityHead.load()
    low, high = head.mixed_band
    a, b = Work("a", "Ballerina", 2023), Work("b", "Ballerina", 2025)
    reviews = [
        _work_review("a1", a, rating=0.7, polarity=0.56),
        _work_review("a2", a, rating=None, polarity=0.5),
        _work_review("b1", b, rating=None, polarity=high - 0.03),
    ]
    reader = OpinionReader(
        reviews_of=lambda work_ids: [r for r in reviews if r.work and r.work.work_id in work_ids],
        chunks_of=lambda work_ids: [],
        sentences=lambda ids: {},
        head=head,
        embed_passages=None,
    )
    question = Question(text="Which Ballerina is better?", language="en", works=[a, b])
    question.opinion = "comparison"
    answer = answer_opinion(question, reader, [a, b])
    assert [o.work_id for o in answer.opinions] == ["b", "a"]
    assert answer.answer.startswith("Better liked: Ballerina (2025)")
    assert "how far each review leans" in answer.answer
    assert head.label(high - 0.03) == "mixed" and low < 0.5


@pytest.mark.parametrize(
    "question",
    [
        "Is the Korean Ballerina worth seeing?",
        "How good is the new Ballerina from 2025?",
        "Lohnt sich der Netflix-Film Ballerina?",
        "Lohnt sich Ballerina auf Netflix?",
        "Lohnt sich der John-Wick-Ableger Ballerina?",
        "netflix balerina - good or bad?",
    ],
)
def test_a_verdict_question_is_not_taken_for_an_aspect(seeds: ReviewService, question: str) -> None:
    answer = seeds.ask(question)
    assert answer.kind == "verdict", answer.answer
    assert answer.aspect is None and answer.opinions


def test_how_a_named_aspect_is_rated_is_answered_from_the_sentences_about_it(
    seeds: ReviewService,
) -> None:
    answer = seeds.ask("Wie wird die Musik der Netflix-Ballerina bewertet?")
    assert answer.kind == "aspect", answer.answer
    assert answer.aspect == "Musik"
    assert all(re.search(r"musik|score", s.quote, re.I) for s in answer.sources)
    rated = seeds.ask("Wie wurde die Netflix-Ballerina bewertet?")
    assert rated.kind == "metadata" and "3.5 von 5" in rated.answer


def test_an_aspect_outside_the_seed_list_is_answered_from_the_sentences_about_it(
    seeds: ReviewService,
) -> None:
    """ "Melancholie" is none of the seed aspects: the question's own noun is searched for,
    and the answer quotes the review sentence about the film's melancholy."""
    answer = seeds.ask("Was sagen die Kritiken über die Melancholie der koreanischen Ballerina?")
    assert answer.kind == "aspect", answer.answer
    assert answer.aspect == "Melancholie"
    assert answer.sources and all("melanchol" in s.quote.lower() for s in answer.sources)
    assert {s.review_id for s in answer.sources} <= NETFLIX
    _quotes_are_verbatim(answer)


def test_a_seed_aspect_no_review_speaks_of_is_answered_with_none_and_the_verdict(
    tmp_path: Path, embedder: RememberingEmbedder
) -> None:
    """No sentence speaks of the music: the answer says that none of the two reviews does,
    quotes nothing, and gives the work's verdict counts; the passages do not answer."""
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "ostsee.txt").write_text(
        "Titel: Kaltfront\n\nEin spannender Krimi an der Ostsee. Die Kommissarin ermittelt "
        "klug und ruhig. Der Fall bleibt bis zum Schluss offen, und das Ende überrascht.\n",
        encoding="utf-8",
    )
    (reviews / "zaeh.txt").write_text(
        "Titel: Kaltfront\n\nEin zäher Krimi. Die Ermittlungen ziehen sich über Stunden, und "
        "die Dialoge sind hölzern. Am Ende bleibt wenig hängen.\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    service = ReviewService(settings, embedder=embedder)
    service.index([reviews])

    music = service.ask("Lohnt sich Kaltfront wegen der Filmmusik?")
    verdict = service.ask("Lohnt sich Kaltfront?")

    assert music.kind == "aspect" and not music.sources, music.answer
    first, counts = music.answer.splitlines()
    assert first == "Kaltfront: Musik — keine der 2 Rezensionen spricht davon."
    assert counts == f"Gesamturteil — {verdict.answer.splitlines()[0]}"
    assert verdict.kind == "verdict" and verdict.opinions
    english = service.ask("How is the music in Kaltfront?")
    assert english.answer.startswith("Kaltfront: Music — none of its 2 reviews speaks of it.")


def test_a_sentence_that_only_comes_nearest_a_seed_aspect_is_not_counted_as_about_it(
    seeds: ReviewService,
) -> None:
    """The one review of the 2025 Ballerina speaks of neither its humour nor its picture
    quality. Of the humour it says nothing at all; the sentence nearest the picture quality
    ("… die Action … von bestechend hoher Qualität") is quoted as the nearest, not counted
    as a review about it."""
    humour = seeds.ask("How is the humour in Ballerina (2025)?")
    assert humour.kind == "aspect" and not humour.sources, humour.answer
    assert humour.answer.splitlines() == [
        "Ballerina (2025, Len Wiseman): Humour — its one review does not speak of it.",
        "Overall — Ballerina (2025, Len Wiseman): 1 of 1 review positive",
    ]
    picture = seeds.ask("Wie ist das Bild von Ballerina (2025)?")
    lines = picture.answer.splitlines()
    assert lines[0] == (
        "Ballerina (2025, Len Wiseman): Bildqualität — in der einen Rezension nicht genannt; "
        "am nächsten kommt dieser Satz:"
    )
    assert "(unten zitiert)" not in picture.answer
    assert lines[-1].startswith("Gesamturteil — Ballerina (2025, Len Wiseman): 1 von 1")
    _quotes_are_verbatim(picture)
