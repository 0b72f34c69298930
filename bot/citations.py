"""The checks on an LLM answer's citations and quotes, as pure functions over strings.

The model cites the numbered passages it was shown as ``[n]``. These functions find what it
cited, repair what can be repaired (citations at a sentence's start, a missing citation whose
words one passage states, numbers renumbered in order of first citation) and find what must
not be shown: numbers no passage states, quotes that are not verbatim, a sentence naming one
work that cites only passages of another, review text addressed to a model repeated back, and
an unfinished last sentence of a stream that was cut off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.answers import Passage
from index.chunking import split_sentences
from index.keyword import tokenize
from index.works import normalize

CITATION = re.compile(r"\[\s*(?:passage\s*|quelle\s*)?(\d+(?:\s*[,;]\s*\d+)*)\s*\]", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w+")
# Text in double quotation marks of any of the usual shapes: "…", „…“, “…”, »…«, «…».
_QUOTED = re.compile(r'"([^"\n]+)"|„([^“”"\n]+)[“”"]|“([^”\n]+)”|»([^«\n]+)«|«([^»\n]+)»')
_ELLIPSIS = re.compile(r"\.\.\.|…|\[\s*(?:\.\.\.|…)\s*\]")
# How a finished sentence may end: punctuation, then closing quotes or brackets, or a citation.
_FINISHED = re.compile(r"(?:[.!?…:]['\"“”»«)\]]*|\[[^\]]*\])\s*$")


@dataclass(frozen=True)
class ShownPassage:
    """A passage as the model saw it: renumbered and clipped to its relevant sentences."""

    n: int
    passage: Passage
    excerpt: str
    # A 0.5B model answers "who plays X" with the director named in the label: name the
    # director only when it tells works apart or is asked for.
    with_director: bool = True
    # Sentences of the passage the screen held back: not shown, never quoted.
    held_back: frozenset[str] = frozenset()


# -- reading citations ---------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    """``text`` split after sentence punctuation and at line breaks, empty pieces dropped."""
    return [s for s in SENTENCE_END.split(text) if s.strip()]


def cited_numbers(text: str) -> list[int]:
    """Every number cited in ``text``, in order, repeats included (``[1, 3]`` gives 1, 3)."""
    return [int(n) for match in CITATION.finditer(text) for n in _NUMBER.findall(match.group(1))]


def cites_any(text: str, known: Collection[int]) -> bool:
    """Whether ``text`` cites at least one of the ``known`` passage numbers."""
    return any(n in known for n in cited_numbers(text))


def without_citations(text: str) -> str:
    return CITATION.sub(" ", text)


def renumber_citations(text: str, known: Collection[int]) -> tuple[str, dict[int, int]]:
    """``text`` with the known numbers renumbered 1..k in order of first citation and
    unknown numbers dropped, and the mapping old → new. Empty mapping: nothing valid cited."""
    order: dict[int, int] = {}
    for n in cited_numbers(text):
        if n in known and n not in order:
            order[n] = len(order) + 1

    def renumber(match: re.Match[str]) -> str:
        kept = [order[int(n)] for n in _NUMBER.findall(match.group(1)) if int(n) in order]
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    text = re.sub(r"[ \t]{2,}", " ", CITATION.sub(renumber, text))
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip(), order


def claims_by_citation(text: str) -> dict[int, str]:
    """For each citation number, the sentences that cite it (without their citations)."""
    claims: dict[int, str] = {}
    for sentence in SENTENCE_END.split(text):
        for n in dict.fromkeys(cited_numbers(sentence)):
            claims[n] = " ".join(f"{claims.get(n, '')} {without_citations(sentence)}".split())
    return claims


def citations_after_sentences(text: str) -> str:
    """Move citations the model put at the start of a sentence to its end."""
    lines = []
    for line in text.split("\n"):
        lead = re.match(r"^(\s*(?:[-•*]\s*)?)((?:\[[^\]]*\]\s*)+)(\S.*)$", line)
        if lead and CITATION.match(lead.group(2).strip()):
            body = lead.group(3)
            first = re.search(r"[.!?](?=\s|$)", body)
            cut = first.start() if first else len(body.rstrip())
            cites = lead.group(2).strip()
            line = f"{lead.group(1)}{body[:cut]} {cites}{body[cut:]}"
        lines.append(line)
    return "\n".join(lines)


# -- words and sentences of passages -------------------------------------------------------


def content_terms(text: str) -> set[str]:
    """Content words of ``text`` in both languages' stemming, and its raw lower-case words."""
    words = {w.lower() for w in _WORD.findall(text) if len(w) > 2}
    for language, other in (("de", "en"), ("en", "de")):
        words.update(tokenize(text, language=language, also_stop=other))
    return words


def overlap(sentence: str, terms: set[str]) -> int:
    return len(content_terms(sentence) & terms)


def passage_spans(
    passage: Passage, held_back: Collection[str] = frozenset()
) -> list[tuple[int, int]]:
    """The passage's sentence spans, without those held back."""
    spans = [(s.start, s.end) for s in split_sentences(passage.text, language=passage.language)]
    spans = [(a, b) for a, b in spans if passage.text[a:b].strip()] or [(0, len(passage.text))]
    return [(a, b) for a, b in spans if passage.text[a:b].strip() not in held_back]


def best_quote(shown: ShownPassage, claim: str, *, preferred: Collection[str] = ()) -> str:
    """The shown passage's sentence that best overlaps ``claim``, verbatim from the passage
    and never one held back; ties go to a ``preferred`` sentence, then the earliest."""
    passage = shown.passage
    spans = passage_spans(passage, shown.held_back)
    if not spans:
        return ""
    terms = content_terms(claim)

    def score(span: tuple[int, int]) -> tuple[int, int, int]:
        sentence = passage.text[span[0] : span[1]]
        return (overlap(sentence, terms), int(sentence.strip() in preferred), -span[0])

    start, end = max(spans, key=score)
    return passage.text[start:end].strip()


def add_citations(text: str, shown: Sequence[ShownPassage], *, question: str) -> str:
    """Cite, after each sentence, the shown passage that states its new words.

    A sentence is only cited when at least two of its words that are not in the
    question (a name, a title) occur in one sentence of that passage; the quote shown
    for it is that passage's sentence, so the repair stays verifiable.
    """
    asked = content_terms(question)
    cited: list[str] = []
    for sentence in sentences(text):
        new = content_terms(sentence) - asked
        best, best_overlap = 0, 1
        for item in shown:
            spans = passage_spans(item.passage, item.held_back)
            most = max((overlap(item.passage.text[a:b], new) for a, b in spans), default=0)
            if most > best_overlap:
                best, best_overlap = item.n, most
        body, end = _body_and_end(sentence.strip())
        cited.append(f"{body} [{best}]{end}" if best else sentence.strip())
    return " ".join(cited)


def _body_and_end(sentence: str) -> tuple[str, str]:
    end = re.search(r"[.!?…:]*$", sentence)
    cut = end.start() if end else len(sentence)
    return sentence[:cut], sentence[cut:]


# -- what must not be shown ----------------------------------------------------------------


def unsupported_numbers(text: str, *, sources: Iterable[str]) -> list[str]:
    """Numbers ``text`` states (citations aside) that occur in none of the ``sources``."""
    stated = {int(n) for n in _NUMBER.findall(without_citations(text))}
    known = {int(n) for source in sources for n in _NUMBER.findall(source)}
    return [str(n) for n in sorted(stated - known)]


def without_not_found(text: str, not_found: Sequence[str]) -> str:
    """``text`` without the sentences that say the passages hold no answer, in any case and
    with any citation a model puts on them ("… in den Rezensionen steht dazu nichts [1].")."""
    phrases = [phrase.rstrip(".").casefold() for phrase in not_found]
    parts = SENTENCE_END.split(text)
    kept = [s for s in parts if not any(phrase in s.casefold() for phrase in phrases)]
    return text if len(kept) == len(parts) else " ".join(kept).strip()


def misquotes(sentence: str, passages: Iterable[str], *, titles: Iterable[str] = ()) -> list[str]:
    """The quotations in ``sentence`` that occur verbatim in none of the ``passages``.

    Case, spacing, the shape of quotation marks and dashes, and punctuation at a quotation's
    ends do not count; an ellipsis inside a quotation marks left-out words. A quoted title
    or a single quoted word is a name, not a quotation.
    """
    texts = [_comparable(p) for p in passages]
    names = {_comparable(t) for t in titles}
    wrong: list[str] = []
    for match in _QUOTED.finditer(sentence):
        quoted = next(group for group in match.groups() if group is not None)
        if _comparable(quoted) in names or len(_WORD.findall(quoted)) < 2:
            continue
        pieces = [_comparable(p) for p in _ELLIPSIS.split(quoted)]
        pieces = [p for p in pieces if _WORD.search(p)]
        if pieces and not any(all(piece in text for piece in pieces) for text in texts):
            wrong.append(quoted.strip())
    return wrong


def without_misquoting_sentences(
    text: str, shown: Mapping[int, str], *, titles: Iterable[str] = ()
) -> tuple[str, list[str]]:
    """``text`` without the sentences quoting words that the passages they cite (or, when
    they cite none, all passages) do not contain, and the quotations that were wrong.

    ``shown`` maps each passage number to all the model was shown for it: the passage and
    its label (film, director, review), which a model may quote too.
    """
    names = list(titles)
    kept: list[str] = []
    wrong: list[str] = []
    for sentence, separator in _sentences_with_separators(text):
        cited = [shown[n] for n in cited_numbers(sentence) if n in shown]
        found = misquotes(without_citations(sentence), cited or shown.values(), titles=names)
        if found:
            wrong += found
            continue
        kept.append(sentence + separator)
    return ("".join(kept).strip(), wrong) if wrong else (text, [])


def stated_in(sentence: str, texts: Iterable[str]) -> bool:
    """Whether each part of ``sentence`` between quotation marks and brackets stands word for
    word in one of ``texts`` (a model repeating a quote with its label, citations aside)."""
    pieces = [_comparable(p) for p in _MARKS.split(without_citations(sentence))]
    pieces = [p for p in pieces if _WORD.search(p)]
    known = [_comparable(" ".join(_MARKS.split(text))) for text in texts]
    return bool(pieces) and all(any(p in text for text in known) for p in pieces)


_MARKS = re.compile(r"[\"„“”»«()]")


def _comparable(text: str) -> str:
    text = text.translate(_SAME_CHARACTERS).casefold()
    return " ".join(text.split()).strip(" .,;:!?")


_SAME_CHARACTERS = str.maketrans({"’": "'", "‘": "'", "‚": "'", "–": "-", "—": "-", "\xa0": " "})


def without_misattributed_claims(
    text: str, shown: Sequence[ShownPassage], titles: Mapping[str, Collection[str]]
) -> tuple[str, bool]:
    """``text`` without the sentences that name a work and cite only passages of other
    works, and whether any was dropped. Sentences naming no known work are kept.

    ``titles`` maps each title to the ids of the works that carry it.
    """
    by_n = {s.n: s.passage.work_id for s in shown}
    kept: list[str] = []
    dropped = False
    for sentence, separator in _sentences_with_separators(text):
        cited = {by_n[n] for n in cited_numbers(sentence) if n in by_n}
        named = named_works(without_citations(sentence), titles)
        if cited and named and not cited & named:
            dropped = True
            continue
        kept.append(sentence + separator)
    return ("".join(kept).strip(), True) if dropped else (text, False)


def named_works(sentence: str, titles: Mapping[str, Collection[str]]) -> set[str]:
    """The ids of the works whose title ``sentence`` names."""
    words = f" {normalize(sentence)} "
    named: set[str] = set()
    for title, work_ids in titles.items():
        key = normalize(title)
        if not key:
            continue
        if len(key) < 4:  # "Up", "Her": only the title as written, not the common word
            found = re.search(rf"(?<!\w){re.escape(title)}(?!\w)", sentence) is not None
        else:
            found = f" {key} " in words
        if found:
            named |= set(work_ids)
    return named


def repeats(sentence: str, held_back: Sequence[str]) -> bool:
    """Whether ``sentence`` is mostly the words of one held-back sentence."""
    said = content_terms(sentence)
    return len(said) >= 3 and any(
        len(said & content_terms(held)) >= max(3, 0.6 * len(said)) for held in held_back
    )


# -- streams -------------------------------------------------------------------------------


def last_sentence_end(text: str, start: int) -> int:
    """Where the last complete sentence after ``start`` ends (``start`` if none does)."""
    ends = [m.end() for m in SENTENCE_END.finditer(text, start)]
    return ends[-1] if ends else start


def unfinished_tail(text: str, *, cut: bool = False) -> str:
    """The last sentence of ``text`` when a cut stream left it unfinished, else "".

    A last sentence with no closing punctuation and no citation is unfinished when an
    earlier sentence is finished, or when the model said it stopped at its length limit
    (``cut``); a one-sentence answer without a full stop is an answer.
    """
    stripped = text.rstrip()
    if not stripped or _FINISHED.search(stripped):
        return ""
    start = last_sentence_end(stripped, 0)
    if start == 0 and not cut:
        return ""
    return stripped[start:]


def _sentences_with_separators(text: str) -> list[tuple[str, str]]:
    # Separators sit at odd indexes: a dropped sentence takes the one after it along.
    parts = re.split(f"({SENTENCE_END.pattern})", text)
    return [(parts[i], parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)]


# -- figures of opinion answers ------------------------------------------------------------

NUMBER_WORDS_FILE = Path(__file__).resolve().parent / "data" / "number_words.json"


def _load_number_words(
    path: Path = NUMBER_WORDS_FILE,
) -> tuple[dict[str, int], tuple[str, ...], tuple[str, ...]]:
    """Small numbers a model writes as words (two to twelve), the words for one, and those of
    them that are as often the German article; their source is in the data file."""
    stored = json.loads(path.read_text(encoding="utf-8"))
    cardinals = {word: int(n) for n, words in stored["cardinals"].items() for word in words}
    return cardinals, tuple(stored["one"]), tuple(stored["articles"])


_NUMBER_WORDS, _ONE, _ARTICLES = _load_number_words()
_FIGURE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)(?![\w])|\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.I
)
_COUNT = r"\d+|" + "|".join((*_NUMBER_WORDS, *_ONE))
_POLARITY_WORDS = {
    "positive": r"positiv\w*",
    "negative": r"negativ\w*",
    "mixed": r"gemischt\w*|mixed",
}
# "1 of 2 reviews positive", "2 Rezensionen: 1 positiv", "eine von zwei ist gemischt".
_CLAIM = re.compile(
    rf"\b(?P<n>{_COUNT})(?:\s+(?:von|of|out\s+of|aus)\s+(?P<m>{_COUNT}))?"
    rf"\s+(?:(?!(?:{_COUNT})\b)[\w-]+\s+){{0,3}}?"
    rf"(?P<polarity>{'|'.join(_POLARITY_WORDS.values())})\b",
    re.I,
)


@dataclass(frozen=True)
class CountClaim:
    """``n`` reviews (of ``of``, when said) have ``polarity``."""

    n: int
    polarity: str
    of: int | None = None

    def __str__(self) -> str:
        return f"{self.n}{f' of {self.of}' if self.of is not None else ''} {self.polarity}"


def figures(text: str) -> list[str]:
    """The numbers ``text`` states (citations aside), as written digits with a decimal point:
    ``3,5/5`` gives ``3.5`` and ``5``, ``drei`` gives ``3``."""
    found: list[str] = []
    for match in _FIGURE.finditer(without_citations(text)):
        digits, word = match.groups()
        found.append(digits.replace(",", ".") if digits else str(_NUMBER_WORDS[word.lower()]))
    return found


def unsupported_figures(text: str, *, evidence: Iterable[str]) -> list[str]:
    """Figures ``text`` states that none of the ``evidence`` texts states (``3.5`` is not
    ``3``: an average must be written as computed)."""
    known = {figure for source in evidence for figure in figures(source)}
    stated = dict.fromkeys(figures(text))
    return [figure for figure in stated if figure not in known]


def count_claims(text: str) -> list[CountClaim]:
    """The polarity counts ``text`` states, such as ``1 of 2 reviews positive``."""
    claims: list[CountClaim] = []
    for match in _CLAIM.finditer(without_citations(text)):
        n, of = _count(match.group("n")), match.group("m")
        if n is None or (of is None and match.group("n").lower() in _ARTICLES):
            continue  # "eine positive Rezension" is not a count
        polarity = next(
            side
            for side, pattern in _POLARITY_WORDS.items()
            if re.fullmatch(pattern, match.group("polarity"), re.I)
        )
        claims.append(CountClaim(n, polarity, _count(of) if of else None))
    return claims


def wrong_counts(text: str, *, computed: Collection[CountClaim]) -> list[CountClaim]:
    """The counts ``text`` states that match no ``computed`` count: the same number of the
    same polarity, out of the same total when both say one."""

    def agrees(claim: CountClaim, known: CountClaim) -> bool:
        same_total = claim.of is None or known.of is None or claim.of == known.of
        return claim.n == known.n and claim.polarity == known.polarity and same_total

    return [c for c in count_claims(text) if not any(agrees(c, k) for k in computed)]


def _count(word: str) -> int | None:
    if word.isdigit():
        return int(word) if int(word) < 1000 else None  # a year is not a count
    lowered = word.lower()
    return 1 if lowered in _ONE else _NUMBER_WORDS.get(lowered)


def known_citations(text: str, known: Collection[int]) -> tuple[str, list[int]]:
    """``text`` with the citation numbers not in ``known`` dropped (the rest keep their
    numbers), and the known numbers it cites, in order of first citation."""

    def keep(match: re.Match[str]) -> str:
        kept = [int(n) for n in _NUMBER.findall(match.group(1)) if int(n) in known]
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    text = re.sub(r"[ \t]{2,}", " ", CITATION.sub(keep, text))
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip()
    return text, list(dict.fromkeys(n for n in cited_numbers(text) if n in known))
