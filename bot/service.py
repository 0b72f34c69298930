"""What the CLI and the Telegram bot both do, behind one object built from the settings."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.answers import Answer, Passage
from bot.conversation import Conversation
from bot.engine.aspects import AspectFinder, AspectQuery
from bot.engine.composing import compose_offline
from bot.engine.features import Rarity
from bot.engine.metadata_answers import answer_from_metadata
from bot.engine.opinions import (
    OpinionReader,
    WorkSummaryOpinion,
    answer_aspect,
    answer_opinion,
    summarize_opinions,
)
from bot.engine.ranking import (
    RankerModel,
    SentenceRanker,
    content_text,
    load_model,
    passages_by_rank,
)
from bot.engine.reading import GENERIC_WORDS, Question, opinion_asked, read_question
from bot.engine.retrieval import SENTENCE_POOL, leading_passages, retrieve
from bot.question_input import clean_question
from bot.screening import SentenceScreen
from bot.settings import Settings
from index.catalog import Catalog, WorkSummary, summarize_works
from index.embedding import ReviewEmbedder, create_embedder, embedder_name
from index.errors import ReviewbotError
from index.indexing import IndexReport, Progress, index_lock, index_reviews
from index.lexicon import Lexicon
from index.polarity import head_for
from index.records import Review, Work
from index.search import HybridSearch
from index.sentence_store import SentenceStore
from index.snapshot import Snapshot, snapshot_root
from index.store import ReviewStore, connect, store_location

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from langchain_core.language_models import BaseChatModel

    from bot.llm import LlmAnswerer

log = logging.getLogger(__name__)

# Asked once when a long-running bot starts, offline, so that its first user does not wait
# for the embedder, the generation's snapshot and the store's search graph to load.
WARM_UP_QUESTION = "Wie ist der Film?"


@dataclass(frozen=True)
class CatalogView:
    """Everything a question reads about the index, from one generation of it."""

    snapshot: Snapshot
    search: HybridSearch

    @property
    def catalog(self) -> Catalog:
        return self.snapshot.catalog

    def works_by_id(self, work_ids: Sequence[str]) -> list[Work]:
        known = self.catalog.works
        return [known[w] for w in work_ids if w in known]


class ReviewService:
    """Indexes and inspects the reviews named by one Settings object.

    The embedder and the Chroma client can be passed in; otherwise they are made from
    the settings the first time they are needed.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: ReviewEmbedder | None = None,
        client: ClientAPI | None = None,
        chat_model: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._client = client
        self._chat_model = chat_model
        self._view: CatalogView | None = None
        self._view_lock = threading.Lock()

    @property
    def embedder(self) -> ReviewEmbedder:
        if self._embedder is None:
            self._embedder = create_embedder(
                self.settings.embedder,
                threads=self.settings.embed_threads,
                endpoint=self.settings.embedding_endpoint(),
            )
        return self._embedder

    @cached_property
    def store(self) -> ReviewStore:
        client = self._client or connect(
            data_dir=self.settings.data_dir, chroma_url=self.settings.chroma_url
        )
        name = self._embedder.name if self._embedder else embedder_name(self.settings.embedder)
        return ReviewStore(client, collection=self.settings.collection, embedder_name=name)

    def index(
        self,
        paths: Sequence[Path] = (),
        *,
        rebuild: bool = False,
        progress: Progress | None = None,
        allow_empty: bool = False,
    ) -> IndexReport:
        """Bring the index in step with ``paths`` (default: the reviews folder)."""
        with index_lock(self.settings.data_dir, store=self.store):
            # Writing through vectors loaded before another process's run would lose them.
            self.store.reopen()
            return index_reviews(
                list(paths) or [self.settings.reviews_dir],
                store=self.store,
                embedder=self.embedder,
                chunk_chars=self.settings.chunk_chars,
                columns=self.settings.csv_columns or None,
                max_bytes=self.settings.max_file_bytes,
                rebuild=rebuild,
                progress=progress,
                embed_batch=self.settings.embed_batch,
                follow_external_links=self.settings.follow_links,
                allow_empty=allow_empty,
                snapshots=self.snapshots,
                records=self.snapshots / "files.sqlite",
                lexicon=self.lexicon,
            )

    @property
    def snapshots(self) -> Path:
        """Where the indexer publishes each generation's snapshot and bots open it."""
        return snapshot_root(self.settings.data_dir, self.settings.collection)

    def reviews(self) -> list[Review]:
        """Every review the store holds now (a scan of the store: for listings and checks)."""
        return self.store.reviews()

    def catalog(self) -> list[Review]:
        """The reviews of the latest published generation, as questions see them."""
        return self.view().catalog.reviews()

    @cached_property
    def search(self) -> HybridSearch:
        return HybridSearch(
            lambda: self.store,
            self.embedder,
            snapshots=self.snapshots,
            lexicon=self.lexicon,
            location=self.store.location
            if self._client is not None
            else store_location(self.settings.chroma_url),
        )

    def view(self) -> CatalogView:
        """The index's latest generation as one question should see it, all of it at once."""
        generation = self.search.latest_generation()
        view = self._view
        if view is not None and view.snapshot.generation != generation:
            # Let the replaced generation go before the next one loads (unless a question
            # still reads it): two at once would set the process's peak memory.
            self._view = view = None
        snapshot = self.search.snapshot(generation)
        if view is not None and view.snapshot is snapshot:
            return view
        with self._view_lock:
            view = self._view
            if view is None or view.snapshot is not snapshot:
                store: ReviewStore | None = self.__dict__.get("store")
                if store is not None:
                    # An open store reads the vectors of the generation it loaded:
                    # reopened when another process published a new one.
                    store.fresh_state()
                view = CatalogView(snapshot=snapshot, search=self.search.pinned(snapshot))
                self._view = view
            return view

    def warm_up(self) -> None:
        """Load what answering needs by answering one question offline (never through an
        LLM); without an index yet there is nothing to load, and that is not an error."""
        try:
            view = self.view()
            self.answer_offline(read_question(WARM_UP_QUESTION, view.catalog), view=view)
        except ReviewbotError as error:
            log.info("nothing loaded before the first question: %s", error)
        except Exception:  # the first real question reports what is wrong; the bot runs on
            log.warning("loading before the first question failed", exc_info=True)

    def ask(
        self, question: str, *, conversation: Conversation | None = None, k: int | None = None
    ) -> Answer:
        """Answer ``question`` from the reviews, with numbered, verbatim sources."""
        answer: Answer | None = None
        for item in self.ask_stream(question, conversation=conversation, k=k):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    @cached_property
    def lexicon(self) -> Lexicon:
        """German–English translations, for questions in the other language than a review."""
        return Lexicon.load(self.settings.dictionary, cache_dir=self.settings.cache_dir)

    @cached_property
    def llm(self) -> LlmAnswerer | None:
        """The LLM answerer when an endpoint is configured (or a chat model passed in)."""
        if self._chat_model is None and not self.settings.llm_base_url:
            return None
        from bot.llm import LlmAnswerer, make_chat_model

        return LlmAnswerer(self._chat_model or make_chat_model(self.settings), screen=self.screen)

    @cached_property
    def sentences(self) -> SentenceStore:
        """The store's sentence vectors (questions read the snapshot's copy)."""
        return SentenceStore(self.store)

    def sentence_ranker(
        self,
        question_vector: Sequence[float],
        snapshot: Snapshot,
        *,
        model: RankerModel | None = None,
        fitted: bool = True,
        content_vector: Sequence[float] | None = None,
    ) -> SentenceRanker | None:
        """The sentence ranker for one question, with ``model`` or the shipped one.

        None under an embedder the shipped model was not fitted with (the answer then rests
        on shared words). ``fitted=False`` gives a ranker without a model, which only
        measures (for fitting one).
        """
        if fitted:
            model = model or load_model()
            if model is None or model.embedder != self.embedder.name:
                return None
        keyword = snapshot.keyword
        return SentenceRanker(
            question_vector,
            sentences=snapshot.sentences.of_chunks,
            embed_passages=self.embedder.embed_documents,
            rarity=Rarity(keyword.document_frequency, keyword.documents),
            model=model if fitted else None,
            lexicon=self.lexicon,
            embed_query=self.embedder.embed_query,
            content_vector=content_vector,
        )

    @cached_property
    def screen(self) -> SentenceScreen:
        """Holds back review sentences that speak to a model or carry links or contact data."""
        return SentenceScreen(self.embedder)

    def ask_stream(
        self, question: str, *, conversation: Conversation | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, yielding an LLM's text as it comes, then the final Answer.

        The final Answer's text replaces the streamed text (it may be the offline answer
        when the LLM's could not be verified). Without an LLM it yields only the Answer.
        Counting and rating questions are answered from metadata, never by the LLM; opinion
        answers are counted offline and the LLM only summarises their counts and quotes.
        """
        question = clean_question(question, max_chars=self.settings.max_question_chars)
        llm = self.llm
        view = self.view()
        catalog = view.catalog
        previous = view.works_by_id(conversation.subject_work_ids()) if conversation else []
        turns = conversation.turns() if conversation and llm else []
        standalone = llm.condense(question, turns) if llm and turns else question
        read = read_question(standalone, catalog, previous_works=previous, lexicon=self.lexicon)
        if standalone != question:
            # The reply keeps the language the user asked in, whatever the rewrite did.
            read.language = read_question(question, catalog).language
        answer = None
        if read.intent == "ratings" and not read.opinion and read.works:
            # Ratings are of whole reviews: "Wie wird die Musik von X bewertet?" asks how the
            # reviews judge the music.
            answer = self.answer_aspect(read, view=view)
        if answer is None:
            answer = answer_from_metadata(read, catalog)
        if answer is None and not read.works and read.intent is None:
            # "How did the critics like the music?" names no work: it asks about the works
            # whose reviews the search finds for it that surely speak of the music.
            found = self.with_found_works(read, view=view)
            if found is not read:
                answer = self.answer_aspect(found, view=view, sure_only=True)
        if answer is None and read.opinion:
            # Opinions are counted from ratings and stored polarities; an LLM only words the
            # summary, and its answer is shown only when its numbers are the counted ones.
            answer = self.answer_opinion(read, view=view)
            if answer is not None and llm is not None and answer.status == "answered":
                for item in llm.stream_opinion(read, offline=answer):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        yield item
        if answer is None:
            top_k = k or self.settings.top_k
            answer, pool, works = self.answer_offline(read, view=view, k=top_k)
            if llm is not None:
                passages = leading_passages(pool, k=top_k, quoted=answer.sources)
                for item in llm.stream(read, passages, works, offline=answer):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        yield item
        if conversation is not None:
            conversation.add(question, answer)
        yield answer

    def answer_offline(
        self, read: Question, *, view: CatalogView | None = None, k: int | None = None
    ) -> tuple[Answer, list[Passage], list[Work]]:
        """The offline answer to a question already read, with the passages it weighed."""
        view = view or self.view()
        # The question and its words besides the works' names, embedded in one batch.
        content = content_text(read)
        vector, *rest = self.embedder.embed_queries([read.text, *([content] if content else [])])
        top_k = k or self.settings.top_k
        pool, works = retrieve(read, view.search, k=max(top_k, SENTENCE_POOL), vector=vector)
        ranker = self.sentence_ranker(
            vector, view.snapshot, content_vector=rest[0] if rest else None
        )
        answer = compose_offline(
            read,
            pool,
            works,
            max_chars=self.settings.answer_chars,
            lexicon=self.lexicon,
            screen=self.screen,
            ranker=ranker,
        )
        if ranker is not None and ranker.ranked:
            # An LLM reads the passages of the best-ranked sentences first, answered or not.
            pool = passages_by_rank(pool, ranker.ranked)
        return answer, pool, works

    def opinion_reader(self, view: CatalogView | None = None) -> OpinionReader:
        """Reads the opinions of works' reviews from one generation of the index."""
        view = view or self.view()
        return OpinionReader(
            reviews_of=view.catalog.reviews_of,
            chunks_of=view.snapshot.chunks_of_works,
            sentences=view.snapshot.sentences.of_chunks,
            head=head_for(self.embedder.name),
            embed_passages=self.embedder.embed_documents,
            screen=self.screen,
        )

    def answer_opinion(self, read: Question, *, view: CatalogView | None = None) -> Answer | None:
        """A verdict, comparison or extreme review, counted exactly and quoted.

        A question that names an aspect ("Wie ist die Musik in X?") goes to the aspect
        answer; when no review of the work speaks of a seed aspect it names, the answer says
        so and gives the work's verdict counts. None (the text answers) for a question that
        only might have been an opinion.
        """
        view = view or self.view()
        if read.opinion in ("verdict", "aspect") and read.works:
            aspect = self.asked_aspect(read)
            answer = self.answer_aspect(read, view=view, aspect=aspect, say_none=True)
            if answer is not None:
                return answer
            if aspect is not None and aspect.seed:
                # The works have no sentences to read: the passages answer. A phrase of the
                # question's own ("worth seeing") is often the verdict's own words: it is
                # answered as a verdict.
                return None
        if read.opinion == "aspect":
            return None  # "How is Ok-ju related to Min-hee?" asks the text, not an opinion
        catalogue = list(view.catalog.works.values())
        return answer_opinion(
            read, self.opinion_reader(view), catalogue, figures=view.catalog.opinion_figures
        )

    def with_found_works(self, read: Question, *, view: CatalogView | None = None) -> Question:
        """An opinion question about a seed aspect that names no work ("Wie ist die Musik?"),
        read as asking about the works of the passages the search finds first for it; any
        other question as it is. Those works whose reviews do not speak of the aspect are
        left out of the answer."""
        if read.unknown_title or read.unmentioned or read.foreign or read.opinion:
            return read
        aspect = self.asked_aspect(read)
        if aspect is None or not aspect.seed:
            return read
        view = view or self.view()
        if _names_something(read.text, aspect.stems):
            return read  # "Wie ist die Bildqualität der DVD von Eragon?"
        pool, _ = retrieve(read, view.search, k=SENTENCE_POOL)
        works = view.works_by_id(list(dict.fromkeys(p.work_id for p in pool)))
        works = works[: self.settings.top_k]
        opinion, _ = opinion_asked(read.text, read.intent, works=works[:1])
        if opinion not in ("verdict", "aspect"):
            return read  # "Who composed the music?" asks a fact
        return replace(read, works=works, opinion="aspect")

    def asked_aspect(self, read: Question) -> AspectQuery | None:
        """The aspect an opinion question about named works asks about: a seed aspect
        ("Musik") or a phrase of the question's own ("Melancholie"); None for none."""
        # Words that picked one of two works ("Netflix", but also "Musik") stay in.
        spans = [w.title for w in read.works] + read.names
        return self.aspects.asked(read.text, read.language, title_spans=spans, opinion=True)

    def answer_aspect(
        self,
        read: Question,
        *,
        view: CatalogView | None = None,
        aspect: AspectQuery | None = None,
        say_none: bool = False,
        sure_only: bool = False,
    ) -> Answer | None:
        """The named works' sentences about the aspect the question names (``aspect``, or
        else the one it asks about), a seed aspect or a phrase of its own, counted by
        polarity; None when it names none, or no sentence is about it, unless ``say_none``
        asks for the answer that no review speaks of a seed aspect. ``sure_only``: only the
        works whose reviews surely speak of it (works the question did not name)."""
        aspect = aspect or self.asked_aspect(read)
        if aspect is None:
            return None
        return answer_aspect(
            read,
            self.opinion_reader(view),
            self.aspects,
            aspect,
            say_none=say_none,
            sure_only=sure_only,
        )

    @cached_property
    def aspects(self) -> AspectFinder:
        """Finds the aspect an opinion question asks about and the sentences about it."""
        return AspectFinder(self.embedder, lexicon=self.lexicon, cache_dir=self.settings.cache_dir)

    def works(self) -> list[WorkSummary]:
        return summarize_works(self.reviews())

    def work_opinions(self) -> list[tuple[WorkSummary, WorkSummaryOpinion]]:
        """Each work with its positive share and consensus line (``works`` and ``/works``)."""
        if not self.store.count():
            return []  # nothing indexed yet: no snapshot to read
        view = self.view()
        summaries = summarize_works(view.catalog.reviews())
        opinions = summarize_opinions(
            self.opinion_reader(view), [s.work for s in summaries], aspects=self.aspects
        )
        return list(zip(summaries, opinions, strict=True))

    def stats(self) -> dict[str, Any]:
        """Counts and facts about the index, for `reviewbot stats` and `/stats`."""
        reviews = self.reviews()
        state = self.store.state
        languages: dict[str, int] = {}
        for review in reviews:
            languages[review.language] = languages.get(review.language, 0) + 1
        return {
            "reviews": len(reviews),
            "works": len(summarize_works(reviews)),
            "chunks": self.store.count(),
            "languages": dict(sorted(languages.items())),
            "embedder": state.get("embedder", embedder_name(self.settings.embedder)),
            "store": self.settings.chroma_url or str(self.settings.data_dir / "chroma"),
            "collection": self.settings.collection,
            "last_index": state.get("indexed_at"),
        }


def _names_something(text: str, aspect_stems: Set[str]) -> bool:
    """Whether a capitalised word past the question's first is neither the aspect's own
    ("Bildqualität") nor one that only says what a question is about ("Kritiker"): a name,
    of a work or of something else, that the question would be asked about."""
    words = re.findall(r"[^\W\d_][\w'’-]*", text)
    return any(
        word[0].isupper()
        and word.lower() not in GENERIC_WORDS
        and not any(word.lower().startswith(stem) for stem in aspect_stems)
        for word in words[1:]
    )
