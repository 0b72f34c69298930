"""BM25 over the stored chunks, each stemmed in its own language."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

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


_IDS = "chunk_ids.npy"
_ORDER = "chunk_id_order.npy"
_META = "keyword.json"
_EMPTY_DOCUMENT = "\u2205"


class ChunkIds(Sequence[str]):
    """The chunk id of each document of a saved index, read from (memory-mapped) arrays.

    ``position`` finds an id by binary search over a saved sort order, so neither the
    ids nor a dictionary of them need to be held in memory.
    """

    def __init__(self, ids: npt.NDArray[np.bytes_], order: npt.NDArray[np.int64]) -> None:
        self._ids = ids
        self._order = order

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [bytes(i).decode("utf-8") for i in self._ids[index]]
        return bytes(self._ids[index]).decode("utf-8")

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and self.position(chunk_id) is not None

    def position(self, chunk_id: str) -> int | None:
        import numpy as np

        if not len(self._ids):
            return None
        wanted = chunk_id.encode("utf-8")
        at = int(np.searchsorted(self._ids, wanted, sorter=self._order))
        if at < len(self._ids) and bytes(self._ids[self._order[at]]) == wanted:
            return int(self._order[at])
        return None

    @staticmethod
    def save(chunk_ids: Sequence[str], folder: Path) -> None:
        import numpy as np

        encoded = [c.encode("utf-8") for c in chunk_ids]
        width = max((len(e) for e in encoded), default=1) or 1
        ids = np.array(encoded, dtype=f"S{width}")
        np.save(folder / _IDS, ids)
        np.save(folder / _ORDER, np.argsort(ids, kind="stable").astype(np.int64))

    @classmethod
    def load(cls, folder: Path, *, mmap: bool) -> ChunkIds:
        import numpy as np

        mode: Literal["r"] | None = "r" if mmap else None
        return cls(np.load(folder / _IDS, mmap_mode=mode), np.load(folder / _ORDER, mmap_mode=mode))


class KeywordIndex:
    """A BM25 index whose documents are chunk ids, in the order they were indexed."""

    def __init__(self, chunk_ids: Sequence[str], retriever: Any, languages: list[str]) -> None:
        self.chunk_ids = chunk_ids
        self._position: dict[str, int] | None = None
        self._retriever = retriever
        self.languages = languages

    @classmethod
    def build(cls, chunks: Sequence[StoredChunk]) -> KeywordIndex:
        languages = [str(c.metadata.get("language", "de")) for c in chunks]
        return cls.from_tokens(
            [c.chunk_id for c in chunks],
            [tokenize(c.text, language=lang) for c, lang in zip(chunks, languages, strict=True)],
            sorted(set(languages)),
        )

    @classmethod
    def from_tokens(
        cls, chunk_ids: Sequence[str], tokens: Iterable[list[str]], languages: list[str]
    ) -> KeywordIndex:
        """An index over documents stemmed already (each in its chunk's language)."""
        corpus = [t or [_EMPTY_DOCUMENT] for t in tokens]
        retriever = _bm25s().BM25()
        if corpus:
            retriever.index(corpus, show_progress=False)
        return cls(list(chunk_ids), retriever, languages)

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
        """The document number of ``chunk_id`` (its place in ``chunk_ids``), if indexed."""
        if isinstance(self.chunk_ids, ChunkIds):
            return self.chunk_ids.position(chunk_id)
        if self._position is None:
            self._position = {c: i for i, c in enumerate(self.chunk_ids)}
        return self._position.get(chunk_id)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` atomically (a half-written index is never read)."""
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        if self.chunk_ids:
            self._retriever.save(str(partial), show_progress=False)
        ChunkIds.save(self.chunk_ids, partial)
        meta = {"documents": len(self.chunk_ids), "languages": self.languages}
        (partial / _META).write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> KeywordIndex | None:
        """The index saved in ``folder``, or None when there is none or it is unreadable.

        With ``mmap`` the BM25 scores and the chunk ids stay in the files, paged in as
        searches read them and shared by every process that maps them.
        """
        bm25s = _bm25s()
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            documents = int(meta["documents"])
            chunk_ids = ChunkIds.load(folder, mmap=mmap)
            retriever = (
                bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False) if documents else None
            )
        except (OSError, ValueError, KeyError):
            return None
        if len(chunk_ids) != documents:
            return None
        return cls(chunk_ids, retriever, list(meta["languages"]))
