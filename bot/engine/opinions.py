"""Opinion answers: how a work's reviews come out, which is liked best, the most negative review.

Every number is counted from the reviews: a review with a rating counts by its rating
(normalised: at least 0.7 positive, at most 0.45 negative, else mixed — 1–2 of 5 stars
negative, 3 mixed, 4–5 positive), one without by the polarity of its text (stored at index
time, or computed from the stored sentence vectors of that work's reviews only). Each review
is quoted by its verdict sentence: the sentence whose polarity agrees with the review's and
is most decided, preferring the review's closing sentences. Works are ranked by how far their
reviews lean positive (:func:`leaning`), so an unrated text that reads positive but falls
just inside the mixed band is not ranked as if it were undecided.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import mean
from typing import Literal

import numpy as np
import numpy.typing as npt

from bot.answers import Answer, Polarity, Source, WorkOpinion
from bot.engine.aspects import AspectFinder, AspectQuery, count_line, review_polarity_counts
from bot.engine.overlap import sentences_of
from bot.engine.reading import Question, asks_worth
from bot.screening import SentenceScreen
from index.linear_head import unit
from index.opinion_figures import OpinionFigures, WorkFigures
from index.polarity import PolarityHead
from index.records import Review, Work
from index.sentence_store import StoredSentence
from index.store import StoredChunk

POSITIVE_RATING = 0.7
NEGATIVE_RATING = 0.45
# A verdict sentence is a sentence of prose: not a header line, a caption or a question.
MIN_VERDICT_CHARS = 40
MAX_VERDICT_CHARS = 400
# How much being at the end of a review counts beside being decided (|P - 0.5| * 2). Measured
# on the rated German DVD reviews of the DVD corpus, choosing a sentence without knowing the
# rating: the chosen sentence's polarity agreed with the rating for 45 of 58 reviews (half
# with an even id hash; 43 with weight 0, 40 with 0.5, 28 for the last sentence), and for 42
# of 54 in the other half (30 for the last sentence).
CLOSING_WEIGHT = 0.15
# Works shown in a ranking of all works, and reviews quoted per work in a comparison.
RANKED_WORKS = 5
QUOTES_PER_WORK = 2
# A verdict quotes every review of a work with up to this many; of more, the most decided
# few of each polarity (a chat answer of 50 quotes is read by no one).
MAX_QUOTED_REVIEWS = 8
QUOTES_PER_POLARITY = 2
# Without stored polarities, reviews whose text polarity is computed for one question at most
# (a ranking over a large older index counts only rated reviews beyond this).
MAX_COMPUTED_REVIEWS = 200
# Above this many reviews, a question about all works ranks them from the figures counted at
# index time (index.opinion_figures) and reads the reviews of the works it names only.
SMALL_CORPUS = 1000

Basis = Literal["rating", "text"]
SentencesOf = Callable[[Sequence[str]], Mapping[str, list[StoredSentence]]]
EmbedPassages = Callable[[list[str]], list[list[float]]]

_LABELS: dict[str, dict[Polarity, str]] = {
    "de": {"positive": "positiv", "negative": "negativ", "mixed": "gemischt"},
    "en": {"positive": "positive", "negative": "negative", "mixed": "mixed"},
}


@dataclass(frozen=True)
class Verdict:
    """A review's verdict sentence and the probability that it is positive."""

    quote: str
    probability: float | None


@dataclass(frozen=True)
class ReadSentence:
    """A review sentence as opinions read it: quoted, scored, and whether it is prose."""

    quote: str
    probability: float | None
    prose: bool
    vector: npt.NDArray[np.float64] | None


@dataclass
class ReviewOpinion:
    """One review's polarity, what it rests on, and its verdict sentence."""

    review: Review
    polarity: Polarity | None
    basis: Basis | None
    text_probability: float | None
    verdict: Verdict | None = None
    # How far the review leans positive, 0..1 (see :func:`leaning`); None when not counted.
    lean: float | None = None

    @property
    def strength(self) -> float:
        """How positive the review is, 0..1: its rating, else its text's probability."""
        if self.review.rating is not None:
            return self.review.rating.normalized
        return self.text_probability if self.text_probability is not None else 0.5


@dataclass
class WorkReviews:
    """A work and the opinions of its reviews, counted."""

    work: Work
    reviews: list[ReviewOpinion] = field(default_factory=list)

    def liking(self) -> float:
        """The share of its counted reviews that are positive, each counted by its lean (an
        unrated text inside the mixed band that leans positive counts in part)."""
        leans = [r.lean for r in self.reviews if r.lean is not None]
        return mean(leans) if leans else 0.0

    def opinion(self) -> WorkOpinion:
        counted = [r for r in self.reviews if r.polarity is not None]
        ratings = [r.review.rating.normalized for r in self.reviews if r.review.rating]
        return WorkOpinion(
            work_id=self.work.work_id,
            work=self.work.label(),
            positive=sum(r.polarity == "positive" for r in counted),
            negative=sum(r.polarity == "negative" for r in counted),
            mixed=sum(r.polarity == "mixed" for r in counted),
            from_rating=sum(r.basis == "rating" for r in counted),
            from_text=sum(r.basis == "text" for r in counted),
            rated=len(ratings),
            average_rating=round(mean(ratings), 4) if ratings else None,
        )


def rating_polarity(normalized: float) -> Polarity:
    """A rating's polarity on the 0..1 scale (1–2 of 5 negative, 3 mixed, 4–5 positive)."""
    if normalized >= POSITIVE_RATING:
        return "positive"
    if normalized <= NEGATIVE_RATING:
        return "negative"
    return "mixed"


def leaning(
    polarity: Polarity, basis: Basis, probability: float | None, head: PolarityHead | None
) -> float:
    """How far a review counts as positive, 0..1: a positive review 1, a negative or mixed
    one 0, except a text inside the head's mixed band that leans positive, which counts as
    far as it lies from the threshold towards the band's upper edge. The text's
    probabilities are squeezed towards the middle, so a clearly positive text can sit just
    inside the band (0.60 of 0.37-0.63 counts 0.77)."""
    if polarity == "mixed" and basis == "text" and probability is not None and head:
        _, high = head.mixed_band
        if high > head.threshold:
            return min(1.0, max(0.0, (probability - head.threshold) / (high - head.threshold)))
    return 1.0 if polarity == "positive" else 0.0


def _label_share(work: WorkReviews) -> float:
    opinion = work.opinion()
    return opinion.positive / opinion.reviews if opinion.reviews else 0.0


def ranking_key(work: WorkReviews) -> tuple[float, float, float, int]:
    """Best liked first: share of positive reviews (each counted by its lean), then the
    share counted by labels, then the average rating, then the number of reviews."""
    return _standing_key(work.liking(), work.opinion())


def _standing_key(liking: float, opinion: WorkOpinion) -> tuple[float, float, float, int]:
    return _key(liking, opinion.positive, opinion.reviews, opinion.average_rating)


def _key(
    liking: float, positive: int, counted: int, average_rating: float | None
) -> tuple[float, float, float, int]:
    average = average_rating if average_rating is not None else -1.0
    share = positive / counted if counted else 0.0
    return (-round(liking, 4), -share, -average, -counted)


class OpinionReader:
    """Reads the opinions of works' reviews from one generation of the index.

    ``reviews_of`` and ``chunks_of`` give the generation's reviews and stored chunks of
    works (by work id), ``sentences`` gives the stored sentences of chunks (with vectors),
    ``head`` the polarity head (None under an embedder it was not fitted for: then only
    ratings count), ``embed_passages`` embeds sentences of a chunk stored without them.
    """

    def __init__(
        self,
        *,
        reviews_of: Callable[[Sequence[str]], list[Review]],
        chunks_of: Callable[[Sequence[str]], list[StoredChunk]],
        sentences: SentencesOf,
        head: PolarityHead | None,
        embed_passages: EmbedPassages | None = None,
        screen: SentenceScreen | None = None,
    ) -> None:
        self._reviews_of = reviews_of
        self._chunks_of = chunks_of
        self._sentences = sentences
        self._head = head
        self._embed = embed_passages
        self._screen = screen or SentenceScreen(None)

    @property
    def head(self) -> PolarityHead | None:
        return self._head

    def works(self, works: Sequence[Work], *, quotes: bool = True) -> list[WorkReviews]:
        """The reviews of each work with their polarity (and verdict sentence if ``quotes``)."""
        wanted = {w.work_id for w in works}
        by_work: dict[str, list[Review]] = {w.work_id: [] for w in works}
        for review in self._reviews_of(sorted(wanted)):
            if review.work is not None and review.work.work_id in wanted:
                by_work[review.work.work_id].append(review)
        unrated = [
            r
            for reviews in by_work.values()
            for r in reviews
            if r.rating is None and r.polarity is None
        ]
        # Text polarities missing from an older index are computed from the sentence vectors
        # of these reviews only, and not for more than MAX_COMPUTED_REVIEWS at once.
        computable = quotes or len(unrated) <= MAX_COMPUTED_REVIEWS
        result = []
        for work in works:
            reviews = by_work[work.work_id]
            reading = reviews if quotes else [r for r in reviews if r in unrated and computable]
            read = self._read_sentences(reading) if reading else {}
            opinions = [self._review_opinion(r, read.get(r.review_id)) for r in reviews]
            if quotes:
                for opinion in opinions:
                    opinion.verdict = self._verdict(opinion, read.get(opinion.review.review_id, []))
            result.append(WorkReviews(work, opinions))
        return result

    def reviews_of(self, work: Work) -> list[Review]:
        return [
            r
            for r in self._reviews_of([work.work_id])
            if r.work is not None and r.work.work_id == work.work_id
        ]

    def sentences_of(self, reviews: Sequence[Review]) -> dict[str, list[ReadSentence]]:
        """Per review, its sentences in order, with their polarity and unit vector."""
        return self._read_sentences(reviews)

    def allows(self, quote: str) -> bool:
        """Whether the screen lets this sentence be quoted."""
        return self._screen.allows(quote)

    def side(self, probability: float | None) -> Polarity | None:
        """A sentence's polarity label, None without a head or a probability."""
        return None if probability is None else _side(probability, self._head)

    def quote(self, opinions: Sequence[ReviewOpinion]) -> None:
        """Find the verdict sentence of these reviews (read without quotes)."""
        read = self._read_sentences([o.review for o in opinions])
        for opinion in opinions:
            opinion.verdict = self._verdict(opinion, read.get(opinion.review.review_id, []))

    def _review_opinion(
        self, review: Review, sentences: list[ReadSentence] | None
    ) -> ReviewOpinion:
        probability = review.polarity
        if probability is None and self._head is not None and sentences:
            probability = self._text_probability(sentences)
        if review.rating is not None:
            polarity: Polarity | None = rating_polarity(review.rating.normalized)
            basis: Basis | None = "rating"
        elif probability is not None and self._head is not None:
            polarity, basis = self._head.label(probability), "text"
        else:
            polarity, basis = None, None
        lean = None
        if polarity is not None and basis is not None:
            lean = leaning(polarity, basis, probability, self._head)
        return ReviewOpinion(review, polarity, basis, probability, lean=lean)

    def _text_probability(self, sentences: list[ReadSentence]) -> float | None:
        """The review's polarity from the mean of its sentences' unit vectors: on 114 rated DVD
        reviews it agreed with the rating for 0.59 (0.87 outside the mixed band), against 0.51
        for the mean of the sentences' own polarities."""
        vectors = [s.vector for s in sentences if s.vector is not None]
        if not vectors or self._head is None:
            return None
        return self._head.polarity([np.mean(vectors, axis=0)])[0]

    def _verdict(self, opinion: ReviewOpinion, sentences: list[ReadSentence]) -> Verdict | None:
        """The sentence that agrees with the review and is most decided, closing ones first."""
        if not sentences:
            return None
        last = len(sentences) - 1
        best: tuple[float, Verdict] | None = None
        for i, sentence in enumerate(sentences):
            quote, probability = sentence.quote, sentence.probability
            if not sentence.prose or not self._screen.allows(quote):
                continue
            closing = i / last if last else 1.0
            if probability is None or opinion.polarity is None:
                score = closing
            else:
                side = _side(probability, self._head)
                agrees = side == opinion.polarity or (
                    opinion.polarity == "mixed" and side is not None
                )
                decided = abs(probability - 0.5) * 2
                if opinion.polarity == "mixed":
                    decided = 1 - decided  # a mixed review is quoted where it weighs both
                score = (decided if agrees else decided - 1.0) + CLOSING_WEIGHT * closing
            if best is None or score > best[0]:
                best = (score, Verdict(quote, probability))
        return best[1] if best else None

    def _read_sentences(self, reviews: Sequence[Review]) -> dict[str, list[ReadSentence]]:
        """Per review, its sentences in order, with their polarity and unit vector."""
        ids = {r.review_id for r in reviews}
        work_ids = sorted({r.work.work_id for r in reviews if r.work is not None})
        chunks = sorted(
            (c for c in self._chunks_of(work_ids) if c.review_id in ids),
            key=lambda c: (c.review_id, int(str(c.metadata.get("chunk_index", 0)))),
        )
        stored = self._sentences([c.chunk_id for c in chunks]) if chunks else {}
        rows: list[tuple[str, str, npt.NDArray[np.float32] | None, float | None]] = []
        for chunk in chunks:
            found = stored.get(chunk.chunk_id)
            if found:
                for s in found:
                    quote = chunk.text[s.start : s.end].strip()
                    rows.append((chunk.review_id, quote, s.vector, s.polarity))
            else:
                language = str(chunk.metadata.get("language", "de"))
                for span in sentences_of(chunk.text, language):
                    quote = chunk.text[span.start : span.end].strip()
                    if quote:
                        rows.append((chunk.review_id, quote, None, None))
        vectors = self._vectors(rows)
        probabilities: list[float | None] = [p for _, _, _, p in rows]
        if self._head is not None and len(vectors):
            computed = self._head.polarity(vectors, [quote for _, quote, _, _ in rows])
            probabilities = [
                p if p is not None else c for p, c in zip(probabilities, computed, strict=True)
            ]
        read: dict[str, list[ReadSentence]] = {}
        for i, (review_id, quote, _, _) in enumerate(rows):
            if quote:
                vector = vectors[i] if len(vectors) else None
                sentence = ReadSentence(quote, probabilities[i], _is_prose(quote), vector)
                read.setdefault(review_id, []).append(sentence)
        return read

    def _vectors(
        self, rows: Sequence[tuple[str, str, npt.NDArray[np.float32] | None, float | None]]
    ) -> npt.NDArray[np.float64]:
        """The sentences' unit vectors: stored ones, the others embedded now (this work only).

        Empty when a sentence has no vector and nothing can embed it.
        """
        missing = [i for i, row in enumerate(rows) if row[2] is None]
        if missing and self._embed is None:
            return np.zeros((0, 0))
        embedded = self._embed([rows[i][1] for i in missing]) if missing and self._embed else []
        fresh = dict(zip(missing, embedded, strict=True))
        if not rows:
            return np.zeros((0, 0))
        stacked: list[object] = [
            row[2] if row[2] is not None else fresh[i] for i, row in enumerate(rows)
        ]
        return unit(np.asarray(stacked, dtype=np.float64))


def _side(probability: float, head: PolarityHead | None) -> Polarity | None:
    if head is None:
        return None
    return head.label(probability)


_HEADER = re.compile(r"^[\w ./-]{0,30}:\s|^\W|©|\|")


def _is_prose(quote: str) -> bool:
    """A sentence worth quoting as a verdict: long enough, not a header, caption or question."""
    text = " ".join(quote.split())
    if not MIN_VERDICT_CHARS <= len(text) <= MAX_VERDICT_CHARS or text.endswith("?"):
        return False
    return not _HEADER.search(text) or text.count(" ") > 12


# --- answers ---------------------------------------------------------------------------


def answer_opinion(
    question: Question,
    reader: OpinionReader,
    catalogue: Sequence[Work],
    *,
    figures: OpinionFigures | None = None,
    small_corpus: int = SMALL_CORPUS,
) -> Answer:
    """The verdict, comparison or extreme the question asks for, counted exactly and quoted.

    A question about all works of a corpus of more than ``small_corpus`` reviews is ranked
    from ``figures`` (the catalogue's, counted at index time) when given: the same answer,
    reading the reviews of the works it names only.
    """
    works = list(question.works) or list(catalogue)
    if not question.works and figures is not None and figures.review_count > small_corpus:
        return _answer_from_figures(question, reader, works, figures)
    if question.opinion == "extreme":
        read = reader.works(works, quotes=False)
        return _extreme(question, read, reader, all_works=not question.works)
    if question.opinion == "comparison" or not question.works:
        if not question.works:
            least = question.extreme == "negative"
            ranked = _ranked(reader.works(works, quotes=False), least=least)[:RANKED_WORKS]
            quoted = reader.works([w.work for w in ranked])
            return _comparison(question, quoted, all_works=True)
        return _comparison(question, reader.works(works), all_works=False)
    return _verdict(question, reader.works(works))


def _answer_from_figures(
    question: Question, reader: OpinionReader, works: Sequence[Work], figures: OpinionFigures
) -> Answer:
    """The all-works comparison or extreme review of :func:`answer_opinion`, its works chosen
    from the figures; only the chosen works' reviews are read (and those of works with
    reviews whose polarity the index did not store, when few enough to compute)."""
    standings = _standings(reader, works, figures)
    least = question.extreme == "negative"
    if question.opinion == "extreme":
        extremes = [(key, s.work) for s in standings if (key := s.extreme(least)) is not None]
        if not extremes:
            return _extreme(question, [], reader, all_works=True)
        pick = (min if least else max)(extremes, key=lambda e: e[0])[1]
        return _extreme(question, reader.works([pick], quotes=False), reader, all_works=True)
    counted = [s for s in standings if s.counted]
    ranked = sorted(counted, key=lambda s: s.key, reverse=least)[:RANKED_WORKS]
    return _comparison(question, reader.works([s.work for s in ranked]), all_works=True)


@dataclass(frozen=True)
class _Standing:
    """A work's counts and ranking inputs, from its figures or from its reviews read."""

    work: Work
    counted: int  # reviews counted
    key: tuple[float, float, float, int]  # see ranking_key
    extremes: tuple[tuple[float, float], ...]  # (lowest, highest) review key, when counted

    def extreme(self, least: bool) -> tuple[float, float] | None:
        return (self.extremes[0] if least else self.extremes[1]) if self.extremes else None


def _standings(
    reader: OpinionReader, works: Sequence[Work], figures: OpinionFigures
) -> list[_Standing]:
    """Each work's standing in the order of ``works``: from its figures, or from its reviews
    where some have no stored polarity and the reader would compute it (as the full reading
    does for at most MAX_COMPUTED_REVIEWS of them)."""
    found = {w.work_id: figures.of(w.work_id) for w in works}
    unscored = [w for w in works if (f := found[w.work_id]) is not None and f.unscored]
    computed = sum(f.unscored for f in found.values() if f is not None)
    read: dict[str, WorkReviews] = {}
    if unscored and reader.head is not None and computed <= MAX_COMPUTED_REVIEWS:
        read = {w.work.work_id: w for w in reader.works(unscored, quotes=False)}
    standings = []
    for work in works:
        if work.work_id in read:
            standings.append(_standing_of_reviews(read[work.work_id]))
        else:
            standings.append(_standing_of_figures(work, found[work.work_id], reader.head))
    return standings


def _standing_of_reviews(work: WorkReviews) -> _Standing:
    keys = [_review_key(r) for r in work.reviews if r.polarity is not None]
    extremes = (min(keys), max(keys)) if keys else ()
    opinion = work.opinion()
    return _Standing(work.work, opinion.reviews, ranking_key(work), extremes)


def _review_key(review: ReviewOpinion) -> tuple[float, float]:
    """How positive a review is, for the most positive or negative review."""
    text = review.text_probability if review.text_probability is not None else 0.5
    return (review.strength, text)


def _standing_of_figures(
    work: Work, figures: WorkFigures | None, head: PolarityHead | None
) -> _Standing:
    """The :func:`ranking_key` of the work's reviews read, from their ratings and stored text
    polarities (counted as :meth:`WorkReviews.opinion` and :meth:`WorkReviews.liking` count)."""
    if figures is None:
        return _Standing(work, 0, _key(0.0, 0, 0, None), ())
    ratings = figures.ratings
    rated_positive = len(ratings) - bisect_left(ratings, POSITIVE_RATING)
    texts = figures.texts if head is not None else ()
    text_positive = 0
    partial: list[float] = []
    keys = [k for k in (figures.lowest_rated, figures.highest_rated) if k is not None]
    if head is not None and texts:
        low, high = head.mixed_band
        threshold = head.threshold
        text_positive = len(texts) - bisect_left(texts, threshold)
        text_positive -= _count_between(texts, max(low, threshold), high)
        if low < high:
            band = texts[bisect_left(texts, low) : bisect_left(texts, high)]
            partial = [leaning("mixed", "text", p, head) for p in band]
        keys += [(texts[0], texts[0]), (texts[-1], texts[-1])]
    positive = rated_positive + text_positive
    counted = len(ratings) + len(texts)
    liking = _exact_mean(positive, partial, counted)
    extremes = (min(keys), max(keys)) if keys else ()
    return _Standing(
        work, counted, _key(liking, positive, counted, figures.average_rating), extremes
    )


def _count_between(values: Sequence[float], low: float, high: float) -> int:
    """How many of the ascending ``values`` lie in [low, high)."""
    return max(0, bisect_left(values, high) - bisect_left(values, low))


def _exact_mean(ones: int, partial: Sequence[float], count: int) -> float:
    """The mean of ``ones`` leans of 1, the ``partial`` ones and zeros, ``count`` in all,
    rounded once as :func:`statistics.mean` rounds it."""
    if not count:
        return 0.0
    # Floats are exact binary fractions: summed over a common power-of-two denominator and
    # divided as integers, which Python rounds correctly once.
    ratios = [p.as_integer_ratio() for p in partial]
    denominator = max((d for _, d in ratios), default=1)
    numerator = ones * denominator + sum(n * (denominator // d) for n, d in ratios)
    return numerator / (denominator * count)


def _ranked(works: Sequence[WorkReviews], *, least: bool = False) -> list[WorkReviews]:
    """Best liked first, or least liked first."""
    counted = [w for w in works if w.opinion().reviews]
    return sorted(counted, key=ranking_key, reverse=least)


class _Sources:
    """Numbers the reviews an answer quotes, once each."""

    def __init__(self) -> None:
        self.sources: list[Source] = []

    def number(self, opinion: ReviewOpinion) -> int | None:
        return next((s.n for s in self.sources if s.review_id == opinion.review.review_id), None)

    def cite(self, opinion: ReviewOpinion) -> int:
        review = opinion.review
        for source in self.sources:
            if source.review_id == review.review_id:
                return source.n
        work = review.work
        source = Source(
            n=len(self.sources) + 1,
            review_id=review.review_id,
            work=work.label() if work else review.review_id,
            title=work.title if work else review.title,
            year=work.year if work else review.year,
            director=work.director if work else review.director,
            author=review.author,
            source=review.source,
            quote=opinion.verdict.quote if opinion.verdict else "",
            score=round(opinion.strength, 3),
            polarity=opinion.polarity,
        )
        self.sources.append(source)
        return source.n


def _counts_line(opinion: WorkOpinion, language: str) -> str:
    """ "Ballerina (2023, Lee Chung-hyun): 2 von 3 Rezensionen positiv, 1 gemischt (Ø 3,5/5
    aus 1 Wertung)" """
    de = language == "de"
    labels = _LABELS["de" if de else "en"]
    n = opinion.reviews
    noun = ("Rezension" if n == 1 else "Rezensionen") if de else ("review" if n == 1 else "reviews")
    parts = [
        f"{opinion.positive} {'von' if de else 'of'} {n} {noun} {labels['positive']}",
    ]
    if opinion.mixed:
        parts.append(f"{opinion.mixed} {labels['mixed']}")
    if opinion.negative:
        parts.append(f"{opinion.negative} {labels['negative']}")
    line = f"{opinion.work}: " + ", ".join(parts)
    if opinion.average_rating is not None:
        shown = _average(opinion.average_rating, de)
        rated = opinion.rated
        line += (
            f" (Ø {shown} aus {rated} Wertung{'en' * (rated != 1)})"
            if de
            else f" (average {shown} from {rated} rating{'s' * (rated != 1)})"
        )
    return line


def _average(normalized: float, de: bool) -> str:
    value = f"{normalized * 5:.1f}".rstrip("0").rstrip(".")
    return f"{value.replace('.', ',') if de else value}/5"


def _basis_line(reviews: Sequence[ReviewOpinion], sources: _Sources, language: str) -> str:
    """Which reviews count by their text, and which could not be counted; the quoted ones by
    number, the rest by how many they are."""
    de = language == "de"
    lines = []
    for chosen, label in (
        (
            [r for r in reviews if r.basis == "text"],
            ("Ohne Wertung, nach dem Text gezählt", "No rating, counted by their text"),
        ),
        (
            [r for r in reviews if r.polarity is None],
            (
                "Nicht gezählt (keine Wertung, Text nicht lesbar)",
                "Not counted (no rating, text not readable)",
            ),
        ),
    ):
        if not chosen:
            continue
        cited = sorted(n for r in chosen if (n := sources.number(r)) is not None)
        if len(chosen) <= MAX_QUOTED_REVIEWS:
            cited = [sources.cite(r) for r in chosen]
        refs = ", ".join(f"[{n}]" for n in cited)
        rest = len(chosen) - len(cited)
        if rest:
            more = f"{rest} weitere" if de else f"{rest} more"
            refs = f"{refs} {'und' if de else 'and'} {more}" if refs else more
        lines.append(f"{label[0] if de else label[1]}: {refs}.")
    return " ".join(lines)


def _quote_lines(
    reviews: Sequence[ReviewOpinion], sources: _Sources, language: str, *, limit: int | None = None
) -> list[str]:
    """Each review's verdict sentence, most positive first; of many reviews, the most
    decided few of each polarity."""
    labels = _LABELS["de" if language == "de" else "en"]
    ordered = sorted(reviews, key=lambda r: -r.strength)
    if limit is None and len(ordered) > MAX_QUOTED_REVIEWS:
        keep = {
            id(r)
            for side in ("positive", "negative", "mixed")
            for r in sorted(
                (r for r in ordered if r.polarity == side),
                key=lambda r: -abs(r.strength - 0.5),
            )[:QUOTES_PER_POLARITY]
        }
        ordered = [r for r in ordered if id(r) in keep]
    lines = []
    for opinion in ordered[:limit]:
        if opinion.verdict is None:
            continue
        n = sources.cite(opinion)
        label = labels[opinion.polarity] if opinion.polarity else "?"
        rating = f", {opinion.review.rating.display()}" if opinion.review.rating else ""
        quote = " ".join(opinion.verdict.quote.split())
        lines.append(f"  [{n}] {label}{rating}: „{quote}“")
    return lines


def _verdict(question: Question, works: Sequence[WorkReviews]) -> Answer:
    sources = _Sources()
    lines: list[str] = []
    for work in works:
        lines.append(_counts_line(work.opinion(), question.language))
        lines.extend(_quote_lines(work.reviews, sources, question.language))
    basis = _basis_line([r for w in works for r in w.reviews], sources, question.language)
    if basis:
        lines.append(basis)
    return _answer(question, "verdict", lines, sources, [w.opinion() for w in works])


def _comparison(question: Question, works: Sequence[WorkReviews], *, all_works: bool) -> Answer:
    de = question.language == "de"
    least = question.extreme == "negative"
    ranked = _ranked(works, least=least)
    sources = _Sources()
    if not ranked:
        lines = ["Keine der Rezensionen ist gezählt." if de else "No review could be counted."]
        return _answer(question, "comparison", lines, sources, [])
    best = ranked[0].opinion()
    tied = len(ranked) > 1 and ranking_key(ranked[1]) == ranking_key(ranked[0])
    if tied:
        head = "Gleichauf: " if de else "Level: "
        head += " / ".join(w.work.label() for w in ranked[:2])
    elif least:
        head = f"Am schlechtesten kommt {best.work} an." if de else f"Least liked: {best.work}."
    elif all_works:
        head = f"Am besten kommt {best.work} an." if de else f"Best liked: {best.work}."
    else:
        head = f"Besser kommt {best.work} an." if de else f"Better liked: {best.work}."
    lines = [head]
    # The positive counts alone would rank them the other way round: say why.
    shares = [_label_share(w) for w in ranked[:2]]
    if not tied and len(shares) > 1 and shares[0] != shares[1] and (shares[1] > shares[0]) != least:
        lines.append(
            "Gereiht nach der Neigung jeder Rezension: ein Text ohne Wertung im gemischten "
            "Bereich zählt, so weit er zum Positiven neigt."
            if de
            else "Ranked by how far each review leans: an unrated text in the mixed band "
            "counts as far as it leans positive."
        )
    for place, work in enumerate(ranked, start=1):
        prefix = f"{place}. " if len(ranked) > 1 else ""
        lines.append(prefix + _counts_line(work.opinion(), question.language))
        lines.extend(_quote_lines(work.reviews, sources, question.language, limit=QUOTES_PER_WORK))
    basis = _basis_line([r for w in ranked for r in w.reviews], sources, question.language)
    if basis:
        lines.append(basis)
    return _answer(question, "comparison", lines, sources, [w.opinion() for w in ranked])


def _extreme(
    question: Question, works: Sequence[WorkReviews], reader: OpinionReader, *, all_works: bool
) -> Answer:
    de = question.language == "de"
    negative = question.extreme == "negative"
    counted = [r for w in works for r in w.reviews if r.polarity is not None]
    sources = _Sources()
    if not counted:
        lines = ["Keine der Rezensionen ist gezählt." if de else "No review could be counted."]
        return _answer(question, "extreme", lines, sources, [])

    def key(r: ReviewOpinion) -> tuple[float, float]:
        text = r.text_probability if r.text_probability is not None else 0.5
        return (r.strength, text)

    pick = min(counted, key=key) if negative else max(counted, key=key)
    reader.quote([pick])
    scope = "" if all_works else f" {'zu' if de else 'of'} {works[0].work.label()}"
    if len(works) > 1 and not all_works:
        scope = f" {'zu' if de else 'of'} " + " / ".join(w.work.label() for w in works)
    if de:
        head = f"Die {'negativste' if negative else 'positivste'} Rezension{scope}:"
    else:
        head = f"The most {'negative' if negative else 'positive'} review{scope}:"
    work_label = pick.review.work.label() if pick.review.work else pick.review.review_id
    lines = [head, f"{work_label}" + (f" — {pick.review.author}" if pick.review.author else "")]
    lines.extend(_quote_lines([pick], sources, question.language))
    if pick.basis == "text":
        lines.append(_basis_line([pick], sources, question.language))
    opinions = [w.opinion() for w in works if pick in w.reviews]
    return _answer(question, "extreme", lines, sources, opinions)


def _answer(
    question: Question,
    kind: str,
    lines: Sequence[str],
    sources: _Sources,
    opinions: Sequence[WorkOpinion],
) -> Answer:
    cited = sources.sources
    return Answer(
        question=question.text,
        answer="\n".join(lines),
        status="answered",
        language=question.language,
        works=[o.work for o in opinions] or list(dict.fromkeys(s.work for s in cited)),
        sources=cited,
        kind=kind,
        work_ids=[o.work_id for o in opinions],
        opinions=list(opinions),
    )


# --- per-work summaries ----------------------------------------------------------------


@dataclass(frozen=True)
class WorkSummaryOpinion:
    """A work's positive share and its consensus line, for ``reviewbot works`` and ``/works``.

    The consensus is the verdict sentence of the work's most representative review: the one
    whose strength (its rating, else its text's probability of being positive) is nearest the
    mean strength of the work's reviews; a rated review wins a tie.
    """

    opinion: WorkOpinion
    consensus: Source | None
    # The seed aspects its reviews' sentences are most about, with how many sentences each.
    # As (key, German name, English name, sentences), most first.
    aspects: tuple[tuple[str, str, str, int], ...] = ()

    def as_dict(self) -> dict[str, object]:
        o = self.opinion
        return {
            "aspects": [{"aspect": key, "sentences": n} for key, _, _, n in self.aspects],
            "positive": o.positive,
            "negative": o.negative,
            "mixed": o.mixed,
            "counted": o.reviews,
            "from_rating": o.from_rating,
            "from_text": o.from_text,
            "positive_share": round(o.positive / o.reviews, 4) if o.reviews else None,
            "consensus": (
                {
                    "review_id": self.consensus.review_id,
                    "quote": self.consensus.quote,
                    "polarity": self.consensus.polarity,
                }
                if self.consensus
                else None
            ),
        }


def summarize_opinions(
    reader: OpinionReader,
    works: Sequence[Work],
    *,
    aspects: AspectFinder | None = None,
) -> list[WorkSummaryOpinion]:
    """Each work's counts and consensus line, in the order of ``works``; with ``aspects``,
    its top aspects (sentences about each, counted by the finder)."""
    read = reader.works(works, quotes=False)
    representatives = [_representative(w) for w in read]
    reader.quote([r for r in representatives if r is not None])
    summaries = []
    for work, representative in zip(read, representatives, strict=True):
        consensus = None
        if representative is not None and representative.verdict is not None:
            sources = _Sources()
            sources.cite(representative)
            consensus = sources.sources[0]
        top = _top_aspects(reader, work, aspects) if aspects else ()
        summaries.append(WorkSummaryOpinion(work.opinion(), consensus, top))
    return summaries


TOP_ASPECTS = 3


def _top_aspects(
    reader: OpinionReader, work: WorkReviews, finder: AspectFinder
) -> tuple[tuple[str, str, str, int], ...]:
    read = reader.sentences_of([r.review for r in work.reviews])
    sentences = [s for v in read.values() for s in v if s.prose and s.vector is not None]
    if not sentences:
        return ()
    vectors = np.asarray([s.vector for s in sentences if s.vector is not None], np.float32)
    counts = finder.counts(vectors, [s.quote for s in sentences])
    seeds = {seed.key: seed for seed in finder.seeds}
    ranked = sorted(((n, key) for key, n in counts.items() if n), reverse=True)[:TOP_ASPECTS]
    return tuple((key, seeds[key].name("de"), seeds[key].name("en"), n) for n, key in ranked)


def _representative(work: WorkReviews) -> ReviewOpinion | None:
    counted = [r for r in work.reviews if r.polarity is not None]
    if not counted:
        return None
    centre = mean(r.strength for r in counted)
    return min(counted, key=lambda r: (abs(r.strength - centre), r.basis != "rating"))


def summary_line(summary: WorkSummaryOpinion, language: str = "en") -> str:
    """One work's opinion line: ``3 of 4 positive · average 3.5/5 (2 rated) · “consensus”``."""
    de = language == "de"
    o = summary.opinion
    parts = [f"{o.positive} {'von' if de else 'of'} {o.reviews} {'positiv' if de else 'positive'}"]
    if o.average_rating is not None:
        shown = _average(o.average_rating, de)
        parts.append(
            f"Ø {shown} ({o.rated} {'bewertet' if de else 'rated'})"
            if de
            else f"average {shown} ({o.rated} rated)"
        )
    if summary.aspects:
        parts.append(
            ", ".join(
                f"{de_name if de else en_name} {n}" for _, de_name, en_name, n in summary.aspects
            )
        )
    if summary.consensus is not None:
        parts.append(f"„{' '.join(summary.consensus.quote.split())}“")
    return " · ".join(parts)


# --- aspects ---------------------------------------------------------------------------


def answer_aspect(
    question: Question,
    reader: OpinionReader,
    finder: AspectFinder,
    aspect: AspectQuery,
    *,
    say_none: bool = False,
    sure_only: bool = False,
) -> Answer | None:
    """Per work, the reviews that speak of ``aspect``, each quoted by its sentence nearest the
    aspect and counted by that sentence's polarity ("Musik — 2 Rezensionen (unten zitiert):
    1 positiv, 1 negativ"): the count is of exactly the quoted reviews. None when no sentence
    is about it as surely as the finder's answer threshold asks, and for a phrase of the
    question's own made only of the words that picked one of several works ("Lohnt sich
    Ballerina auf Netflix?").

    A work whose only quote is its sentence nearest a seed aspect that uses none of the
    aspect's words is not counted: the answer says that none of its reviews names the
    aspect and quotes that sentence as the nearest. With ``say_none``, a seed aspect that
    no sentence of a work is about is answered too: none of its N reviews speaks of it;
    and each such work's verdict counts follow. With ``sure_only`` (works the question did
    not name) a work is left out unless its reviews surely speak of the aspect."""
    if not aspect.seed:
        deciding = {word.lower() for word in question.deciding}
        kept = [word for word in aspect.key.split() if word.lower() not in deciding]
        if not kept:
            return None
        if len(kept) < len(aspect.key.split()):
            aspect = finder.phrase_aspect(" ".join(kept), question.language)
        if question.opinion == "verdict" and asks_worth(question.text):
            # "Lohnt sich der Kauf von X?" asks for a verdict: its own noun is an aspect
            # only when sentences are near it by vector alone, not by using the word.
            aspect = replace(aspect, by_words=False)
    de = question.language == "de"
    labels = _LABELS["de" if de else "en"]
    sources: list[Source] = []
    lines: list[str] = []
    # Works none of whose reviews names the aspect: their verdict counts follow.
    unnamed: list[Work] = []
    for work in question.works:
        reviews = reader.reviews_of(work)
        read = reader.sentences_of(reviews)
        found: list[tuple[Review, ReadSentence]] = [
            (review, s)
            for review in reviews
            for s in read.get(review.review_id, [])
            if s.vector is not None and s.prose
        ]
        if not found:
            continue
        vectors = np.asarray([s.vector for _, s in found if s.vector is not None], np.float32)
        quotes = finder.quotes(
            aspect,
            vectors,
            [s.quote for _, s in found],
            [r.review_id for r, _ in found],
            allows=reader.allows,
        )
        chosen = quotes.indices
        sides: list[Polarity] = [reader.side(found[i][1].probability) or "mixed" for i in chosen]
        counts = review_polarity_counts([found[i][0].review_id for i in chosen], sides)
        if sure_only and not (counts.total and quotes.sure):
            continue
        if not counts.total:
            if say_none and aspect.seed:
                lines.append(f"{work.label()}: {_none_line(aspect.name, len(reviews), de)}")
                unnamed.append(work)
            continue
        if quotes.sure:
            line = count_line(aspect.name, counts, question.language, quoted=True)
        else:
            line = _none_line(aspect.name, len(reviews), de, nearest=True)
            unnamed.append(work)
        lines.append(f"{work.label()}: {line}")
        order: tuple[Polarity, ...] = ("positive", "negative", "mixed")
        for side in order:
            for i in [i for i, s in zip(chosen, sides, strict=True) if s == side]:
                review, sentence = found[i]
                n = len(sources) + 1
                sources.append(
                    Source(
                        n=n,
                        review_id=review.review_id,
                        work=work.label(),
                        title=work.title,
                        year=work.year,
                        director=work.director,
                        author=review.author,
                        source=review.source,
                        quote=sentence.quote,
                        score=1.0,
                        polarity=side,
                    )
                )
                lines.append(f"  [{n}] {labels[side]}: „{' '.join(sentence.quote.split())}“")
    if not lines:
        return None
    verdicts = [w.opinion() for w in reader.works(unnamed, quotes=False)]
    lines.extend(
        f"{'Gesamturteil' if de else 'Overall'} — {_counts_line(o, question.language)}"
        for o in verdicts
    )
    answer = _answer(question, "aspect", lines, _Sources(), verdicts)
    answer.sources = sources
    answer.works = list(dict.fromkeys([*(s.work for s in sources), *(o.work for o in verdicts)]))
    answer.work_ids = [w.work_id for w in question.works if w.label() in answer.works]
    answer.aspect = aspect.name
    return answer


def _none_line(name: str, reviews: int, de: bool, *, nearest: bool = False) -> str:
    """ "Synchronisation — keine der 2 Rezensionen spricht davon." / "Dubbing — not named in
    its one review; its nearest sentence:" """
    head = name[:1].upper() + name[1:]
    if nearest:
        if de:
            where = (
                "in der einen Rezension nicht genannt"
                if reviews == 1
                else f"in keiner der {reviews} Rezensionen genannt"
            )
            return f"{head} — {where}; am nächsten kommt dieser Satz:"
        where = "its one review" if reviews == 1 else f"any of its {reviews} reviews"
        return f"{head} — not named in {where}; the nearest sentence:"
    if de:
        where = (
            "die eine Rezension spricht nicht davon"
            if reviews == 1
            else f"keine der {reviews} Rezensionen spricht davon"
        )
        return f"{head} — {where}."
    where = (
        "its one review does not speak of it"
        if reviews == 1
        else (f"none of its {reviews} reviews speaks of it")
    )
    return f"{head} — {where}."
