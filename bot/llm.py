"""Answers written by an OpenAI-compatible LLM from the retrieved passages, then checked.

The model sees a few numbered, clipped passages and must cite them as ``[n]``. What it
writes is only trusted after the checks (:mod:`bot.citations`): every citation names a
passage it was given, every quote shown is a verbatim sentence of that passage, words it
puts in quotation marks stand in the passage it cites, numbers it states occur in the
passages, and a sentence naming a work cites a passage of that work; the unfinished last
sentence of a stream that was cut off is left out. When the model says
the passages hold no answer, the answer is "not found" (unless the offline answer states
the asked field, such as a director from a header line); anything else that fails the
checks falls back to the offline answer, with a one-line note saying why.

Opinion answers (verdicts, aspects, comparisons, extremes) are counted offline; the model
only summarises their counts and polarity-labelled quotes, and its summary is shown only
when every number it states is a computed figure and every count it states (``1 of 2
positive``) is one that was computed. The Answer keeps the offline figures and sources.

The model is asked whatever the offline ranker found, so it can answer what word matching
missed; only a question naming a film that is not indexed, or one in a language word
matching cannot read, keeps its offline "not found" without asking.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import openai
from langchain_core.messages import BaseMessage
from pydantic import SecretStr

from bot import citations
from bot.answers import NOT_FOUND, Answer, Passage, Polarity, Source, WorkOpinion
from bot.citations import CITATION, SENTENCE_END, ShownPassage
from bot.prompts import (
    ANSWER_VARIABLES,
    CONDENSE_VARIABLES,
    OPINION_VARIABLES,
    PROMPTS_DIR,
    load_prompt,
)
from bot.screening import SentenceScreen, contact_data
from index.errors import ConfigurationError, ReviewbotError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from bot.conversation import Turn
    from bot.engine.reading import Question
    from bot.settings import Settings
    from index.records import Work

log = logging.getLogger(__name__)

__all__ = [
    "ANSWER_VARIABLES",
    "CONDENSE_VARIABLES",
    "PROMPTS_DIR",
    "LlmAnswerer",
    "LlmUnavailableError",
    "describe_error",
    "final_answer",
    "load_prompt",
    "make_chat_model",
]

# A 0.5B model on one CPU thread reads ~40 prompt tokens a second: few, short passages.
MAX_PASSAGES = 3
PASSAGE_CHARS = 300
HISTORY_TURNS = 3
HISTORY_ANSWER_CHARS = 160
DEFAULT_MODEL = "gpt-4o-mini"

LANGUAGE_NAMES = {"de": "German (Deutsch)", "en": "English"}

# Errors that mean the endpoint is down, slow, refusing or misconfigured.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx.HTTPError)


class LlmUnavailableError(ReviewbotError):
    """The LLM endpoint could not be reached or refused the request."""


def make_chat_model(settings: Settings) -> BaseChatModel:
    """A ChatOpenAI client for the configured OpenAI-compatible endpoint."""
    from langchain_openai import ChatOpenAI  # the openai client is only needed with an LLM

    if not settings.llm_base_url:
        raise ConfigurationError("REVIEWBOT_LLM_BASE_URL is not set")
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        # Local servers (llama.cpp, Ollama, vLLM) accept any key; OpenAI answers 401.
        api_key=settings.llm_api_key or SecretStr("not-needed"),
        model=settings.llm_model or DEFAULT_MODEL,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_retries,
        temperature=0,
        # llama_cpp.server ignores max_completion_tokens, which langchain-openai sends.
        extra_body={"max_tokens": settings.llm_max_tokens},
    )


# -- the answerer --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    question: Question
    shown: list[ShownPassage]
    works: list[Work]
    offline: Answer
    messages: list[BaseMessage]


class LlmAnswerer:
    """Writes answers with a chat model from given passages and checks their citations."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        prompts_dir: Path = PROMPTS_DIR,
        max_passages: int = MAX_PASSAGES,
        passage_chars: int = PASSAGE_CHARS,
        history_turns: int = HISTORY_TURNS,
        screen: SentenceScreen | None = None,
    ) -> None:
        self.chat_model = chat_model
        self.screen = screen or SentenceScreen(None)
        self.answer_prompt = load_prompt(prompts_dir / "answer.md", required=ANSWER_VARIABLES)
        self.condense_prompt = load_prompt(prompts_dir / "condense.md", required=CONDENSE_VARIABLES)
        self.opinion_prompt = load_prompt(prompts_dir / "opinion.md", required=OPINION_VARIABLES)
        self.max_passages = max_passages
        self.passage_chars = passage_chars
        self.history_turns = history_turns

    # -- answering

    def answer(
        self,
        question: Question,
        passages: Sequence[Passage],
        works: Sequence[Work],
        *,
        offline: Answer,
    ) -> Answer:
        """The checked LLM answer, or ``offline`` (with a note) when it cannot be trusted."""
        return final_answer(self.stream(question, passages, works, offline=offline))

    def stream(
        self,
        question: Question,
        passages: Sequence[Passage],
        works: Sequence[Work],
        *,
        offline: Answer,
    ) -> Iterator[str | Answer]:
        """Text deltas as the model writes them, then the checked final Answer.

        The final Answer's text replaces what was streamed (citations renumbered,
        or the offline answer when the checks failed).
        """
        request = self._request(question, passages, works, offline)
        if request is None:
            yield offline
            return
        yield from self._checked_stream(
            request.messages, offline, lambda text, cut: self._check(text, request, cut=cut)
        )

    def stream_opinion(self, question: Question, *, offline: Answer) -> Iterator[str | Answer]:
        """Like :meth:`stream` for an opinion answer counted offline: the model summarises
        its counts and quotes; the final Answer keeps the offline figures and sources, or
        is the offline answer when a number, citation or quote fails the checks."""
        request = self._opinion_request(question, offline)
        if request is None:
            yield offline
            return
        yield from self._checked_stream(
            request.messages,
            offline,
            lambda text, cut: self._check_opinion(text, request, cut),
            ours=request.ours,
        )

    def _checked_stream(
        self,
        messages: list[BaseMessage],
        offline: Answer,
        check: Callable[[str, bool], Answer],
        ours: Sequence[str] = (),
    ) -> Iterator[str | Answer]:
        """The model's whole sentences as they pass the screen, then ``check``'s Answer."""
        text = ""
        released = 0  # text up to here was shown
        blocked = False
        cut = False  # the model stopped at its length limit
        try:
            for chunk in self.chat_model.stream(messages):
                cut = cut or chunk.response_metadata.get("finish_reason") == "length"
                if not chunk.text:
                    continue
                text += chunk.text
                # Whole sentences are shown once the screen has seen them, so text a review
                # smuggled in (a link, an instruction) does not flash up before the checks.
                end = citations.last_sentence_end(text, released)
                if not blocked and end > released:
                    blocked = not self._presentable(text[released:end], ours)
                    if not blocked:
                        yield text[released:end]
                        released = end
        except UNAVAILABLE_ERRORS as error:
            log.info("LLM request failed", exc_info=True)
            yield _with_note(offline, f"LLM unavailable: {describe_error(error)}")
            return
        unfinished = citations.unfinished_tail(text, cut=cut)
        rest = text[released : len(text.rstrip()) - len(unfinished)]
        if not blocked and rest.strip() and self._presentable(rest, ours):
            yield rest
        yield check(text, cut)

    def _presentable(self, text: str, ours: Sequence[str] = ()) -> bool:
        """Whether streamed text may be shown: no link or contact data, no instruction."""
        said = [citations.without_citations(s).strip() for s in SENTENCE_END.split(text)]
        said = [s for s in said if s and not citations.stated_in(s, ours)]
        return contact_data(text) is None and not any(self.screen.reasons(said).values())

    # -- follow-ups

    def condense(self, question: str, turns: Sequence[Turn]) -> str:
        """``question`` rewritten as a standalone question using the last few turns.

        Returns ``question`` unchanged when there is no history or the model fails.
        """
        history = _history(turns[-self.history_turns :]) if self.history_turns else ""
        if not history:
            return question
        messages = self.condense_prompt.format_messages(history=history, question=question)
        try:
            reply = self.chat_model.invoke(messages).text
        except UNAVAILABLE_ERRORS:
            log.info("LLM condense request failed", exc_info=True)
            return question
        return _standalone(reply, question)

    # -- internals

    def _request(
        self,
        question: Question,
        passages: Sequence[Passage],
        works: Sequence[Work],
        offline: Answer,
    ) -> _Request | None:
        """The prompt for the question, or None when the LLM must not be asked."""
        # Exact metadata answers keep their numbers. A film that is not indexed, a subject
        # no review mentions, or a language word matching cannot read, leaves nothing for
        # the passages to answer.
        if offline.kind == "metadata" or not passages:
            return None
        if offline.status == "not_found" and (
            question.unknown_title or question.unmentioned or question.foreign
        ):
            return None
        shown = self._select(question, passages, offline)
        language = LANGUAGE_NAMES.get(question.language, question.language)
        messages = self.answer_prompt.format_messages(
            question=question.text,
            passages="\n\n".join(_label(s) for s in shown),
            language=language,
            not_found=NOT_FOUND.get(question.language, NOT_FOUND["en"]),
        )
        return _Request(question, shown, list(works), offline, messages)

    def _select(
        self, question: Question, passages: Sequence[Passage], offline: Answer
    ) -> list[ShownPassage]:
        """Up to ``max_passages`` passages: those the offline answer quotes first, and at
        least one per work when the question is ambiguous; each clipped around its best
        sentences."""
        quoted = {s.quote for s in offline.sources}
        unique = list({p.chunk_id: p for p in reversed(passages)}.values())[::-1]
        unique.sort(key=lambda p: (not any(q and q in p.text for q in quoted), p.n))
        chosen: list[Passage] = []
        if question.ambiguous:
            for work in question.works:
                first = next((p for p in unique if p.work_id == work.work_id), None)
                if first is not None:
                    chosen.append(first)
        for passage in unique:
            if len(chosen) >= self.max_passages:
                break
            if passage not in chosen:
                chosen.append(passage)
        chosen = chosen[: max(self.max_passages, len(question.works) if question.ambiguous else 0)]
        terms = citations.content_terms(question.text)
        with_director = question.ambiguous or question.aspect == "director"
        held = self._held_back(chosen)
        shown = [
            (p, _excerpt(p, terms, quoted, limit=self.passage_chars, held_back=held[p.chunk_id]))
            for p in chosen
        ]
        return [
            ShownPassage(i, p, excerpt, with_director, held[p.chunk_id])
            for i, (p, excerpt) in enumerate(((p, e) for p, e in shown if e), start=1)
        ]

    def _held_back(self, passages: Sequence[Passage]) -> dict[str, frozenset[str]]:
        """Per passage, the sentences the screen holds back (all judged in one batch)."""
        sentences = {
            p.chunk_id: [p.text[a:b].strip() for a, b in citations.passage_spans(p)]
            for p in passages
        }
        verdicts = self.screen.reasons(s for group in sentences.values() for s in group)
        return {
            chunk_id: frozenset(s for s in group if verdicts[s])
            for chunk_id, group in sentences.items()
        }

    def _refusal(self, text: str, held: Sequence[str], *, ours: Sequence[str] = ()) -> str | None:
        """Why an answer must not be shown: it carries a link or contact data, reads like an
        instruction, or repeats a sentence of the reviews that was held back. Sentences
        repeating text the bot wrote itself (``ours``, such as counts) are not screened."""
        if shape := contact_data(text):
            return f"LLM answer contained a {shape}"
        said = [citations.without_citations(s).strip() for s in citations.sentences(text)]
        said = [s for s in said if s and not citations.stated_in(s, ours)]
        if any(self.screen.reasons(said).values()):
            return "LLM answer addressed the reader instead of answering"
        if any(citations.repeats(sentence, held) for sentence in said):
            return "LLM answer repeated review text addressed to a model"
        return None

    def _opinion_request(self, question: Question, offline: Answer) -> _OpinionRequest | None:
        """The prompt with an opinion answer's counts and quotes, or None when there is
        nothing counted to summarise."""
        if offline.status != "answered":
            return None
        language = question.language
        shown = [_opinion_passage(s, language) for s in offline.sources if s.quote.strip()]
        if not shown:
            return None
        by_n = {s.n: s for s in offline.sources}
        counted = [opinion_evidence(o, language) for o in offline.opinions]
        # Aspect answers carry their counts only as lines of the offline text.
        lines = counted or [
            line for line in offline.answer.splitlines() if line.strip() and "[" not in line
        ]
        if offline.kind in ("comparison", "extreme"):
            lines.insert(0, offline.answer.splitlines()[0])
        passages = [f"[{s.n}] „{s.excerpt}“\n{_opinion_label(by_n[s.n], language)}" for s in shown]
        messages = self.opinion_prompt.format_messages(
            question=question.text,
            evidence="\n".join(lines),
            passages="\n\n".join(passages),
            language=LANGUAGE_NAMES.get(language, language),
        )
        evidence = [question.text, offline.answer, *lines, *passages]
        computed = citations.count_claims("\n".join([*lines, offline.answer]))
        # Years in work labels are not counts; averages and totals are.
        counts = {f for f in citations.figures("\n".join(lines)) if float(f) < 1000}
        return _OpinionRequest(
            question,
            shown,
            offline,
            messages,
            [*lines, *passages],
            evidence,
            computed,
            frozenset(counts),
        )

    def _check_opinion(self, generated: str, request: _OpinionRequest, cut: bool) -> Answer:
        """The model's summary with the offline figures and sources, if every number it
        states was computed, its citations name the quotes and its quotes are verbatim."""
        offline, question = request.offline, request.question
        notes: list[str] = []
        text = generated.strip()
        if unfinished := citations.unfinished_tail(text, cut=cut):
            text = text[: len(text) - len(unfinished)].strip()
            if not text:
                return _opinion_fallback(offline, "LLM answer ended mid-sentence")
            notes.append("LLM answer ended mid-sentence; the unfinished sentence is left out")
        if not text:
            return _opinion_fallback(offline, "LLM returned an empty answer")
        if refusal := self._refusal(text, [], ours=request.ours):
            return _opinion_fallback(offline, refusal)
        if citations.without_not_found(text, list(NOT_FOUND.values())) != text:
            return _opinion_fallback(offline, "LLM found no answer, but the reviews were counted")
        if invented := citations.unsupported_figures(text, evidence=request.evidence):
            return _opinion_fallback(
                offline, f"LLM answer stated numbers not in the counts ({', '.join(invented)})"
            )
        if wrong := citations.wrong_counts(text, computed=request.computed):
            return _opinion_fallback(
                offline, f"LLM answer misstated the counts ({', '.join(map(str, wrong))})"
            )
        by_n = {s.n: s for s in request.shown}
        if not citations.cites_any(text, by_n):
            text = citations.add_citations(text, request.shown, question=question.text)
        text = citations.citations_after_sentences(text)
        labels = {s.n: _opinion_label(s, question.language) for s in offline.sources}
        seen = {n: f"{s.excerpt}\n{labels[n]}" for n, s in by_n.items()}
        titles: dict[str, set[str]] = {}
        for source in offline.sources:
            for title in (source.title, source.work):
                if title and title.strip():
                    titles.setdefault(title.strip(), set()).add(source.work)
        text, misquoted = citations.without_misquoting_sentences(text, seen, titles=titles)
        if misquoted:
            notes.append("LLM answer quoted words that are not in the reviews; left out")
        text, misattributed = citations.without_misattributed_claims(text, request.shown, titles)
        text, cited = citations.known_citations(text, by_n)
        if not cited:
            if misquoted:
                reason = "LLM answer quoted words that are not in the reviews"
            elif misattributed:
                reason = "LLM answer cited passages of other works"
            else:
                reason = "LLM answer had no valid citation"
            return _opinion_fallback(offline, reason)
        if not request.counts & set(citations.figures(text)):
            return _opinion_fallback(offline, "LLM answer left out the counts")
        return replace(offline, answer=text, note="; ".join(notes) or None)

    def _check(self, generated: str, request: _Request, *, cut: bool = False) -> Answer:
        """Turn the model's text into an Answer whose citations and quotes are verified."""
        offline, question = request.offline, request.question
        by_n = {s.n: s for s in request.shown}
        notes: list[str] = []
        text = generated.strip()
        if unfinished := citations.unfinished_tail(text, cut=cut):
            text = text[: len(text) - len(unfinished)].strip()
            if not text:
                return _fallback(offline, "LLM answer ended mid-sentence")
            notes.append("LLM answer ended mid-sentence; the unfinished sentence is left out")
        if not text:
            return _fallback(offline, "LLM returned an empty answer")
        held = [s for shown in request.shown for s in shown.held_back]
        if refusal := self._refusal(text, held):
            return _fallback(offline, refusal)
        not_found = [NOT_FOUND[lang] for lang in NOT_FOUND]
        said = citations.without_not_found(text, not_found)
        if said != text and not citations.cites_any(said, by_n):
            # The model says the passages hold no answer, and cites nothing else it says.
            if any(s.fact for s in offline.sources):
                # A header line or metadata field states what was asked: the model missed it.
                return _fallback(offline, "LLM found no answer, but the reviews state the field")
            return _not_found(question, offline)
        text = said
        known = [question.text]
        known += [t for s in request.shown for t in (s.passage.text, s.passage.work)]
        if invented := citations.unsupported_numbers(text, sources=known):
            return _fallback(
                offline, f"LLM answer stated numbers not in the reviews ({', '.join(invented)})"
            )
        if not citations.cites_any(text, by_n):
            text = citations.add_citations(text, request.shown, question=question.text)
        text = citations.citations_after_sentences(text)
        titles = _titles(request)
        seen = {s.n: f"{s.passage.text}\n{_label(s)}" for s in request.shown}
        text, misquoted = citations.without_misquoting_sentences(text, seen, titles=titles)
        if misquoted:
            notes.append("LLM answer quoted words that are not in the reviews; left out")
        text, misattributed = citations.without_misattributed_claims(text, request.shown, titles)
        text, order = citations.renumber_citations(text, by_n)
        if not order:
            if misquoted:
                return _fallback(offline, "LLM answer quoted words that are not in the reviews")
            if misattributed:
                return _fallback(offline, "LLM answer cited passages of other works")
            return _fallback(offline, "LLM answer had no valid citation")
        claims = citations.claims_by_citation(text)
        sources = []
        for old_n, new_n in order.items():
            shown = by_n[old_n]
            preferred = {s.quote for s in offline.sources if s.review_id == shown.passage.review_id}
            quote = citations.best_quote(shown, claims.get(new_n, ""), preferred=preferred)
            sources.append(_source(new_n, shown.passage, quote))
        text, sources = _cover_works(text, sources, question, offline)
        return Answer(
            question=offline.question,
            answer=text,
            status="answered",
            language=question.language,
            works=list(dict.fromkeys(s.work for s in sources)),
            sources=sources,
            kind="passages",
            work_ids=list(
                dict.fromkeys(
                    [by_n[n].passage.work_id for n in order]
                    + [w.work_id for w in question.works if w.label() in {s.work for s in sources}]
                )
            ),
            note="; ".join(notes) or None,
        )


# -- opinion answers -----------------------------------------------------------------------

POLARITY_NAMES: dict[str, dict[Polarity | None, str]] = {
    "de": {
        "positive": "positiv",
        "negative": "negativ",
        "mixed": "gemischt",
        None: "nicht gezählt",
    },
    "en": {
        "positive": "positive",
        "negative": "negative",
        "mixed": "mixed",
        None: "not counted",
    },
}


@dataclass(frozen=True)
class _OpinionRequest:
    question: Question
    shown: list[ShownPassage]
    offline: Answer
    messages: list[BaseMessage]
    # What the bot wrote or already let through (counts, screened quotes, labels), which a
    # model may repeat; every text whose numbers it may repeat; the counts it may state.
    ours: list[str]
    evidence: list[str]
    computed: list[citations.CountClaim]
    # The counts themselves: the summary must state at least one.
    counts: frozenset[str]


def opinion_evidence(opinion: WorkOpinion, language: str) -> str:
    """One work's exact counts as the model reads them, in the question's language."""
    n = opinion.reviews
    if language == "de":
        line = (
            f"{opinion.work}: {n} Rezension{'en' * (n != 1)} gezählt — "
            f"{opinion.positive} von {n} positiv, {opinion.negative} von {n} negativ, "
            f"{opinion.mixed} von {n} gemischt; {opinion.from_rating} nach Wertung, "
            f"{opinion.from_text} nach Text gezählt"
        )
        if opinion.average_rating is not None:
            rated = opinion.rated
            average = _shown_average(opinion.average_rating).replace(".", ",")
            line += f"; Durchschnitt {average}/5 aus {rated} Wertung{'en' * (rated != 1)}"
        return line + "."
    line = (
        f"{opinion.work}: {n} review{'s' * (n != 1)} counted — "
        f"{opinion.positive} of {n} positive, {opinion.negative} of {n} negative, "
        f"{opinion.mixed} of {n} mixed; {opinion.from_rating} counted by rating, "
        f"{opinion.from_text} by text"
    )
    if opinion.average_rating is not None:
        rated = opinion.rated
        average = _shown_average(opinion.average_rating)
        line += f"; average rating {average}/5 from {rated} rating{'s' * (rated != 1)}"
    return line + "."


def _shown_average(normalized: float) -> str:
    """An average on the 0..1 scale as the offline answer shows it out of 5 ("3.5")."""
    return f"{normalized * 5:.1f}".rstrip("0").rstrip(".")


def _opinion_label(source: Source, language: str) -> str:
    names = POLARITY_NAMES["de" if language == "de" else "en"]
    polarity = names[source.polarity]
    if language == "de":
        return f"(Rezension zu {source.work}: {polarity})"
    return f"(review of {source.work}: {polarity})"


def _opinion_passage(source: Source, language: str) -> ShownPassage:
    """An offline answer's quote as a shown passage; its work's label stands for its id."""
    quote = " ".join(source.quote.split())
    passage = Passage(
        n=source.n,
        chunk_id=source.review_id,
        review_id=source.review_id,
        work_id=source.work,
        work=source.work,
        text=quote,
        language=language,
        author=source.author,
        source=source.source,
        title=source.title,
        year=source.year,
        director=source.director,
        score=source.score,
    )
    return ShownPassage(source.n, passage, quote)


def _opinion_fallback(offline: Answer, reason: str) -> Answer:
    return _with_note(offline, f"{reason}; showing the counted answer")


# -- helpers -------------------------------------------------------------------------------


def final_answer(items: Iterable[str | Answer]) -> Answer:
    """The Answer at the end of a stream of text deltas."""
    answer: Answer | None = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:  # every stream ends with an Answer; this guards the contract
        raise RuntimeError("answer stream ended without an Answer")
    return answer


def describe_error(error: BaseException) -> str:
    """One line on what went wrong with the endpoint, with no secrets and no traceback."""
    if isinstance(error, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(error, openai.APIConnectionError):
        return "cannot connect to the endpoint"
    if isinstance(error, openai.AuthenticationError):
        return "the endpoint refused the API key (401)"
    if isinstance(error, openai.NotFoundError):
        return "the endpoint does not know this URL or model (404)"
    if isinstance(error, openai.APIStatusError):
        return f"the endpoint answered with HTTP {error.status_code}"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line[:160]}" if first_line else type(error).__name__


def _with_note(answer: Answer, note: str) -> Answer:
    return replace(answer, note=f"{answer.note}; {note}" if answer.note else note)


def _fallback(offline: Answer, reason: str) -> Answer:
    """The offline answer, with a note on why the LLM's was not shown."""
    if offline.status == "not_found":
        return _with_note(offline, reason)
    return _with_note(offline, f"{reason}; showing quoted sentences")


def _not_found(question: Question, offline: Answer) -> Answer:
    """The model's own "the reviews don't say", in the question's language."""
    return Answer(
        question=offline.question,
        answer=NOT_FOUND.get(question.language, NOT_FOUND["en"]),
        status="not_found",
        language=question.language,
        works=[w.label() for w in question.works],
        work_ids=[w.work_id for w in question.works],
    )


def _label(shown: ShownPassage) -> str:
    """``[n] text`` then, on its own line, the work (title, year, director) and the review."""
    passage = shown.passage
    work = passage.title or passage.work
    if passage.year:
        work += f" ({passage.year})"
    if passage.director and shown.with_director:
        work += f", director {passage.director}"
    review = ", ".join(r for r in (passage.author, passage.source) if r)
    by = f"; review by {review}" if review else ""
    return f"[{shown.n}] {shown.excerpt}\n(from a review of {work}{by})"


def _excerpt(
    passage: Passage,
    terms: set[str],
    quoted: set[str],
    *,
    limit: int,
    held_back: frozenset[str] = frozenset(),
) -> str:
    """The passage's best sentence and its neighbours, up to ``limit`` characters; held-back
    sentences are left out (an ellipsis marks the gap). Empty when nothing is left."""
    text = passage.text
    if len(text) <= limit and not held_back:
        return " ".join(text.split())
    spans = citations.passage_spans(passage, held_back)
    if not spans:
        return ""
    scores = [
        citations.overlap(text[a:b], terms)
        + (5 if any(q and text[a:b].strip() in q for q in quoted) else 0)
        for a, b in spans
    ]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    kept = {best}
    size = spans[best][1] - spans[best][0]
    for step in range(1, len(spans)):
        for i in (best + step, best - step):
            if 0 <= i < len(spans) and i not in kept:
                length = spans[i][1] - spans[i][0]
                if size + length <= limit:
                    kept.add(i)
                    size += length
        if size >= limit:
            break
    pieces: list[str] = []
    previous = -1
    for i in sorted(kept):
        if previous >= 0 and (i != previous + 1 or text[spans[previous][1] : spans[i][0]].strip()):
            pieces.append("…")
        pieces.append(text[spans[i][0] : spans[i][1]].strip())
        previous = i
    excerpt = " ".join(" ".join(pieces).split())
    return excerpt if len(excerpt) <= limit + 40 else excerpt[:limit].rsplit(" ", 1)[0] + " …"


def _titles(request: _Request) -> dict[str, set[str]]:
    """Every title of the question's works and of the shown passages' works, with the ids
    of the works that carry it (several works may share a title)."""
    titles: dict[str, set[str]] = {}
    named = [(w.work_id, t) for w in request.works for t in (w.title, w.original_title)]
    named += [(w.work_id, t) for w in request.question.works for t in (w.title, w.original_title)]
    named += [(s.passage.work_id, s.passage.title or s.passage.work) for s in request.shown]
    for work_id, title in named:
        if title and title.strip():
            titles.setdefault(title.strip(), set()).add(work_id)
    return titles


def _source(n: int, passage: Passage, quote: str) -> Source:
    return Source(
        n=n,
        review_id=passage.review_id,
        work=passage.work,
        title=passage.title,
        year=passage.year,
        director=passage.director,
        author=passage.author,
        source=passage.source,
        quote=quote,
        score=passage.score,
    )


def _cover_works(
    text: str, sources: list[Source], question: Question, offline: Answer
) -> tuple[str, list[Source]]:
    """For an ambiguous title, add the offline quotes of works the LLM answer left out."""
    if not question.ambiguous:
        return text, sources
    covered = {s.work for s in sources}
    lines = [text]
    for work in question.works:
        label = work.label()
        if label in covered:
            continue
        extra = [s for s in offline.sources if s.work == label][:1]
        for source in extra:
            added = replace(source, n=len(sources) + 1)
            sources.append(added)
            lines.append(f"• {label}: {added.quote} [{added.n}]")
    return "\n".join(lines), sources


def _history(turns: Sequence[Turn]) -> str:
    lines: list[str] = []
    for turn in turns:
        answer = " ".join(CITATION.sub("", turn.answer.answer).split())
        if len(answer) > HISTORY_ANSWER_CHARS:
            answer = answer[:HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"User: {turn.question}\nBot: {answer}")
    return "\n".join(lines)


def _standalone(reply: str, question: str) -> str:
    """The first line of the model's reply if it looks like a question, else ``question``."""
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:standalone question|eigenständige frage)\s*:\s*", "", line, flags=re.I)
    line = line.strip().strip('"„“”')
    if not line or len(line) > max(300, 3 * len(question)) or CITATION.search(line):
        return question
    return line
