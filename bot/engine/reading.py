"""Reads a question: its language, the works it names, what it asks about."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.catalog import Catalog
from index.language import detect_language
from index.lexicon import Lexicon
from index.records import Work
from index.titles import ARTICLES
from index.works import normalize

# Which header field a question asks about, by its wording (German and English).
ASPECTS: dict[str, re.Pattern[str]] = {
    "director": re.compile(
        r"\b(?:regie\w*|regisseur\w*|inszeniert\w*|gedreht|directed|directors?|direction|"
        r"filmmakers?)\b",
        re.I,
    ),
    # "Wo spielt der Film?" and "Wann spielt er?" ask the setting, not the cast.
    "cast": re.compile(
        r"\b(?:hauptrollen?|hauptdarsteller\w*|darsteller\w*|schauspieler\w*|besetzung|"
        r"cast|stars?|starring|plays?|played|actors?|actress(?:es)?|lead)\b|"
        r"(?<!\bwo )(?<!\bwann )\bspiel(?:t|en|te|ten)\b",
        re.I,
    ),
    "release": re.compile(
        r"\b(?:gestartet|startete?|starttermin|kinostart|release date|premiere[d]?)\b|"
        r"\bwhen (?:was|did) .* (?:come out|open)\b",
        re.I,
    ),
    "year": re.compile(
        r"\b(?:welchem jahr|erscheinungsjahr|wann (?:kam|erschien)|what year|release year)\b|"
        r"\bwhen was .* released\b",
        re.I,
    ),
    "genre": re.compile(r"\bgenres?\b", re.I),
    "age_rating": re.compile(r"\bfsk\b|\baltersfreigabe\b|\bage rating\b|\bab \d+\b", re.I),
}

DATA = Path(__file__).resolve().parent.parent / "data"
QUESTION_WORDS_FILE = DATA / "question_words.json"


def _question_words() -> frozenset[str]:
    """Words that say what a question is about in general, or ask, not what would answer
    it: counted from dev questions and their reviews (scripts/count_question_words.py)."""
    data = json.loads(QUESTION_WORDS_FILE.read_text(encoding="utf-8"))
    interrogatives = {w for words in data["interrogatives"].values() for w in words}
    # The rest of a hand-written list that counting does not find yet; the file says why.
    kept = json.loads((DATA / "question_words_kept.json").read_text(encoding="utf-8"))
    counted = frozenset(data["asking"]) | frozenset(data["generic"]) | interrogatives
    return counted | frozenset(kept["words"])


GENERIC_WORDS = _question_words()


def _synonyms() -> dict[str, tuple[str, ...]]:
    """Review vocabulary across languages and near neighbours ("music": "Musik", "Score"):
    a hand-written table, whose source and cost of removal bot/data/synonyms.json states."""
    data = json.loads((DATA / "synonyms.json").read_text(encoding="utf-8"))
    return {word: tuple(others) for word, others in data["synonyms"].items()}


SYNONYMS = _synonyms()

_RATING_INTENTS = ("average", "ratings", "best", "worst")
_COUNT = re.compile(
    r"\bwie ?viele?\b|\banzahl\b|\bhow many\b|\bnumber of\b|\bcount\b|\bwie oft\b|"
    r"\bhow often\b",
    re.I,
)
# What a count counts: reviews, ratings or works, not the legs of a spider.
_COUNTED = re.compile(
    # German nouns of a review at the end of a compound ("Filmkritiken"), not at its start
    # ("Kritikpunkte"); the others whole, inflected ("workers" counts no works).
    r"\b\w*(?:rezension|kritik|bewertung|besprechung)(?:en)?\b|\b\w*kritiker(?:n|in|innen)?\b|"
    r"\b\w*film(?:e|en|s)?\b|"
    r"\b(?:reviews?|reviewers?|ratings?|critiques?|movies?|werke?n?|works?|titel|titles?|"
    r"autor(?:en|in|innen)?|authors?)\b|\b(?:rezensiert|besprochen|bewertet|rated)\b",
    re.I,
)
# A count of works, not of their reviews: "Wie viele Filme gibt es?".
_COUNTS_WORKS = re.compile(
    r"\b(?:wie ?viele|how many|anzahl der|number of)\s+(?:verschiedene\w*\s+|different\s+)?"
    r"(?:filme|films|movies|werke|works|titel|titles)\b",
    re.I,
)


def _star_numbers() -> dict[str, int]:
    """Numbers written as words, for "nur einen Stern", "five stars": the cardinals of
    bot/data/number_words.json (Unicode CLDR) and the indefinite articles as one."""
    numbers = json.loads((DATA / "number_words.json").read_text(encoding="utf-8"))
    articles = json.loads((DATA / "articles.json").read_text(encoding="utf-8"))["indefinite"]
    words = {w: int(n) for n, forms in numbers["cardinals"].items() for w in forms}
    return words | dict.fromkeys([*numbers["one"], *articles["de"], *articles["en"]], 1)


_STAR_NUMBERS = _star_numbers()
# The rating a count counts: "mit 5 Sternen", "nur einen Stern", "5/5", "one star".
_STARS_COUNTED = re.compile(
    rf"\b(?P<n>\d+(?:[.,]5)?|{'|'.join(_STAR_NUMBERS)})(?:\s+|-)(?:sterne?n?|stars?|punkte?n?|points?)"
    r"(?![^\W_])|"
    r"\b(?P<value>\d+(?:[.,]5)?)\s*(?:/|von|of|out of)\s*(?P<scale>\d+)\b",
    re.I,
)
_AVERAGE = re.compile(
    r"\b(?:durchschnitt\w*|im schnitt|im mittel|mittelwert|average|mean rating|on average)\b",
    re.I,
)
# "mean" is an average only beside a rating word: "What does the title mean?" is not.
_MEAN = re.compile(r"\bmean\b", re.I)
_BEST = re.compile(
    r"\bbeste[nrs]?\b|\bam besten\b|\bhöchste[nrs]?\b|\bbest\b|\bhighest\b|\btop[- ]rated\b",
    re.I,
)
_WORST = re.compile(
    r"\bschlechteste[nrs]?\b|\bam schlechtesten\b|\bniedrigste[nrs]?\b|\bworst\b|\blowest\b",
    re.I,
)
_RATING_WORDS = re.compile(
    r"\bbewert\w*|\bwertung\w*|\brating\w*|\brated\b|\bsterne?n?\b|\bpunkte?n?\b|\bscores?\b|"
    r"\bnoten?\b|\bstars?\b",
    re.I,
)
_LIST_WORKS = re.compile(
    r"\bwelche (?:filme|werke)\b|\bwhich (?:films|movies|works)\b|"
    r"\blist (?:the |all )?(?:films|movies|works)\b",
    re.I,
)
_RATINGS_ASKED = re.compile(
    r"\bwie (?:wurde|wird|hat|ist) .*\b(?:bewertet|abgeschnitten)\b|"
    r"\bwelche (?:wertung|bewertung|note)n?\b|\bwie viele (?:sterne|punkte)\b|"
    r"\bwhat (?:rating|score)s?\b|\bhow (?:was|is|did) .*\b(?:rated|rate)\b|"
    r"\bhow many (?:stars|points)\b|\brating (?:of|for|did)\b",
    re.I,
)
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
# Words that show a question continues the previous one ("Und wer spielt die Hauptrolle?").
_FOLLOW_UP = re.compile(
    r"^\s*(?:und|and|also|auch|what about|how about|was ist mit)\b|"
    r"\b(?:er|ihm|ihn|ihr|ihre[mnrs]?|sein(?:e[mnrs]?)?|dessen|deren|he|she|it|its|his|hers?|"
    r"they|their|them|this film|the film|that film|der film|dem film|den film|dieser film|"
    r"diesem film|dort|there)\b",
    re.I,
)


@dataclass
class Question:
    """What a question asks, as far as metadata can tell."""

    text: str
    language: str
    works: list[Work] = field(default_factory=list)
    ambiguous: bool = False
    aspect: str | None = None
    intent: str | None = None
    author: str | None = None
    inherited: bool = False
    names: list[str] = field(default_factory=list)
    unknown_title: str | None = None
    # A place or thing asked about that no review mentions and that the question does not
    # treat as a work ("Hamburg" in "Wie wird das Wetter morgen in Hamburg?").
    unmentioned: str | None = None
    # Words that picked one of several works sharing a title ("Netflix", "John Wick").
    deciding: list[str] = field(default_factory=list)
    # The language or script the question is written in when it is neither German nor
    # English ("fr", "ru", "cyrillic", "cjk"); word matching cannot read it.
    foreign: str | None = None
    # What an opinion question asks ("verdict", "comparison", "extreme", or "aspect" when it
    # is one only if it names an aspect: "Wie ist die Musik in X?"), and for "extreme" which
    # end ("positive" or "negative"); "negative" for a comparison that asks the least liked.
    opinion: str | None = None
    extreme: str | None = None
    # For intent "field": which field of a review is asked ("rating", "date", "author"), and
    # the words that describe one review ("dem … zu schleimig war"), if the question has some.
    field: str | None = None
    described: str | None = None
    # For intent "count": whether works are counted rather than reviews, and the rating on
    # the reviews' own scale that the counted reviews give ("wie viele geben 5 Sterne").
    counts_works: bool = False
    stars: float | None = None
    stars_scale: int | None = None


def read_question(
    text: str,
    catalog: Catalog,
    *,
    previous_works: Sequence[Work] = (),
    lexicon: Lexicon | None = None,
) -> Question:
    """Analyse ``text`` against the indexed catalogue; ``previous_works`` serve follow-ups.

    The question's words are looked up in the catalogue, never matched against every
    review. The works' word counts let words like "Netflix" or "John Wick" pick one of
    several works that share a title; ``lexicon`` lets a word count with its translations.
    """
    language = detect_language(text, default="en" if re.search(r"[a-z]", text) else "de")
    if re.search(r"[äöüß]", text, re.I):
        language = "de"
    question = Question(text=text, language=language, foreign=foreign_language(text))
    question.aspect = next((name for name, p in ASPECTS.items() if p.search(text)), None)
    question.intent = _intent(text)
    if question.aspect == "age_rating" and question.intent == "ratings":
        question.intent = None  # "What is the FSK age rating?" asks a field, not the stars
    if question.aspect == "cast" and question.intent in _RATING_INTENTS:
        question.aspect = None  # "How many stars …" counts stars, not actors
    if question.intent == "count" and _MENTIONS.search(text):
        question.intent = None  # the reviews that mention it are found in their text
    if question.intent == "count":
        question.counts_works = bool(_COUNTS_WORKS.search(text))
        question.stars, question.stars_scale = _stars_counted(text)
    question.field, question.described = review_field_asked(text, question.intent)
    if question.field and question.field != "rating":
        # "Wann wurde die 1-Sterne-Rezension zu X geschrieben?" asks of the reviews giving 1.
        question.stars, question.stars_scale = _stars_counted(text)
    if question.field:
        question.intent, question.aspect = "field", None
    question.author = catalog.author_in(text)
    works = _named_works(text, catalog)
    question.opinion, question.extreme = opinion_asked(text, question.intent, works=works)
    # A comparison of works that share a title compares them all ("Is the Netflix Ballerina
    # better than the John Wick one?").
    if len(works) > 1 and question.opinion != "comparison":
        works, question.deciding = _narrow_by_vocabulary(text, works, catalog, lexicon, language)
    if question.opinion:
        question.intent = None
    # In a chat, a question about the text that names no film goes on about the last one;
    # a count, a list or a ranking of all films only when it says so ("und wie viele
    # Rezensionen gibt es dazu?").
    continues = (question.intent is None and question.opinion != "comparison") or (
        _FOLLOW_UP.search(text)
    )
    if not works and previous_works and not question.author and continues:
        works, question.inherited = list(previous_works), True
        if question.opinion is None:  # "Und lohnt er sich?" asks a verdict of the last film
            question.opinion, question.extreme = opinion_asked(text, question.intent, works=works)
            if question.opinion:
                question.intent = None
    question.works = works
    question.names = catalog.names_in(text)
    if not works:
        question.unknown_title, question.unmentioned = _unknown_title(
            text, catalog, language, counted=question.intent is not None
        )
        if question.unknown_title:
            question.intent = None  # no count or rating of a work that is not indexed
    shared = {normalize(w.title) for w in works}
    question.ambiguous = len(works) > 1 and len(shared) == 1
    if question.unknown_title:
        question.opinion = question.extreme = None  # no opinion of a work that is not indexed
    return question


# Stop-word lists of the languages bm25s ships, by the code a question's language is told in.
_STOPWORD_LISTS = {
    "de": "STOPWORDS_GERMAN",
    "en": "STOPWORDS_EN_PLUS",
    "fr": "STOPWORDS_FRENCH",
    "es": "STOPWORDS_SPANISH",
    "it": "STOPWORDS_ITALIAN",
    "pt": "STOPWORDS_PORTUGUESE",
    "nl": "STOPWORDS_DUTCH",
    "da": "STOPWORDS_DANISH",
    "sv": "STOPWORDS_SWEDISH",
    "no": "STOPWORDS_NORWEGIAN",
    "tr": "STOPWORDS_TURKISH",
    "ru": "STOPWORDS_RUSSIAN",
}


def foreign_language(text: str) -> str | None:
    """The language (or, failing that, the script) of a question that is neither German nor
    English, or None.

    Two letters or more of another script than Latin name that script ("cyrillic", "cjk")
    unless stop words say the language; Latin text is foreign when another language's stop
    words outnumber those of German and of English, or match them and the text has letters
    neither language writes ("réalisé", "dirigió").
    """
    # Names say nothing of the language: "Min" in "Min-hee" is no Danish stop word.
    found = list(re.finditer(r"[^\W\d_]+", text))
    words = [
        m.group(0).lower()
        for i, m in enumerate(found)
        if (i == 0 or m.group(0).islower()) and len(m.group(0)) > 1
    ]
    counts = {code: sum(w in stops for w in words) for code, stops in _stopwords().items()}
    ours = max(counts["de"], counts["en"])
    best = max((c for c in counts if c not in ("de", "en")), key=lambda c: counts[c])
    scripts = Counter(_script(c) for c in text if c.isalpha())
    other_script = [name for name, n in scripts.most_common() if name != "latin" and n >= 2]
    if other_script:
        return best if counts[best] > ours else other_script[0]
    if counts[best] > ours:
        return best
    if re.search(r"[^\Wa-zäöüß\d_]", text.lower()) and counts[best] >= ours:
        return best if counts[best] else "other"
    return None


def _script(letter: str) -> str:
    name = unicodedata.name(letter, "")
    if name.startswith("CJK") or "HIRAGANA" in name or "KATAKANA" in name:
        return "cjk"
    return name.split()[0].lower() if name else "unknown"


def _stopwords() -> dict[str, frozenset[str]]:
    if not _STOPWORDS:
        from bm25s import stopwords

        _STOPWORDS.update(
            {code: frozenset(getattr(stopwords, name)) for code, name in _STOPWORD_LISTS.items()}
        )
    return _STOPWORDS


_STOPWORDS: dict[str, frozenset[str]] = {}


def _stars_counted(text: str) -> tuple[float | None, int | None]:
    """The rating a count of reviews is limited to, and its scale if the question says it."""
    match = _STARS_COUNTED.search(text)
    if match is None:
        return None, None
    if match.group("value"):
        return float(match.group("value").replace(",", ".")), int(match.group("scale"))
    number = match.group("n").lower()
    value = _STAR_NUMBERS.get(number)
    return (float(number.replace(",", ".")) if value is None else float(value)), None


def _intent(text: str) -> str | None:
    if _LIST_WORKS.search(text):
        return "list"
    rating = _RATING_WORDS.search(text)
    if (_AVERAGE.search(text) and (rating or not _COUNT.search(text))) or (
        rating and _MEAN.search(text)
    ):
        return "average"  # "Wie viele Sterne hat X im Schnitt?" asks the mean
    if re.search(r"\bwie viele (?:sterne|punkte)\b|\bhow many (?:stars|points)\b", text, re.I):
        return "ratings"
    if _COUNT.search(text) and _COUNTED.search(text):
        return "count"
    if rating and _BEST.search(text):
        return "best"
    if rating and _WORST.search(text):
        return "worst"
    if re.search(r"\bbesten bewertet\b|\b(?:best|highest)[- ]rated\b", text, re.I):
        return "best"
    if re.search(r"\bschlechtesten bewertet\b|\b(?:worst|lowest)[- ]rated\b", text, re.I):
        return "worst"
    if _RATINGS_ASKED.search(text):
        return "ratings"
    return None


# A review as the thing asked about ("die Rezension", "the review", "der Rezensent").
_REVIEW_NOUN = (
    r"(?:rezension(?:en)?|kritik(?:en)?|besprechung(?:en)?|rezensent(?:in|en)?|"
    r"kritiker(?:in|s)?|reviews?|reviewers?|critiques?|critics?)"
)
_REVIEW_NOUN_WORD = re.compile(rf"\b{_REVIEW_NOUN}\b", re.I)
_REVIEWED = re.compile(r"\b(?:rezensiert|reviewed)\b", re.I)
_WRITTEN = (
    r"(?:geschrieben|verfasst|veröffentlicht|erschienen|abgegeben|schrieb|verfasste|"
    r"written|wrote|write|posted|published|submitted)"
)
# "Wann wurde die Rezension geschrieben?", "Von wann ist die Kritik?", "the review's date".
_REVIEW_DATE = re.compile(
    rf"\b(?:wann|when|in welchem jahr|what year|which year|an welchem tag|on what day|"
    rf"which day)\b.*\b{_WRITTEN}\b|\bvon wann\b|"
    # "release date", "Startdatum" are the film's.
    r"(?<!release )(?<!premiere )(?<!start )\b(?:datum|date|dated|datiert)\b",
    re.I,
)
# "Wer hat die Rezension geschrieben?", "Who wrote the review?", "Wer hat X rezensiert?".
_REVIEW_AUTHOR = re.compile(
    # "Wer hat die Rezension geschrieben?", "Who wrote the review of X?", "Wer hat X rezensiert?"
    rf"\b(?:wer|who|von wem|by whom)\b.*\b{_REVIEW_NOUN}\b.*\b(?:{_WRITTEN}|stammt)\b|"
    rf"\b(?:von wem|by whom)\b.*\b(?:{_WRITTEN}|stammt)\b.*\b{_REVIEW_NOUN}\b|"
    rf"\b(?:wer|who)\s+(?:\w+\s+){{0,2}}?{_WRITTEN}\s+(?:the|this|that|a)?\s*(?:\w+\s+)?"
    rf"{_REVIEW_NOUN}\b|\b(?:wer|who|von wem|by whom)\b.*\b(?:rezensiert|reviewed)\b|"
    # The author of the review, not of the novel a film is based on.
    rf"\b(?:autor(?:in)?|author|verfasser(?:in)?|writer)\s+(?:of\s+(?:the|this|that)|der|des|"
    rf"dieser|zur|zum)\s+(?:\w+\s+)?{_REVIEW_NOUN}\b|"
    rf"\b{_REVIEW_NOUN}(?:'s|s)?\s+(?:author|writer|autor(?:in)?|verfasser(?:in)?)\b",
    re.I,
)
# One review picked out by what it says: "der Rezensent, dem X zu schleimig war", "the
# reviewer who called X boring", "die Rezension, in der …"; the words after it describe it.
# Who wrote one review, besides the review nouns: "der Fan, dem …", "the viewer who …".
_WRITER_NOUN = (
    rf"(?:{_REVIEW_NOUN}|fans?|zuschauer(?:in)?|käufer(?:in)?|kunden?|kundin|viewers?|buyers?|"
    r"customers?)"
)
_ONE_REVIEW = re.compile(
    rf"\b(?:der|die|den|dem|des|jene[mnrs]?|dieser?|the|that|a|one|ein(?:e[mnrs]?)?)\s+"
    rf"(?:\w+\s+)?{_WRITER_NOUN}(?:"
    rf"(?:\s+[\w'’-]+){{0,4}}?\s*,?\s+(?:(?:in|bei|für|nach|von|mit|of|to|for|from)\s+)?"
    r"(?:der|die|dem|den|dessen|deren|welche[mnrs]?|who|whom|whose|that|which|where)\b"
    # "the review calling Crank a C-movie": an English participle says it too.
    r"|\s+(?=[a-z]+ing\b))"
    r"(?P<described>.+)$",
    re.I,
)


def review_field_asked(text: str, intent: str | None) -> tuple[str | None, str | None]:
    """The field of a review a question asks, and what describes that review, if it does.

    A date or an author is asked of a review ("Wann wurde die Rezension zu X geschrieben?");
    a rating is asked of one review when the question describes it ("Wie viele Sterne vergibt
    der Rezensent, dem X zu schleimig war?"); "Wie viele Sterne hat X?" asks all ratings.
    """
    one = _ONE_REVIEW.search(text)
    described = one.group("described").strip(" ,?!.") if one else None
    if _REVIEW_NOUN_WORD.search(text) or _REVIEWED.search(text):
        if _REVIEW_DATE.search(text):
            return "date", described
        if _REVIEW_AUTHOR.search(text):
            return "author", described
    if intent == "ratings" and described:
        return "rating", described
    return None, None


def _named_works(text: str, catalog: Catalog) -> list[Work]:
    """Works whose title, or director, the question names; narrowed by year and people."""
    by_title = [m.work for m in catalog.titles.find(text)]
    by_person = catalog.works_by_person(text)
    candidates = by_title or by_person
    years = {int(y) for y in _YEAR.findall(text)}
    if years:
        # A year picks among works of one title; another title the question names stays
        # ("Is X liked better than the 2019 Nachtfalter?").
        dated = {normalize(w.title) for w in candidates if w.year in years}
        candidates = [w for w in candidates if w.year in years or normalize(w.title) not in dated]
    if by_title and (narrowed := [w for w in candidates if w in by_person]):
        candidates = narrowed
    if len(candidates) == 1 and _COMPARES.search(text):
        # "Is the John Wick Ballerina better than the Korean one?" compares both.
        candidates = catalog.works_titled(candidates[0].title)
    return sorted(candidates, key=lambda w: (w.year or 0, w.work_id))


# A comparison of two things the question names ("X better than Y", "X oder Y").
_COMPARES = re.compile(
    r"\b(?:better|worse|besser|schlechter|more|mehr|lieber|prefer\w*)\b.*"
    r"\b(?:than|als|or|oder|vs\.?|versus)\b|\b(?:or|oder|vs\.?|versus)\b.*"
    r"\b(?:better|worse|besser|schlechter|more|mehr|lieber|prefer\w*)\b",
    re.I,
)


# "the film Sternenstaub über Kiel", "der Film „Nebelwal“": a title the question names.
_NAMED_TITLE = re.compile(
    r"\b(?:film|movie|filme?s?|serie|series)\s+[„“\"'«]?"
    r"([A-ZÄÖÜ][\w'’-]*(?:\s+(?:[a-zäöü]{1,4}\s+)?[A-ZÄÖÜ0-9][\w'’-]*)*)"
)
_QUOTED_TITLE = re.compile(r"[„“\"«]([^„“”\"«»]{2,60})[“”\"»]")
# A capitalised span where questions put a title: after "in", "von", "about", "of" ... or
# at the end of the question ("Worum geht es in Der Pate?", "Who plays the lead in 300?").
_SLOT_TITLE = re.compile(
    r"(?:\b(?:in|von|vom|zu|zum|über|bei|beim|about|of|on|for|für)\s+|"
    r"(?<=\w)\s+(?=\S+\s*[?!.]?\s*$)|"
    # The subject or object of a question's verb: "Is Casablanca worth it?", "Wie viele
    # Sterne hat Pulp Fiction?", "Wer hat Casablanca gedreht?".
    r"(?i:\b(?:is|was|are|were|does|did|do|has|had|have|watch|see|rate|recommend|ist|war|"
    r"sind|hat|hatte|haben|endet|lohnt sich|kostet|dauert|bekommt|bekam|taugt|gefällt)\s+))"
    r"((?:(?:Der|Die|Das|The|A)\s+)?[A-ZÄÖÜ0-9][\w'’-]*"
    r"(?:\s+(?:[a-zäöü]{1,4}\s+)?[A-ZÄÖÜ0-9][\w'’-]*)*)"
)

_GERMAN_SLOT = re.compile(r"\b(?:in|von|vom|zu|zum|über|für|bei|beim)\s+$", re.I)
# After a verb, German nouns are capitalised too ("Wer hat Regie geführt?"): there only a
# name of two capitalised words or more counts ("Wie viele Sterne hat Pulp Fiction?").
_GERMAN_VERB_SLOT = re.compile(
    r"\b(?:ist|war|sind|hat|hatte|haben|endet|lohnt sich|kostet|dauert|bekommt|bekam|taugt|"
    r"gefällt)\s+$",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-ZÄÖÜ0-9][\w'’-]*")
# What a question asks of a film: its makers, cast, story, reviews, ratings or worth.
_ASKS_OF_A_WORK = re.compile(
    r"\b(?:films?|filme[ns]?|movies?|serien?|series|dvd|blu-?ray|kino|cinema|worum|"
    r"handlung|plot|story|ende|ending|endet|ends|lohnt|worth|watch|sehen|gucken|schauen)\b|"
    + "|".join(p.pattern for p in ASPECTS.values())
    + f"|{_RATING_WORDS.pattern}|{_REVIEW_NOUN}",
    re.I,
)
# A year alone is a date, not a title ("Who won the World Cup in 2014?").
_YEAR_ONLY = re.compile(r"^(?:19|20)\d\d$")


def _unknown_title(
    text: str, catalog: Catalog, language: str, *, counted: bool = False
) -> tuple[str | None, str | None]:
    """A title the question names that no indexed work has (the reviews cannot answer), and
    else a place or thing in the title slot, not asked of as a work, that no review mentions.

    Named after "Film" or quoted, any such title counts; in the title slot only a span
    whose words the indexed reviews never use and that names no indexed person, or, in a
    question ``counted`` from the metadata (a count, an average, a rating), any span that
    is no indexed title: "Wie viele Sterne hat Pulp Fiction?" is not asked of all films
    because a review mentions Pulp Fiction.
    """
    named = [(m.group(1), False) for m in _NAMED_TITLE.finditer(text)]
    named += [(m.group(1), False) for m in _QUOTED_TITLE.finditer(text)]
    # "in der Sammlung" is a noun with its article; a title keeps its capital ("in Der Pate").
    named += [
        (m.group(1), True)
        for m in _SLOT_TITLE.finditer(text)
        if normalize(text[: m.start(1)]).rsplit(" ", 1)[-1] not in ARTICLES
        # German writes every noun with a capital: there only a preposition marks the slot,
        # or a verb before a name of several words.
        and (
            language == "en"
            or _GERMAN_SLOT.search(text[: m.start(1)])
            or (
                _GERMAN_VERB_SLOT.search(text[: m.start(1)])
                and len(_CAPITALISED.findall(_without_article(m.group(1)))) >= 2
            )
        )
    ]
    if not named:
        return None, None
    # A place or thing in the title slot is no title unless the question asks of a work:
    # "Was ist die Hauptstadt von Frankreich?" is general knowledge, "Who directed X?" is not.
    asks_of_work = counted or _ASKS_OF_A_WORK.search(text) or _VERDICT.search(text)
    unmentioned = None
    for span, by_slot in named:
        title = _trim_title(span, catalog) if by_slot else span
        # Lower-case words inside a title ("im", "of") are no names; the capitalised are.
        names = [w for w in title.split() if not w[:1].islower()]
        words = [w for w in normalize(" ".join(names)).split() if w not in ARTICLES]
        if not words or _YEAR_ONLY.match(title) or any(catalog.known_word(w) for w in words):
            continue
        if by_slot and not asks_of_work:
            if unmentioned is None and catalog.titles.unused(title):
                unmentioned = title
            continue
        if not by_slot or (
            not catalog.titles.find(title) and (counted or catalog.titles.unused(title))
        ):
            return title, None
    return None, unmentioned


def _without_article(span: str) -> str:
    return re.sub(r"^(?:Der|Die|Das|The|A)\s+", "", span)


def _trim_title(span: str, catalog: Catalog) -> str:
    """The span without a tail the reviews use: "Pulp Fiction im Schnitt" is "Pulp Fiction"."""
    words = span.split()
    while len(words) > 2:
        cut = max((i for i, w in enumerate(words) if w[:1].islower()), default=0)
        if cut == 0 or catalog.titles.unused(" ".join(words[cut + 1 :])):
            break
        words = words[:cut]
    return " ".join(words)


def _narrow_by_vocabulary(
    text: str,
    works: list[Work],
    catalog: Catalog,
    lexicon: Lexicon | None = None,
    language: str = "de",
) -> tuple[list[Work], list[str]]:
    """Keep the work whose reviews use the question's other words far more than the rest.

    Returns the works kept and the words that decided it ("Netflix", "koreanischen").
    """
    from index.keyword import tokenize

    title_words = {t for w in works for t in normalize(w.title).split()}
    tokens = re.findall(r"\w+", text.lower())
    # A word right before the title qualifies the work ("die koreanische Ballerina", "the
    # Netflix Ballerina"): one work's reviews using it where the others' never do decides.
    qualifiers = {
        tokens[i - 1]
        for i, token in enumerate(tokens)
        if i > 0 and normalize(token) in title_words and normalize(tokens[i - 1]) not in title_words
    }
    words = [
        w
        for w in tokens
        if len(w) >= 4
        and w not in title_words
        and w not in GENERIC_WORDS
        and not any(p.search(w) for p in ASPECTS.values())
    ]
    # A word, its synonyms and its dictionary translations count together, so "music" in
    # English reviews of one film does not outvote "Musik" in German reviews of the other.
    other = "en" if language == "de" else "de"
    groups = {
        word: {
            t
            for lang in ("de", "en")
            for t in tokenize(
                " ".join([word, *SYNONYMS.get(word, ())]),
                language=lang,
                also_stop="en" if lang == "de" else "de",
            )
        }
        | (lexicon.translate(word, source=language, target=other) if lexicon else frozenset())
        for word in words
    }
    terms = sorted(set().union(*groups.values()))
    vocabulary = catalog.vocabulary([w.work_id for w in works], terms) if terms else {}
    votes: Counter[str] = Counter()
    voters: dict[str, list[str]] = {}
    # Words anywhere decide by several mentions; only if none does, a word qualifying the
    # title decides by one.
    for voting, alone in ((words, 3), ([w for w in words if w in qualifiers], 1)):
        for word in voting:
            counts = {
                w.work_id: sum(vocabulary.get(w.work_id, Counter())[t] for t in groups[word])
                for w in works
            }
            for work_id, count in counts.items():
                others = max(c for k, c in counts.items() if k != work_id)
                if (count >= alone and others == 0) or count >= 4 * (others + 1):
                    votes[work_id] += 1
                    voters.setdefault(work_id, []).append(word)
        if votes:
            break
    if not votes:
        return works, []
    ranked = votes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return works, []
    winner = ranked[0][0]
    return [w for w in works if w.work_id == winner], voters[winner]


# Opinion questions are read by the shape of the judgement they ask for, not by film words:
# a verdict ("Lohnt sich X?"), a comparison or ranking of works (a comparative or superlative
# with a verb or noun of judging), or the most positive or negative review (a superlative of
# a polarity word, or of a review as the thing asked for). The word lists below are German and
# English evaluative vocabulary as people ask about reviews (DE/EN dictionaries' senses of
# "worth", "recommend", "receive", "like"), not words of any film.
_POSITIVE = r"positiv\w*|favou?rabl\w*|wohlwollend\w*|begeistert\w*|enthusiastic\w*|glowing"
_NEGATIVE = (
    r"negativ\w*|kritisch\w*|critical|harsh\w*|scathing|vernichtend\w*|unfavou?rabl\w*|"
    r"ablehnend\w*|schlecht\w*|worst|worse|hated?|verriss\w*|least"
)
# Verbs of liking or disliking a count of reviews may be limited to.
_PRAISES = re.compile(
    r"\b(?:lob(?:en|t|ten)|praise[ds]?|recommend(?:s|ed)?|empfehlen|empfiehlt|empfahlen|"
    r"likes?|liked|lov(?:e|es|ed)|mögen|mochten|hate[ds]?|hassen|verreißen|verrissen|"
    r"criticized?|criticises?|kritisier(?:en|t|ten))\b",
    re.I,
)
# A count of the reviews that mention something is no count of all of them.
_MENTIONS = re.compile(
    r"\b(?:erwähn(?:en|t|ten)|mention(?:s|ed)?|refer(?:s|red)? to|sprechen über|spricht über|"
    r"talk(?:s|ed)? about|discuss(?:es|ed)?|thematisier(?:en|t|ten))\b",
    re.I,
)
_POLARITY_WORD = re.compile(rf"\b(?:{_POSITIVE}|{_NEGATIVE})\b", re.I)
_NEGATIVE_WORD = re.compile(rf"\b(?:{_NEGATIVE})\b", re.I)
# German adjectives are written in lower case, nouns are not ("Meister" is no superlative);
# English "-est" words that are not superlatives are left out.
_SUPERLATIVE = re.compile(
    r"\b(?:most|least|best|worst|am\s+\w+sten|"
    r"(?!(?:inter|for|hon|cont|requ|sugg|mod|prot|dig|arr|harv|inv|manif|unr|te)est\b)"
    r"\w{2,}(?:iest|[^aeiou\W]est))\b|"
    r"(?-i:\b(?!(?:erste|nächste|letzte)[nrs]?\b)(?![a-zäöü]*sste[nrs]?\b)"
    r"[a-zäöüß]{2,}ste[nrs]?\b)",
    re.I,
)
_COMPARATIVE = re.compile(
    r"\b(?:better|worse|more|less|higher|lower|besser(?:e[nrs]?)?|schlechter(?:e[nrs]?)?|"
    r"höher|niedriger|lieber|mehr|weniger|beliebter|"
    r"positiver|negativer|eher|rather|prefer\w*|bevorzug\w*|favou?rite|lieblings\w*|"
    r"\w+er\s+(?:than|als))\b",
    re.I,
)
_WHICH = re.compile(r"\b(?:which|what|welche[mnrs]?|wer)\b", re.I)
# Someone judging, or a judgement: critics, reviews, liking, reception.
_JUDGING = re.compile(
    r"\b(?:critics?|reviewers?|reviews?|kritik\w*|rezens\w*|besprechung\w*|"
    r"likes?|liked|lov(?:e|ed|es)|hated?|prefer\w*|popular|received|reception|acclaim\w*|"
    r"mögen|mag|mochten?|gefällt|gefallen|gefiel|beliebt\w*|gelobt\w*|lob\w*|"
    r"kommt|kommen|kam|ankommt|ankommen|abschneidet|schneidet|verriss\w*|"
    r"rated?|bewertet|recommend\w*|empf(?:ehlen|iehlt|ohlen)\w*)\b",
    re.I,
)
# The thing a "which" question asks for is a review ("Which review ...", "Welcher Kritiker").
_REVIEW_ASKED = re.compile(
    r"\b(?:which|what|welche[mnrs]?|die|the)\s+(?:\w+\s+)?(?:reviews?|critics?|reviewers?|"
    r"kritik(?:en)?|kritiker\w*|rezension(?:en)?|rezensent\w*|besprechung\w*)\b",
    re.I,
)
_WORK_ASKED = re.compile(
    r"\b(?:which|what|welche[mnrs]?)\s+(?:\w+\s+)?(?:films?|movies?|works?|werke?|titel)\b",
    re.I,
)
_HOW_IS = re.compile(
    r"^\W*(?:wie|how)\s+(?:gut\s+|good\s+)?(?:ist|sind|war|waren|is|are|was|were)\b|"
    r"^\W*how['’](?:s|re)\b|"
    # "Überzeugt die Geschichte von X?", "Gefällt die Musik in X?": a judgement, verb first.
    r"^\W*(?:überzeug(?:t|en|te|ten)|gefällt|gefallen|gefiel|gelingt|gelingen|gelang|"
    r"funktioniert|funktionieren)\b|"
    r"^\W*(?:what|how)\s+about\b|\bwas\s+ist\s+mit\b|"
    r"\btaug(?:t|en|te)\b|"
    r"\bwhat\s+(?:do|did|does|are|were)\s+(?:the\s+)?(?:critics?|reviewers?|reviews?)\s+"
    r"(?:say|saying|think|thinking|write|writing)\s+(?:about|of)\b|"
    # "Crank: wie ist die Musik?", "Wie gelungen ist die Musik?", "Wie steht es um die
    # Bildqualität?", "What's the acting like?", "How does the music hold up?"
    r"[:–—]\s*(?:wie|how)\s+(?:ist|sind|war|waren|is|are|was|were)\b|"
    r"^\W*(?:wie|how)\s+(?:gelungen|überzeugend|stark|schwach|schlecht|bad|strong|weak|"
    r"convincing)\s+(?:ist|sind|war|waren|is|are|was|were)\b|"
    r"\bwie\s+steht\s+es\s+(?:um|mit)\b|"
    r"^\W*what(?:['’]s|\s+(?:is|are|was|were))\s+(?:the\s+)?[\w\s-]+\blike\b|"
    r"^\W*how\s+(?:does|do|did)\s+the\s+.+\b(?:hold\s+up|fare|come\s+across)\b|"
    # "Wie bewerten die Rezensenten die Effekte?", "Is the acting convincing?", "Kann die
    # Musik überzeugen?": a judgement of a part, whatever the wording around it.
    r"^\W*wie\s+(?:bewerten|beurteilen|sehen)\b|"
    r"\b(?:convincing|überzeugen|überzeugend)\b|"
    # "Wie gut hält sich X an das Buch?", "How well does X follow the book?": a judgement of
    # how a work does something, whatever the verb.
    r"^\W*(?:wie\s+gut|how\s+well)\s+\w+",
    re.I,
)
_LEAST_LIKED = re.compile(
    r"\b(?:worst|least|schlechteste\w*|am\s+schlechtesten|am\s+wenigsten|wenigsten|"
    r"negativste\w*|am\s+negativsten|hate[ds]?|hass\w*)\b",
    re.I,
)
_WHO_FIRST = re.compile(r"^\W*(?:who|wer)\b", re.I)
_WHICH_FIRST = re.compile(r"^\W*(?:which|welche[mnrs]?)\b", re.I)
# "a Van Helsing reviewer", "according to one fan", "laut einem Kritiker": one review's words.
_ONE_REVIEWER = re.compile(
    r"\b(?:a|one|an|ein|eine[mnrs]?)\s+(?:[\w-]+\s+){0,3}(?:reviewer|critic|fan|viewer|"
    r"kritiker\w*|rezensent\w*|zuschauer\w*)\b|"
    r"\baccording to\b(?!\s+(?:the\s+)?(?:reviews|critics|reviewers)\b)|"
    r"\blaut\b(?!\s+(?:den\s+)?(?:kritiken|kritikern|rezensionen|rezensenten)\b)",
    re.I,
)
_VERDICT = re.compile(
    r"\b(?:lohnt|lohnen|lohnenswert\w*|sehenswert\w*|empfehlenswert\w*|worth|"
    r"recommend\w*|empf(?:ehlen|iehlt|ohlen)\w*)\b|"
    r"\b(?:should|would)\s+(?:i|you|we)\s+(?:\w+\s+)?(?:watch|see|skip|avoid|bother)\b|"
    r"^\W*was\s+taug(?:t|en|te)\b|"
    r"\b(?:soll(?:te)?|kann|könnte)\s+(?:ich|man)\b.*\b(?:sehen|schauen|ansehen|anschauen|"
    r"gucken)\b|"
    r"\b(?:wie|how)\b.*\b(?:an|ab|received|reviewed|ankommt|aufgenommen|abgeschnitten)"
    r"\s*[?.!]?\s*$|"
    r"\b(?:welche|what)\s+(?:meinung|opinion)\b|"
    r"\b(?:verdict|consensus|urteil|gesamturteil|fazit|resonanz|reception|opinions?|"
    r"thoughts)\s+(?:on|of|about|"
    r"for|über|zu|zum|zur|von|vom)\b|"
    r"^\W*(?:gefällt|gefiel|gefallen|mögen|mochten|loben|lobten|likes?)\b.*\b(?:critics?|"
    r"reviewers?|kritik\w*|rezens\w*)\b|"
    r"\bwie\s+(?:gefällt|gefiel|gefallen|finden|fanden|findet|fand)\b|"
    r"\bhow\s+(?:do|did|does|have|has)\b.*\b(?:like|liked|find|found|rate|judge|feel)\b|"
    r"\b(?:did|do|does)\s+(?:the\s+)?(?:critics?|reviewers?|reviews?)\s+(?:\w+\s+)?"
    r"(?:like|love|hate|recommend|praise)\w*\b|"
    r"\b(?:mochten|mögen|loben|lobten)\s+(?:die\s+)?(?:kritiker|rezensent)\w*\b|"
    r"\b(?:was|what)\s+(?:\w+\s+){0,2}(?:sagen|sagt|halten|hält|meinen|meint|denken|schreiben|"
    r"say|says|said|think|thinks|thought|write)\b.*\b(?:critics?|reviewers?|reviews?|"
    r"kritik\w*|rezens\w*|besprechung\w*)\b|"
    r"\b(?:what|how)\s+(?:do|did|does)\s+(?:the\s+)?(?:critics?|reviewers?|reviews?)\s+"
    r"(?:say|think|write|feel|rate)\b|"
    r"\b(?:was|what)\s+(?:sagen|sagt|halten|hält|meinen|denken|say|think)\s+(?:die|the)\s+"
    r"(?:critics?|reviewers?|reviews?|kritik\w*|rezens\w*)\b|"
    r"^\s*(?:ist|is|war|was|sind|are|waren|were)\b.*\b(?:gut|good|schlecht|bad|great|"
    r"any good|toll|stark|gelungen|sehenswert)\s*[?.!]?\s*$|"
    r"\b(?:good|gut)\s+(?:or|oder)\s+(?:bad|schlecht)\b|"
    r"\btaug(?:t|en|te)\b.*\b(?:was|etwas|nichts|nix)\s*[?.!]?\s*$|"
    r"\b(?:was|what)\s+(?:halten|hält|denken|denkt|do|does|did)\s+(?:die\s+|the\s+)?"
    r"(?:leute|people|zuschauer|viewers|publikum|audiences?|fans)\s+(?:\w+\s+)?"
    r"(?:von|vom|über|of|about)\b",
    re.I,
)
# "How good is X?" asks a verdict; "How good is the acting in X?" an aspect of it.
# A verdict asked in so many words: whether the work is worth it, not how its parts are.
_WORTH = re.compile(
    r"\b(?:lohnt|lohnen|lohnenswert\w*|sehenswert\w*|empfehlenswert\w*|worth|"
    r"recommend\w*|empf(?:ehlen|iehlt|ohlen)\w*)\b|"
    r"\b(?:should|would)\s+(?:i|you|we)\s+(?:\w+\s+)?(?:watch|see|skip|avoid|bother|buy)\b|"
    r"\b(?:soll(?:te)?|kann|könnte)\s+(?:ich|man)\b.*\b(?:sehen|schauen|ansehen|anschauen|"
    r"gucken|kaufen)\b",
    re.I,
)


def asks_worth(text: str) -> bool:
    """Whether a question asks if the work is worth it ("Lohnt sich der Kauf von X?")."""
    return bool(_WORTH.search(text))


_HOW_GOOD = re.compile(
    r"^\W*(?:how|wie)\s+(?:good|gut)\s+(?:ist|sind|war|waren|is|are|was|were)\b"
    r"(?!.*\b(?:in|im|of|von|vom|bei|beim|der|des)\s)",
    re.I,
)


_HOW_IS_REST = re.compile(
    r"^\W*(?:how|wie)\s+(?:is|was|ist|war)\s+(?P<rest>[^?!.]+)[?!.]?\s*$", re.I
)
# Prepositions that tie a part to the work ("the ending in X"): bot/data/function_words.json.
_LINKS = frozenset(json.loads((DATA / "function_words.json").read_text(encoding="utf-8"))["links"])


def _how_is_the_work(text: str, works: Sequence[Work]) -> bool:
    """ "How is the Netflix Ballerina?": "how is" and a work, with a word or two that picks
    it, but nothing of it ("How is the ending in X?", "How is Ok-ju related to Min-hee?")."""
    match = _HOW_IS_REST.search(text)
    if not match or not works:
        return False
    rest = f" {normalize(match.group('rest').replace('-', ' '))} "
    words = rest.split()
    titled = any(f" {normalize(w.title)} " in rest for w in works)
    return titled and len(words) <= 5 and not _LINKS.intersection(words)


def opinion_asked(
    text: str, intent: str | None, *, works: Sequence[Work] = ()
) -> tuple[str | None, str | None]:
    """Which opinion a question asks for: ``("verdict" | "comparison" | "extreme", end)``.

    ``end`` is ``"positive"`` or ``"negative"`` for an extreme, else None. A question the
    metadata answers (a count, an average, the best-rated) stays with it, except a count of
    positive or negative reviews, which a verdict answers with exact counts.
    """
    polar = _POLARITY_WORD.search(text)
    # "Wie viele Rezensionen loben X?" counts the reviews that like it: a verdict's counts.
    judged = polar or _PRAISES.search(text)
    if intent is not None and not (intent == "count" and judged):
        return None, None
    if _ONE_REVIEWER.search(text):
        return None, None  # what one reviewer says is a fact of that review's text
    superlative = _SUPERLATIVE.search(text)
    comparative = _COMPARATIVE.search(text)
    judging = _JUDGING.search(text)
    end = "negative" if _NEGATIVE_WORD.search(text) or _LEAST_LIKED.search(text) else "positive"
    several = len(works) > 1
    if superlative and _REVIEW_ASKED.search(text) and not _WORK_ASKED.search(text):
        # "Which review is the most negative?", "Welche Kritik lobt X am meisten?"
        return "extreme", end
    if superlative and judging and _WHO_FIRST.search(text) and len(works) == 1:
        return "extreme", end  # "Who liked Crank the most?" asks for a review
    if superlative and polar and not _WORK_ASKED.search(text):
        return "extreme", end  # "the most negative of them", "am positivsten"
    than = re.search(r"\b(?:than|als)\b", text, re.I)
    # Works are compared when the question names several, or ranks them all; "Which trilogy
    # is worse than X?" compares X with something that is not indexed.
    if len(works) != 1 and (superlative or comparative):
        # "Which film got the worst reviews?" ranks the least liked first.
        order = "negative" if _LEAST_LIKED.search(text) else None
        if (judging or polar) and (_WHICH.search(text) or several or than):
            return "comparison", order
        if several and (than or _WHICH.search(text) or re.search(r"\b(?:or|oder)\b", text, re.I)):
            return "comparison", order  # "Is X better than Y?", "Which Ballerina is better?"
    if several and re.search(r"\b(?:vs\.?|versus)(?!\w)", text, re.I):
        return "comparison", None  # "Ballerina 2023 vs Ballerina 2025"
    if several and _WHICH_FIRST.search(text) and _VERDICT.search(text):
        return "comparison", None  # "Which Ballerina should I watch?" asks a verdict of each
    # A verdict is about a work the question names ("Which film does X recommend?" is not).
    if not works or _WHICH_FIRST.search(text):
        return None, None
    if _VERDICT.search(text) or _HOW_GOOD.search(text) or (polar and judging) or intent == "count":
        return "verdict", None
    if _how_is_the_work(text, works):
        return "verdict", None
    if _HOW_IS.search(text):
        return "aspect", None  # "Wie ist die Musik in X?": an opinion only if an aspect is named
    return None, None
