"""Answers written by an OpenAI-compatible LLM from the retrieved passages, then checked.

The model sees a few numbered, clipped passages and must cite them as ``[n]``. What it
writes is only trusted after the checks: every citation names a passage it was given,
every quote shown is a verbatim sentence of that passage, numbers it states occur in the
passages, and a sentence naming a work cites a passage of that work. When the model says
the passages hold no answer, the answer is "not found" (unless the offline answer states
the asked field, such as a director from a header line); anything else that fails the
checks falls back to the offline answer, with a one-line note saying why.

The model is asked whatever the offline ranker found, so it can answer what word matching
missed; only a question naming a film that is not indexed, or one in a language word
matching cannot read, keeps its offline "not found" without asking.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import openai
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import SecretStr

from bot.answers import NOT_FOUND, Answer, Passage, Source
from bot.screening import SentenceScreen, contact_data
from index.chunking import split_sentences
from index.errors import ConfigurationError, ReviewbotError
from index.keyword import tokenize
from index.works import normalize

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from bot.conversation import Turn
    from bot.engine.reading import Question
    from bot.settings import Settings
    from index.records import Work

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
ANSWER_VARIABLES = frozenset({"question", "passages", "language"})
CONDENSE_VARIABLES = frozenset({"history", "question"})
# Variables a prompt may use besides its required ones.
OPTIONAL_VARIABLES = frozenset({"not_found"})

# A 0.5B model on one CPU thread reads ~40 prompt tokens a second: few, short passages.
MAX_PASSAGES = 3
PASSAGE_CHARS = 300
HISTORY_TURNS = 3
HISTORY_ANSWER_CHARS = 160
DEFAULT_MODEL = "gpt-4o-mini"

LANGUAGE_NAMES = {"de": "German (Deutsch)", "en": "English"}

# Errors that mean the endpoint is down, slow, refusing or misconfigured.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (openai.OpenAIError, httpx.HTTPError)

_CITATION = re.compile(r"\[\s*(?:passage\s*|quelle\s*)?(\d+(?:\s*[,;]\s*\d+)*)\s*\]", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w+")


class LlmUnavailableError(ReviewbotError):
    """The LLM endpoint could not be reached or refused the request."""


# -- prompts -------------------------------------------------------------------------------


def load_prompt(
    path: Path, *, required: Iterable[str], optional: Iterable[str] = OPTIONAL_VARIABLES
) -> ChatPromptTemplate:
    """Read a prompt file (``## system`` and ``## user`` sections) into a chat template.

    Raises ConfigurationError naming the file when a section or a required variable is
    missing, or when the file uses a variable nobody fills in.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"prompt file {path} cannot be read: {error}") from None
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    sections = _sections(text)
    missing_sections = [name for name in ("system", "user") if not sections.get(name)]
    if missing_sections:
        raise ConfigurationError(f"prompt file {path} has no '## {missing_sections[0]}' section")
    try:
        found = {
            field
            for body in sections.values()
            for _, field, _, _ in string.Formatter().parse(body)
            if field is not None
        }
    except ValueError as error:  # a lone "{" or "}"
        raise ConfigurationError(f"prompt file {path} is not a valid template: {error}") from None
    required = set(required)
    if missing := sorted(required - found):
        raise ConfigurationError(
            f"prompt file {path} lacks the variable(s) {', '.join('{' + m + '}' for m in missing)}"
        )
    if unknown := sorted(found - required - set(optional)):
        raise ConfigurationError(
            f"prompt file {path} uses unknown variable(s) "
            f"{', '.join('{' + u + '}' for u in unknown)}"
        )
    return ChatPromptTemplate.from_messages(
        [("system", sections["system"]), ("human", sections["user"])]
    )


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name: str | None = None
    for line in text.splitlines():
        heading = re.fullmatch(r"##\s*(\w+)\s*", line)
        if heading:
            name = heading.group(1).lower()
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return {key: value.strip() for key, value in sections.items()}


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
class _Shown:
    """A passage as the model saw it: renumbered and clipped to its relevant sentences."""

    n: int
    passage: Passage
    excerpt: str
    # A 0.5B model answers "who plays X" with the director named in the label: name the
    # director only when it tells works apart or is asked for.
    with_director: bool = True
    # Sentences of the passage the screen held back: not shown, never quoted.
    held_back: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Request:
    question: Question
    shown: list[_Shown]
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
        text = ""
        released = 0  # text up to here was shown
        blocked = False
        try:
            for chunk in self.chat_model.stream(request.messages):
                if not chunk.text:
                    continue
                text += chunk.text
                # Whole sentences are shown once the screen has seen them, so text a review
                # smuggled in (a link, an instruction) does not flash up before the checks.
                end = _last_sentence_end(text, released)
                if not blocked and end > released:
                    blocked = not self._presentable(text[released:end])
                    if not blocked:
                        yield text[released:end]
                        released = end
        except UNAVAILABLE_ERRORS as error:
            log.info("LLM request failed", exc_info=True)
            yield _with_note(offline, f"LLM unavailable: {describe_error(error)}")
            return
        if not blocked and text[released:].strip() and self._presentable(text[released:]):
            yield text[released:]
        yield self._check(text, request)

    def _presentable(self, text: str) -> bool:
        """Whether streamed text may be shown: no link or contact data, no instruction."""
        said = [_CITATION.sub(" ", s).strip() for s in _SENTENCE_END.split(text)]
        return contact_data(text) is None and not any(
            self.screen.reasons(s for s in said if s).values()
        )

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
        # Exact metadata answers keep their numbers. A film that is not indexed, or a
        # language word matching cannot read, leaves nothing for the passages to answer.
        if offline.kind == "metadata" or not passages:
            return None
        if offline.status == "not_found" and (question.unknown_title or question.foreign):
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
    ) -> list[_Shown]:
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
        terms = _terms(question.text)
        with_director = question.ambiguous or question.aspect == "director"
        held = self._held_back(chosen)
        shown = [
            (p, _excerpt(p, terms, quoted, limit=self.passage_chars, held_back=held[p.chunk_id]))
            for p in chosen
        ]
        return [
            _Shown(i, p, excerpt, with_director, held[p.chunk_id])
            for i, (p, excerpt) in enumerate(((p, e) for p, e in shown if e), start=1)
        ]

    def _held_back(self, passages: Sequence[Passage]) -> dict[str, frozenset[str]]:
        """Per passage, the sentences the screen holds back (all judged in one batch)."""
        sentences = {p.chunk_id: [p.text[a:b].strip() for a, b in _sentences(p)] for p in passages}
        verdicts = self.screen.reasons(s for group in sentences.values() for s in group)
        return {
            chunk_id: frozenset(s for s in group if verdicts[s])
            for chunk_id, group in sentences.items()
        }

    def _refusal(self, text: str, request: _Request) -> str | None:
        """Why an answer must not be shown: it carries a link or contact data, reads like an
        instruction, or repeats a sentence of the reviews that was held back."""
        if shape := contact_data(text):
            return f"LLM answer contained a {shape}"
        said = [_CITATION.sub(" ", s).strip() for s in _SENTENCE_END.split(text)]
        said = [s for s in said if s]
        if any(self.screen.reasons(said).values()):
            return "LLM answer addressed the reader instead of answering"
        held = [s for shown in request.shown for s in shown.held_back]
        if any(_repeats(sentence, held) for sentence in said):
            return "LLM answer repeated review text addressed to a model"
        return None

    def _check(self, generated: str, request: _Request) -> Answer:
        """Turn the model's text into an Answer whose citations and quotes are verified."""
        offline, question = request.offline, request.question
        text = generated.strip()
        by_n = {s.n: s for s in request.shown}
        not_found = [NOT_FOUND[lang] for lang in NOT_FOUND]
        if not text:
            return _fallback(offline, "LLM returned an empty answer")
        if refusal := self._refusal(text, request):
            return _fallback(offline, refusal)
        said = _without_not_found(text, not_found)
        if said != text and not _cited(said, by_n):
            # The model says the passages hold no answer, and cites nothing else it says.
            if any(s.fact for s in offline.sources):
                # A header line or metadata field states what was asked: the model missed it.
                return _fallback(offline, "LLM found no answer, but the reviews state the field")
            return _not_found(question, offline)
        text = said
        invented = _unsupported_numbers(text, request)
        if invented:
            return _fallback(
                offline, f"LLM answer stated numbers not in the reviews ({', '.join(invented)})"
            )
        if not _cited(text, by_n):
            text = _add_citations(text, request)
        text = _citations_after_sentences(text)
        text, misattributed = _without_misattributed_claims(text, request)
        # Renumber cited passages 1..k in order of first citation; drop unknown numbers.
        order: dict[int, int] = {}
        for match in _CITATION.finditer(text):
            for n in _numbers(match.group(1)):
                if n in by_n and n not in order:
                    order[n] = len(order) + 1
        if not order:
            if misattributed:
                return _fallback(offline, "LLM answer cited passages of other works")
            return _fallback(offline, "LLM answer had no valid citation")

        def renumber(match: re.Match[str]) -> str:
            kept = [order[n] for n in _numbers(match.group(1)) if n in order]
            return "".join(f"[{n}]" for n in dict.fromkeys(kept))

        text = _CITATION.sub(renumber, text)
        text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip()
        claims = _claims(text)
        sources = [
            _source(
                new_n,
                by_n[old_n].passage,
                _best_quote(by_n[old_n], claims.get(new_n, ""), offline),
            )
            for old_n, new_n in order.items()
        ]
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
        )


# -- helpers -------------------------------------------------------------------------------


def _without_not_found(text: str, not_found: Sequence[str]) -> str:
    """``text`` without the sentences that say the passages hold no answer, in any case and
    with any citation a model puts on them ("… in den Rezensionen steht dazu nichts [1].")."""
    phrases = [phrase.rstrip(".").casefold() for phrase in not_found]
    kept = [
        sentence
        for sentence in _SENTENCE_END.split(text)
        if not any(phrase in sentence.casefold() for phrase in phrases)
    ]
    return text if len(kept) == len(_SENTENCE_END.split(text)) else " ".join(kept).strip()


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


def _label(shown: _Shown) -> str:
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


def _terms(text: str) -> set[str]:
    """Content words of ``text`` in both languages' stemming, and its raw lower-case words."""
    words = {w.lower() for w in _WORD.findall(text) if len(w) > 2}
    for language, other in (("de", "en"), ("en", "de")):
        words.update(tokenize(text, language=language, also_stop=other))
    return words


def _sentences(passage: Passage, held_back: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """The passage's sentence spans, without those held back."""
    spans = [(s.start, s.end) for s in split_sentences(passage.text, language=passage.language)]
    spans = [(a, b) for a, b in spans if passage.text[a:b].strip()] or [(0, len(passage.text))]
    return [(a, b) for a, b in spans if passage.text[a:b].strip() not in held_back]


def _last_sentence_end(text: str, start: int) -> int:
    """Where the last complete sentence after ``start`` ends (``start`` if none does)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text, start)]
    return ends[-1] if ends else start


def _repeats(sentence: str, held_back: Sequence[str]) -> bool:
    """Whether ``sentence`` is mostly the words of one held-back sentence."""
    said = _terms(sentence)
    return len(said) >= 3 and any(
        len(said & _terms(held)) >= max(3, 0.6 * len(said)) for held in held_back
    )


def _overlap(sentence: str, terms: set[str]) -> int:
    return len(_terms(sentence) & terms)


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
    spans = _sentences(passage, held_back)
    if not spans:
        return ""
    scores = [
        _overlap(text[a:b], terms) + (5 if any(q and text[a:b].strip() in q for q in quoted) else 0)
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


def _numbers(group: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", group)]


def _cited(text: str, by_n: dict[int, _Shown]) -> bool:
    return any(n in by_n for match in _CITATION.finditer(text) for n in _numbers(match.group(1)))


def _unsupported_numbers(text: str, request: _Request) -> list[str]:
    """Numbers the answer states that occur neither in the passages nor in the question."""
    stated = {int(n) for n in _NUMBER.findall(_CITATION.sub(" ", text))}
    known = {int(n) for n in _NUMBER.findall(request.question.text)}
    for shown in request.shown:
        known.update(int(n) for n in _NUMBER.findall(shown.passage.text))
        known.update(int(n) for n in _NUMBER.findall(shown.passage.work))
    return [str(n) for n in sorted(stated - known)]


def _add_citations(text: str, request: _Request) -> str:
    """Cite, after each sentence, the shown passage that states its new words.

    A sentence is only cited when at least two of its words that are not in the
    question (a name, a title) occur in one sentence of that passage; the quote shown
    for it is that passage's sentence, so the repair stays verifiable.
    """
    asked = _terms(request.question.text)
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    cited: list[str] = []
    for sentence in sentences:
        new = _terms(sentence) - asked
        best, best_overlap = 0, 1
        for shown in request.shown:
            spans = _sentences(shown.passage, shown.held_back)
            overlap = max((_overlap(shown.passage.text[a:b], new) for a, b in spans), default=0)
            if overlap > best_overlap:
                best, best_overlap = shown.n, overlap
        body, end = re.fullmatch(r"(.*?)([.!?…:]*)", sentence.strip(), flags=re.S).groups()  # type: ignore[union-attr]
        cited.append(f"{body} [{best}]{end}" if best else sentence.strip())
    return " ".join(cited)


def _citations_after_sentences(text: str) -> str:
    """Move citations the model put at the start of a sentence to its end."""
    lines = []
    for line in text.split("\n"):
        lead = re.match(r"^(\s*(?:[-•*]\s*)?)((?:\[[^\]]*\]\s*)+)(\S.*)$", line)
        if lead and _CITATION.match(lead.group(2).strip()):
            body = lead.group(3)
            first = re.search(r"[.!?](?=\s|$)", body)
            cut = first.start() if first else len(body.rstrip())
            cites = lead.group(2).strip()
            line = f"{lead.group(1)}{body[:cut]} {cites}{body[cut:]}"
        lines.append(line)
    return "\n".join(lines)


def _without_misattributed_claims(text: str, request: _Request) -> tuple[str, bool]:
    """``text`` without the sentences that name a work and cite only passages of other
    works, and whether any was dropped. Sentences naming no known work are kept."""
    titles = _titles(request)
    by_n = {s.n: s.passage.work_id for s in request.shown}
    # Separators sit at odd indexes: a dropped sentence takes the one after it along.
    parts = re.split(f"({_SENTENCE_END.pattern})", text)
    kept: list[str] = []
    dropped = False
    for i in range(0, len(parts), 2):
        sentence = parts[i]
        cited = {
            by_n[n]
            for match in _CITATION.finditer(sentence)
            for n in _numbers(match.group(1))
            if n in by_n
        }
        named = _named_works(_CITATION.sub(" ", sentence), titles)
        if cited and named and not cited & named:
            dropped = True
            continue
        kept.append(sentence + (parts[i + 1] if i + 1 < len(parts) else ""))
    return ("".join(kept).strip(), True) if dropped else (text, False)


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


def _named_works(sentence: str, titles: dict[str, set[str]]) -> set[str]:
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
            named |= work_ids
    return named


def _claims(text: str) -> dict[int, str]:
    """For each citation number, the generated sentences that cite it."""
    claims: dict[int, str] = {}
    for sentence in _SENTENCE_END.split(text):
        for match in _CITATION.finditer(sentence):
            for n in _numbers(match.group(1)):
                claims[n] = f"{claims.get(n, '')} {_CITATION.sub(' ', sentence)}".strip()
    return claims


def _best_quote(shown: _Shown, claim: str, offline: Answer) -> str:
    """The shown passage's sentence that best overlaps ``claim``; verbatim from the passage,
    never one held back."""
    passage = shown.passage
    spans = _sentences(passage, shown.held_back)
    if not spans:
        return ""
    terms = _terms(claim)
    offline_quotes = {s.quote for s in offline.sources if s.review_id == passage.review_id}

    def score(span: tuple[int, int]) -> tuple[int, int, int]:
        sentence = passage.text[span[0] : span[1]]
        return (
            _overlap(sentence, terms),
            int(sentence.strip() in offline_quotes),
            -span[0],
        )

    start, end = max(spans, key=score)
    return passage.text[start:end].strip()


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
        answer = " ".join(_CITATION.sub("", turn.answer.answer).split())
        if len(answer) > HISTORY_ANSWER_CHARS:
            answer = answer[:HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
        lines.append(f"User: {turn.question}\nBot: {answer}")
    return "\n".join(lines)


def _standalone(reply: str, question: str) -> str:
    """The first line of the model's reply if it looks like a question, else ``question``."""
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:standalone question|eigenständige frage)\s*:\s*", "", line, flags=re.I)
    line = line.strip().strip('"„“”')
    if not line or len(line) > max(300, 3 * len(question)) or _CITATION.search(line):
        return question
    return line
