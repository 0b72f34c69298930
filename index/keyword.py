"""BM25 over the stored chunks, each stemmed in its own language."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from index.store import StoredChunk

_TOKEN = re.compile(r"\w\w+", re.UNICODE)
_STEMMERS = {"de": "german", "en": "english"}


def _bm25s() -> Any:
    """The bm25s module, with its logger kept quiet.

    bm25s sets its own logger to DEBUG on import, so its "Building index from tokens"
    reached stderr through any handler, whatever level the command asked for.
    """
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(_STEMMERS.get(language, "english"))


@lru_cache(maxsize=4)
def _stopwords(language: str) -> frozenset[str]:
    stopwords = _bm25s().stopwords
    words = stopwords.STOPWORDS_GERMAN if language == "de" else stopwords.STOPWORDS_EN
    return frozenset(words)


def tokenize(text: str, *, language: str, also_stop: str | None = None) -> list[str]:
    """Lower-cased words without stop words, stemmed for ``language``.

    ``also_stop`` names a second language whose stop words are dropped too (for a
    question stemmed in a language other than its own).
    """
    stop = _stopwords(language) | (_stopwords(also_stop) if also_stop else frozenset())
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    return list(_stemmer(language).stemWords(words))


class KeywordIndex:
    """A BM25 index whose documents are chunk ids, in the order they were indexed."""

    def __init__(self, chunk_ids: list[str], retriever: Any, languages: list[str]) -> None:
        self.chunk_ids = chunk_ids
        self._position = {chunk_id: i for i, chunk_id in enumerate(chunk_ids)}
        self._retriever = retriever
        self.languages = languages

    @classmethod
    def build(cls, chunks: Sequence[StoredChunk]) -> KeywordIndex:
        bm25s = _bm25s()
        corpus = [
            tokenize(c.text, language=str(c.metadata.get("language", "de"))) or ["\u2205"]
            for c in chunks
        ]
        retriever = bm25s.BM25()
        if corpus:
            retriever.index(corpus, show_progress=False)
        languages = sorted({str(c.metadata.get("language", "de")) for c in chunks})
        return cls([c.chunk_id for c in chunks], retriever, languages)

    def search(
        self, query: str, *, k: int, mask: npt.NDArray[np.float32] | None = None
    ) -> list[tuple[str, float]]:
        """Best chunk ids for ``query`` with their BM25 scores (only scores above 0).

        The query is stemmed in every language of the corpus, so a German word in an
        English question still matches German text.
        """
        if not self.chunk_ids:
            return []
        tokens = sorted(
            {
                t
                for lang in self.languages
                for other in self.languages
                for t in tokenize(query, language=lang, also_stop=other)
            }
        )
        known = [t for t in tokens if t in self._retriever.vocab_dict]
        if not known:
            return []
        k = min(k, len(self.chunk_ids))
        documents, scores = self._retriever.retrieve(
            [known], k=k, show_progress=False, n_threads=1, weight_mask=mask
        )
        return [
            (self.chunk_ids[int(d)], float(s))
            for d, s in zip(documents[0], scores[0], strict=True)
            if s > 0
        ]

    @property
    def documents(self) -> int:
        return len(self.chunk_ids)

    def document_frequency(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each stemmed term (0 for a term the corpus lacks)."""
        vocabulary = self._retriever.vocab_dict
        if not self.chunk_ids or not vocabulary:
            return {}
        pointers = self._retriever.scores["indptr"]
        found = {}
        for term in terms:
            column = vocabulary.get(term)
            found[term] = 0 if column is None else int(pointers[column + 1] - pointers[column])
        return found

    def position(self, chunk_id: str) -> int | None:
        return self._position.get(chunk_id)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` atomically (a half-written index is never read)."""
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        self._retriever.save(str(partial), show_progress=False)
        meta = {"chunk_ids": self.chunk_ids, "languages": self.languages}
        (partial / "chunks.json").write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex | None:
        """The index saved in ``folder``, or None when there is none or it is unreadable."""
        bm25s = _bm25s()
        try:
            meta = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
            retriever = bm25s.BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError):
            return None
        return cls(list(meta["chunk_ids"]), retriever, list(meta["languages"]))
