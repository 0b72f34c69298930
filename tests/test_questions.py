"""Reading questions: the works they name as people write them, titles that are not indexed,
and what they ask for (counts, averages, best and worst)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.engine.reading import read_question
from index.catalog import Catalog
from index.keyword import tokenize
from index.lexicon import Lexicon
from index.records import Review, Work

DING_LINES = """\
zwei :: two
Turm {m} | Türme {pl} :: tower | towers
finden {vt} | findet :: to find | finds
Parfum {n} :: perfume
Feuer {n} :: fire
Kelch {m} :: goblet; chalice
golden :: golden
Kompass {m} :: compass
"""

FILMS = {
    "Der Herr der Ringe - Die zwei Türme": "Helms Klamm raubt den Atem, Gandalf kehrt zurück.",
    "Das Parfum - Die Geschichte eines Mörders": "Grenouille riecht alles, die DVD ist gut.",
    "Die fabelhafte Welt der Amélie": "Paris leuchtet, die Melodien bleiben im Ohr.",
    "Der goldene Kompass": "Lyra reist nach Norden, die Bären kämpfen.",
    "Findet Nemo": "Dorie vergisst alles, der kleine Fisch sucht seinen Vater.",
    "Harry Potter und der Feuerkelch": "Das Trimagische Turnier ist gefährlich.",
    "Crank": "Chev Chelios muss in Bewegung bleiben, sonst stirbt er.",
    "Stargate": "Das Tor zu den Sternen öffnet sich in der Wüste.",
    "Stargate Continuum": "Die Zeitlinie wird verändert, Ba'al triumphiert.",
}


def _review(n: int, title: str, text: str, *, year: int | None = None) -> Review:
    work = Work(work_id=f"{title.lower().replace(' ', '-')}-{year or ''}", title=title, year=year)
    return Review(
        review_id=f"r{n}",
        source_path=f"r{n}.txt",
        record_key=None,
        format="txt",
        text=text,
        content_hash=str(n),
        title=title,
        year=year,
        work=work,
    )


@pytest.fixture(scope="module")
def reviews() -> list[Review]:
    catalogue = [_review(i, title, text) for i, (title, text) in enumerate(FILMS.items())]
    catalogue += [
        _review(20, "Ballerina", "Okju sucht Rache, Netflix zeigt den Film.", year=2023),
        _review(21, "Ballerina", "Eve kämpft mit Flammenwerfern.", year=2025),
    ]
    # Other films' reviews use "Leben" as a word: a film called "Leben" is named only in quotes.
    catalogue += [_review(30, "Leben", "Ein Drama über Familie.")]
    catalogue += [
        _review(40 + i, "Alltag", f"Das Leben ist schwer, sagt Film {i}; ein Leben lang.")
        for i in range(4)
    ]
    return catalogue


@pytest.fixture(scope="module")
def catalog(reviews: list[Review], tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    folder = tmp_path_factory.mktemp("lexicon")
    dictionary = folder / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=folder / "cache")
    return Catalog.build(reviews, lexicon=lexicon)


def _titles(question: str, catalog: Catalog) -> list[str]:
    return [w.title for w in read_question(question, catalog).works]


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("Wer spielt in Die zwei Türme mit?", "Der Herr der Ringe - Die zwei Türme"),
        ("Welche Schlacht in Die zwei Türme ist die beste?", "Der Herr der Ringe - Die zwei Türme"),
        ("Which battle in The Two Towers is breathtaking?", "Der Herr der Ringe - Die zwei Türme"),
        ("Does a Two Towers reviewer compare it to Harry Potter?", None),
        ("Wie gut ist die DVD von Das Parfum?", "Das Parfum - Die Geschichte eines Mörders"),
        (
            "How much extra material is on the Perfume DVD?",
            "Das Parfum - Die Geschichte eines Mörders",
        ),
        ("Wer schrieb die Melodien zu Amélie?", "Die fabelhafte Welt der Amélie"),
        ("Was gefiel ihm am Goldenen Kompass?", "Der goldene Kompass"),
        ("What did the trailer of The Golden Compass promise?", "Der goldene Kompass"),
        ("Wer spricht den Fisch in Findet Nmeo?", "Findet Nemo"),
        ("What brings some pep into Finding Nemo?", "Findet Nemo"),
        ("Which tournament is Goblet of Fire about?", "Harry Potter und der Feuerkelch"),
        ("Wer spielt in Harry Potter mit?", "Harry Potter und der Feuerkelch"),
    ],
)
def test_a_title_is_found_in_part_inflected_misspelt_or_translated(
    question: str, title: str | None, catalog: Catalog
) -> None:
    found = _titles(question, catalog)
    if title is None:  # two films named at once: both
        assert "Der Herr der Ringe - Die zwei Türme" in found
        assert "Harry Potter und der Feuerkelch" in found
    else:
        assert found == [title]


def test_two_films_of_one_title_are_both_named_unless_the_year_decides(catalog: Catalog) -> None:
    both = read_question("Wer hat bei Ballerina Regie geführt?", catalog)
    assert [w.year for w in both.works] == [2023, 2025]
    assert both.ambiguous
    one = read_question("Who directed Ballerina (2025)?", catalog)
    assert [w.year for w in one.works] == [2025]


def test_the_longer_title_wins_over_the_one_it_contains(catalog: Catalog) -> None:
    assert _titles("Wie endet Stargate Continuum?", catalog) == ["Stargate Continuum"]
    assert _titles("Wie endet Stargate?", catalog) == ["Stargate"]


def test_a_one_word_title_that_is_an_everyday_word_is_named_only_in_quotes(
    reviews: list[Review],
) -> None:
    plain = Catalog.build(reviews)
    assert read_question("Was lernt man über das Leben?", plain).works == []
    assert [w.title for w in read_question("Wie endet „Leben“?", plain).works] == ["Leben"]


def test_without_a_dictionary_german_titles_are_still_found(reviews: list[Review]) -> None:
    plain = Catalog.build(reviews)
    assert _titles("Worum geht es in Die zwei Türme?", plain) == [
        "Der Herr der Ringe - Die zwei Türme"
    ]


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("Who directed Casablanca?", "Casablanca"),
        ("Wer spielt die Hauptrolle in Titanic?", "Titanic"),
        ("Who plays the lead in 300?", "300"),
        ("Worum geht es in Der Pate?", "Der Pate"),
        ("Wie viele Rezensionen gibt es zu Eragon?", "Eragon"),
        ("Wer führte Regie bei Casablanca?", "Casablanca"),
        ("Is Casablanca worth watching?", "Casablanca"),
        ("Wie viele Sterne hat Pulp Fiction?", "Pulp Fiction"),
        # A review mentions it, but a count or rating of it is not one of all films.
        ("How many stars does Helms Klamm get?", "Helms Klamm"),
    ],
)
def test_a_title_that_is_not_indexed_is_named_and_not_counted(
    question: str, unknown: str, catalog: Catalog
) -> None:
    read = read_question(question, catalog)
    assert read.unknown_title == unknown
    assert read.works == []
    assert read.intent is None


@pytest.mark.parametrize(
    "question",
    [
        "Wie viele Filmkritiken sind insgesamt in der Sammlung?",
        "Was sagen die Rezensionen über die Musik?",
        "Which reviews are negative about the ending?",
        "Wer spielt Lyra in Der goldene Kompass?",
        "Welche Figur stirbt in Harry Potter und der Feuerkelch?",
        "Wie lange dauert Crank in Minuten?",
        "Was lernt man über das Leben?",
        "Which film has the best rating?",
        "Who won the World Cup in 2014?",
        "Wie viele Sterne hat der Film im Schnitt?",
        "Und wer hat Regie geführt?",
        # General knowledge: a place or thing is no title unless the question asks of a work.
        "Was ist die Hauptstadt von Frankreich?",
        "What is the capital of France?",
        "Wie hoch ist der Eiffelturm in Paris?",
    ],
)
def test_ordinary_questions_name_no_unknown_title(question: str, catalog: Catalog) -> None:
    assert read_question(question, catalog).unknown_title is None


@pytest.mark.parametrize(
    ("question", "unmentioned"),
    [
        ("Wie wird das Wetter morgen in Hamburg?", "Hamburg"),
        ("Was ist die Hauptstadt von Frankreich?", "Frankreich"),
        ("Wer spielt Lyra in Der goldene Kompass?", None),
        ("Worum geht es in Der Pate?", None),
    ],
)
def test_a_subject_no_review_mentions_is_told_apart_from_a_title(
    question: str, unmentioned: str | None, catalog: Catalog
) -> None:
    """No unknown title, but nothing the reviews could answer either: an LLM is not asked."""
    assert read_question(question, catalog).unmentioned == unmentioned


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("Wie viele Rezensionen gibt es zu Crank?", "count"),
        ("How many reviews of Crank are there?", "count"),
        ("How many legs does a spider have?", None),
        ("Which country is Amélie set in?", None),
        ("Can you count the explosions in Crank?", None),
        ("Wie viele Sterne hat Crank im Schnitt?", "average"),
        ("How many stars does Crank get on average?", "average"),
        ("What is the average rating of Crank?", "average"),
        ("Ist Crank nur mittelmäßig?", None),
        ("Wie viele Sterne gibt die Rezension zu Crank?", "ratings"),
        ("Welche Rezension hat die beste Bewertung?", "best"),
        ("Bestimmt gibt es eine Bewertung zu Crank, oder?", None),
        ("Which review has the lowest rating?", "worst"),
        ("Welcher Film ist am besten bewertet?", "best"),
        ("Welche Filme gibt es?", "list"),
        ("Wie viele Rezensionen erwähnen Tarantino?", None),
        ("What is the mean rating of Crank?", "average"),
        ("What does the title Crank mean?", None),
        ("Wie oft wurde Crank rezensiert?", "count"),
    ],
)
def test_intents_match_whole_words(question: str, intent: str | None, catalog: Catalog) -> None:
    assert read_question(question, catalog).intent == intent


@pytest.mark.parametrize(
    ("question", "aspect"),
    [
        ("Wer spielt die Hauptrolle in Crank?", "cast"),
        ("Spielt Jason Statham in Crank mit?", "cast"),
        ("Who stars in Crank?", "cast"),
        ("Wer hat bei Crank Regie geführt?", "director"),
        ("Wo spielt Crank?", None),
        ("Ist Crank durchgedreht?", None),
        ("Is the main factor in Crank the action?", None),
        ("How many stars does Crank get on average?", None),
        ("Is the soundtrack of Crank generic?", None),
    ],
)
def test_the_header_field_asked_is_read_from_whole_words(
    question: str, aspect: str | None, catalog: Catalog
) -> None:
    assert read_question(question, catalog).aspect == aspect


@pytest.mark.parametrize(
    ("question", "field", "described"),
    [
        ("When was the review of Crank written?", "date", None),
        ("Wann wurde die Rezension zu Crank geschrieben?", "date", None),
        ("Von wann ist die Kritik zu Findet Nemo?", "date", None),
        ("Who wrote the review of Crank?", "author", None),
        ("Wer hat die Rezension zu Crank verfasst?", "author", None),
        ("Who is the author of the review of Crank?", "author", None),
        ("Von wem stammt die Rezension zu Crank?", "author", None),
        ("Who reviewed Crank?", "author", None),
        ("Who wrote the novel Crank is based on, according to the review?", None, None),
        ("Which author wrote the novel Crank is based on, according to the review?", None, None),
        (
            "Wie viele Sterne vergibt der Rezensent, dem Crank zu laut war?",
            "rating",
            "Crank zu laut war",
        ),
        (
            "How many stars did the reviewer who found Crank boring give?",
            "rating",
            "found Crank boring give",
        ),
        (
            "How many stars did the review mentioning the cut of Crank give?",
            "rating",
            "mentioning the cut of Crank give",
        ),
        ("Wie viele Sterne gab der Fan, dem Crank zu laut war?", "rating", "Crank zu laut war"),
        ("Wie viele Sterne gibt die Rezension zu Crank?", None, None),
        ("How many stars does the reviewer of Crank give?", None, None),
        ("When was Crank released?", None, None),
        ("What is the release date of Crank according to the review?", None, None),
        ("Wann spielt Crank laut der Kritik?", None, None),
        ("Wann wurde Crank veröffentlicht?", None, None),
        ("Who is the author of Das Parfum?", None, None),
    ],
)
def test_a_field_of_one_review_is_told_from_a_question_about_the_film(
    question: str, field: str | None, described: str | None, catalog: Catalog
) -> None:
    read = read_question(question, catalog)
    assert (read.field, read.described) == (field, described)
    assert (read.intent == "field") == (field is not None)


def test_dictionary_file_is_a_real_ding_file(tmp_path: Path) -> None:
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=tmp_path / "cache")
    assert "tower" in lexicon.translate("Türme", source="de", target="en")


@pytest.mark.parametrize(
    ("question", "opinion"),
    [
        ("Is the Netflix Ballerina worth watching?", "verdict"),
        ("Lohnt sich Ballerina?", "verdict"),
        ("Wie kommt Crank an?", "verdict"),
        ("Was sagen die Kritiken zu Crank?", "verdict"),
        ("How did critics like Crank?", "verdict"),
        ("Ist Crank gut?", "verdict"),
        ("Did the critics like Stargate?", "verdict"),
        ("Sollte ich mir Crank ansehen?", "verdict"),
        ("Wie viele Rezensionen zu Crank sind positiv?", "verdict"),
        ("Welcher Ballerina kommt bei den Kritikern besser an?", "comparison"),
        ("Which film do the critics like most?", "comparison"),
        ("Which film got the worst reviews?", "comparison"),
        ("What's the verdict on Crank?", "verdict"),
        ("Wie fällt das Urteil über Crank aus?", "verdict"),
        ("Wie schneidet Crank bei den Kritikern ab?", "verdict"),
        ("Sind die Kritiken zu Crank gut?", "verdict"),
        ("Gefällt den Kritikern Crank?", "verdict"),
        ("Kann man sich Crank ansehen?", "verdict"),
        ("Welchen Film mögen die Kritiker am meisten?", "comparison"),
        ("Is Crank better than Stargate?", "comparison"),
        ("Which Ballerina is better?", "comparison"),
        ("Which Ballerina film did critics prefer?", "comparison"),
        ("Which review is the most negative?", "extreme"),
        ("What is the most negative review of Crank?", "extreme"),
        ("Welche Rezension ist am positivsten?", "extreme"),
        ("Welche Kritik ist die negativste?", "extreme"),
        ("crank - good or bad?", "verdict"),
        ("taugt crank was?", "verdict"),
        ("How good is Crank?", "verdict"),
        ("Was halten die Leute von Crank?", "verdict"),
        ("Welche Ballerina würden die Kritiker eher empfehlen?", "comparison"),
        ("which ballerina is better according to the reviews", "comparison"),
        ("Which Ballerina should I watch?", "comparison"),
        ("Ballerina 2023 vs Ballerina 2025?", "comparison"),
        ("Was ist besser: Crank oder Stargate?", "comparison"),
        ("How is Crank?", "verdict"),
        ("Who liked Crank the most?", "extreme"),
        ("Which film do reviewers hate the most?", "comparison"),
        ("Wie war Stargate?", "verdict"),
        ("How is the ending of Crank?", "aspect"),
        ("Which Ballerina do critics rate higher?", "comparison"),
        ("Welcher Ballerina-Film hat die besseren Kritiken?", "comparison"),
        ("Was taugt Crank?", "verdict"),
        ("Should I skip Crank?", "verdict"),
        # An opinion only if the finder names an aspect ("Wie ist die Musik in X?").
        ("Wie ist die Musik in Crank?", "aspect"),
        ("How good is the acting in Crank?", "aspect"),
        ("Taugt die Bildqualität der Stargate-DVD?", "aspect"),
        # "Wie gut …" / "How well …" with any verb asks a judgement of how the work does it.
        ("Wie gut hält sich der Feuerkelch an das Buch?", "aspect"),
        ("How well does Der goldene Kompass follow the novel?", "aspect"),
        ("Wie gut setzt Crank die Action um?", "aspect"),
        # "how's", a judging verb first, "what about": an aspect, if the finder names one.
        ("How's the soundtrack of Crank?", "aspect"),
        ("how’s the acting in Crank", "aspect"),
        ("Überzeugt die Geschichte von Crank?", "aspect"),
        ("Gefällt die Musik in Crank?", "aspect"),
        ("Funktioniert der Humor in Crank?", "aspect"),
        ("What about the ending of Crank?", "aspect"),
        ("Und was ist mit der Musik in Crank?", "aspect"),
        ("Wie bewerten die Rezensenten die Effekte in Crank?", "aspect"),
        ("Is the acting in Crank convincing?", "aspect"),
        ("Kann die Musik in Crank überzeugen?", "aspect"),
        ("Wie steht es um die Bildqualität von Crank?", "aspect"),
        ("Crank: wie ist die Musik?", "aspect"),
        ("What's the acting like in Crank?", "aspect"),
        ("How does the music in Crank hold up?", "aspect"),
        ("Wie gelungen ist die Musik in Crank?", "aspect"),
        ("What are the reviews saying about the action in Crank?", "aspect"),
        ("Opinions on the soundtrack of Crank?", "verdict"),
        # Not opinions: facts, fields and what the metadata answers.
        ("Welche Schlacht in Die zwei Türme ist die beste?", None),
        ("Wer hat bei Ballerina Regie geführt?", None),
        ("Welcher Film ist am besten bewertet?", None),
        ("Wie viele Rezensionen gibt es zu Crank?", None),
        ("Welcher Kritiker nennt den Film ein Monster?", None),
        ("How does Stargate end?", None),
        ("Who is the villain in Crank?", None),
        # Whole words only: "Howson", "überzeugend", "Gefällte" start no question.
        ("Howson's review of Crank is long.", None),
        ("Überzeugende Argumente hat Crank nicht.", None),
        ("Wie lang ist Crank?", None),
        ("How does Crank hold its villain back?", None),
    ],
)
def test_opinion_questions_are_told_by_their_wording(
    question: str, opinion: str | None, catalog: Catalog
) -> None:
    read = read_question(question, catalog)
    assert read.opinion == opinion
    if opinion == "extreme":
        assert read.extreme == ("negative" if "negativ" in question else "positive")
    if opinion == "comparison":
        assert read.extreme == ("negative" if "worst" in question or "hate" in question else None)


def test_a_year_picks_among_works_of_one_title_and_keeps_the_other_titles(catalog: Catalog) -> None:
    question = "Is Crank liked better than the 2023 Ballerina?"
    read = read_question(question, catalog)
    assert sorted((w.title, w.year) for w in read.works) == [("Ballerina", 2023), ("Crank", None)]
    assert read.opinion == "comparison"


def test_a_comparison_that_names_one_of_two_works_of_a_title_compares_both(
    catalog: Catalog,
) -> None:
    read = read_question("Is the 2025 Ballerina better than the other one?", catalog)
    assert sorted(w.year or 0 for w in read.works) == [2023, 2025]
    assert read.opinion == "comparison"
    verdict = read_question("Is the 2025 Ballerina worth watching?", catalog)
    assert [w.year for w in verdict.works] == [2025]


def test_who_liked_a_film_least_asks_for_its_most_negative_review(catalog: Catalog) -> None:
    read = read_question("Wer mochte Crank am wenigsten?", catalog)
    assert (read.opinion, read.extreme) == ("extreme", "negative")


def test_an_opinion_question_keeps_the_metadata_intents_apart(catalog: Catalog) -> None:
    assert read_question("Welcher Film ist am besten bewertet?", catalog).intent == "best"
    counted = read_question("Wie viele Rezensionen zu Crank sind positiv?", catalog)
    assert counted.intent is None  # the verdict counts positive reviews, not all of them


@pytest.mark.parametrize(
    "question", ["Wie viele Rezensionen loben Crank?", "How many reviews recommend Crank?"]
)
def test_a_count_of_the_reviews_that_like_a_film_asks_a_verdict(
    question: str, catalog: Catalog
) -> None:
    read = read_question(question, catalog)
    assert (read.intent, read.opinion) == (None, "verdict")


def test_a_follow_up_asks_a_verdict_of_the_last_film(catalog: Catalog) -> None:
    crank = read_question("Wer spielt in Crank mit?", catalog).works
    read = read_question("Und lohnt er sich?", catalog, previous_works=crank)
    assert read.opinion == "verdict"
    assert [w.title for w in read.works] == ["Crank"]


@pytest.mark.parametrize(
    "question",
    [
        "Which other Hugh Jackman film does a Crank reviewer recommend instead?",
        "Which trilogy is worse than Crank, according to one fan?",
        "Is Titanic worth watching?",
    ],
)
def test_what_one_reviewer_says_or_a_film_not_indexed_is_no_opinion_question(
    question: str, catalog: Catalog
) -> None:
    assert read_question(question, catalog).opinion is None


def test_an_adjective_before_a_shared_title_picks_the_work_whose_reviews_use_it() -> None:
    korean = "Ein südkoreanischer Rachethriller: die koreanische Heldin Okju sucht Rache."
    reviews = [
        _review(1, "Ballerina", korean, year=2023),
        _review(2, "Ballerina", "Eve kämpft mit Flammenwerfern in Prag.", year=2025),
    ]
    # Each review is one chunk; its work counts each stem once, as the index does.
    vocabulary = {
        r.work.work_id: Counter(
            set(tokenize(r.text, language="de")) | set(tokenize(r.text, language="en"))
        )
        for r in reviews
        if r.work
    }
    catalog = Catalog.build(reviews, vocabulary=vocabulary)
    for question in (
        "Was sagen die Kritiken über die Geschichte der koreanischen Ballerina?",
        "Is the Korean Ballerina worth watching?",
    ):
        read = read_question(question, catalog)
        assert [w.year for w in read.works] == [2023], question
    # A word elsewhere in the question needs more than one mention to decide.
    both = read_question("Wie ist die Heldin in Ballerina?", catalog)
    assert [w.year for w in both.works] == [2023, 2025]


def test_a_word_counts_with_its_dictionary_translations_when_a_shared_title_is_narrowed(
    tmp_path: Path,
) -> None:
    reviews = [
        _review(i, "Ballerina", f"Der Kampf im Turm ist Szene {i}.", year=2023) for i in range(3)
    ]
    reviews.append(_review(9, "Ballerina", "Eve kämpft mit Flammenwerfern in Prag.", year=2025))
    vocabulary: dict[str, Counter[str]] = {}
    for r in reviews:
        if r.work:
            vocabulary.setdefault(r.work.work_id, Counter()).update(
                set(tokenize(r.text, language="de")) | set(tokenize(r.text, language="en"))
            )
    catalog = Catalog.build(reviews, vocabulary=vocabulary)
    dictionary = tmp_path / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=tmp_path / "cache")
    question = "Who wins the fight in the tower in Ballerina?"
    read = read_question(question, catalog, lexicon=lexicon)
    assert [w.year for w in read.works] == [2023]
    assert read.deciding == ["tower"]
    # Without a dictionary nothing says "tower" is "Turm": both films stay.
    assert [w.year for w in read_question(question, catalog).works] == [2023, 2025]
