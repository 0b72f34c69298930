"""Every review and every sentence gets a polarity when indexed, kept in step with the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.polarity import PolarityHead
from index.records import Review
from index.sentence_store import StoredSentence, sentence_collection_name
from tests.conftest import SHARED_DATA, RememberingEmbedder

DVD = SHARED_DATA / "webis_cls10" / "de_dvd.jsonl"
# Every 20th review of the TEST split: the head was fitted on train reviews only.
EVERY = 25

HEADER = "Titel: Der lange Abend\nRegie: Anna Berger\nJahr: 2021\n\n"
PLOT = (
    "Der Film erzählt von einer Familie, die sich nach vielen Jahren in einem alten Haus an "
    "der Küste wiedertrifft. Die Mutter hat alle eingeladen, um das Haus zu verkaufen. "
    "Die drei Geschwister bringen ihre Partner und Kinder mit. Über ein langes Wochenende "
    "kommen alte Geschichten ans Licht, und am Ende muss jeder entscheiden, was ihm das "
    "Haus bedeutet. "
)
PRAISE = (
    "Ich war begeistert: wunderbar gespielt, klug geschrieben und bewegend bis zur letzten "
    "Minute. Die Musik ist großartig, die Bilder sind traumhaft schön. Ein Meisterwerk, "
    "das ich jedem nur empfehlen kann. Für mich der beste Film des Jahres!"
)
PAN = (
    "Ich war enttäuscht: hölzern gespielt, dumm geschrieben und langweilig bis zur letzten "
    "Minute. Die Musik nervt, die Bilder sind hässlich und billig. Ein Ärgernis, von dem "
    "ich jedem nur abraten kann. Für mich der schlechteste Film des Jahres, reine "
    "Zeitverschwendung!"
)
OTHER = (
    "Title: The Quiet Harbour\n\n"
    "A dreadful film. The acting is wooden, the script is stupid and the two hours drag on "
    "forever. I was bored from start to finish and wanted my money back. Avoid it."
)


@pytest.fixture(scope="module")
def head() -> PolarityHead:
    return PolarityHead.load()


def hidden_rating_reviews(folder: Path) -> dict[str, float]:
    """DVD test reviews written as JSON lines without their rating; their stars by id."""
    stars: dict[str, float] = {}
    folder.mkdir(parents=True)
    with DVD.open(encoding="utf-8") as lines, (folder / "dvd.jsonl").open("w") as out:
        test_rows = (json.loads(line) for line in lines)
        for number, row in enumerate(r for r in test_rows if r["split"] == "test"):
            if number % EVERY:
                continue
            stars[row["id"]] = float(row["rating"])
            hidden = {"id": row["id"], "title": row["title_normalized"], "text": row["text"]}
            out.write(json.dumps(hidden, ensure_ascii=False) + "\n")
    return stars


def test_review_polarity_agrees_with_the_hidden_star_rating(
    service: ReviewService, head: PolarityHead, tmp_path: Path
) -> None:
    stars = hidden_rating_reviews(tmp_path / "dvd")
    assert 80 <= len(stars) <= 120

    service.index([tmp_path / "dvd"])

    reviews = {str(r.record_key): r for r in service.reviews()}
    assert set(reviews) == set(stars)
    assert all(r.rating is None for r in reviews.values()), "the rating stays hidden"
    assert all(r.polarity is not None for r in reviews.values())
    labels = {key: head.label(float(r.polarity or 0)) for key, r in reviews.items()}
    judged = {key: stars[key] for key in labels if stars[key] != 3}
    decided = [key for key in judged if labels[key] != "mixed"]
    agree = [key for key in decided if (labels[key] == "positive") == (judged[key] >= 4)]
    assert len(agree) >= 0.85 * len(decided), f"{len(agree)} of {len(decided)} agree"
    assert len(decided) >= 0.7 * len(judged), "mixed is at most 30 %"

    # The indexer reads the chunks' words as well as their vectors: from the vectors alone,
    # fewer reviews would get their stars' polarity.
    by_key = {r.review_id: str(r.record_key) for r in reviews.values()}
    from_vectors = {
        by_key[review_id]: head.label(p) for review_id, p in polarities_from_vectors(service, head)
    }
    agree_from_vectors = [
        key
        for key in judged
        if from_vectors[key] != "mixed" and (from_vectors[key] == "positive") == (judged[key] >= 4)
    ]
    assert len(agree) > len(agree_from_vectors), "the words make more reviews agree"


def polarities_from_vectors(service: ReviewService, head: PolarityHead) -> list[tuple[str, float]]:
    """Every review's polarity made from its stored chunks' vectors alone."""
    by_review: dict[str, tuple[list[float], list[int]]] = {}
    for page in service.store.vector_pages():
        for metadata, p in zip(page.metadatas, head.polarity(page.vectors), strict=True):
            polarities, lengths = by_review.setdefault(str(metadata["review_id"]), ([], []))
            polarities.append(p)
            lengths.append(int(str(metadata["end"])) - int(str(metadata["start"])))
    return [(review_id, head.of_review(*found)) for review_id, found in by_review.items()]


def write_reviews(folder: Path, verdict: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "abend.txt").write_text(HEADER + PLOT + "\n\n" + verdict, encoding="utf-8")
    (folder / "harbour.txt").write_text(OTHER, encoding="utf-8")


def review(service: ReviewService, name: str) -> Review:
    return next(r for r in service.reviews() if r.review_id.endswith(name))


def sentences_of(service: ReviewService, name: str) -> dict[str, list[StoredSentence]]:
    ids = [c.chunk_id for c in service.store.chunks() if c.review_id.endswith(name)]
    return service.sentences.of_chunks(ids)


def review_polarities(service: ReviewService, name: str) -> set[object]:
    """The review polarity each stored chunk of the review carries."""
    return {
        c.metadata.get("review_polarity")
        for c in service.store.chunks()
        if c.review_id.endswith(name)
    }


def test_changed_review_gets_new_polarities_and_a_deleted_one_loses_its_sentences(
    service: ReviewService, head: PolarityHead, tmp_path: Path
) -> None:
    folder = tmp_path / "reviews"
    write_reviews(folder, PRAISE)
    service.index([folder])
    praised = review(service, "abend.txt")
    assert praised.polarity is not None and head.label(praised.polarity) == "positive"
    other = review(service, "harbour.txt")
    assert other.polarity is not None and head.label(other.polarity) == "negative"
    before = sentences_of(service, "abend.txt")
    assert len(before) >= 2, "the review has more than one chunk"
    assert all(s.polarity is not None for found in before.values() for s in found)
    gone_ids = list(sentences_of(service, "harbour.txt"))

    write_reviews(folder, PAN)
    (folder / "harbour.txt").unlink()
    report = service.index([folder])

    assert report.updated and report.removed
    panned = review(service, "abend.txt")
    assert panned.polarity is not None and head.label(panned.polarity) == "negative"
    assert review_polarities(service, "abend.txt") == {panned.polarity}, (
        "the chunks kept from before carry the new review polarity too"
    )
    after = sentences_of(service, "abend.txt")
    assert set(after) & set(before), "a chunk was kept"
    new_sentences = [s for chunk_id in set(after) - set(before) for s in after[chunk_id]]
    assert new_sentences and all(s.polarity is not None for s in new_sentences)
    assert min(s.polarity or 0 for s in new_sentences) < 0.5
    assert max(s.polarity or 0 for found in before.values() for s in found) > 0.5
    assert service.sentences.of_chunks(gone_ids) == {}
    assert [r.review_id for r in service.reviews()] == [panned.review_id]


def test_index_from_before_polarities_gets_them_on_the_next_run(
    service: ReviewService, tmp_path: Path
) -> None:
    folder = tmp_path / "reviews"
    write_reviews(folder, PRAISE)
    service.index([folder])
    expected = {r.review_id: r.polarity for r in service.reviews()}
    expected_sentences = sentence_polarities(service)
    forget_polarities(service)
    assert all(r.polarity is None for r in service.reviews())
    assert {p for _, p in sentence_polarities(service)} == {None}
    service.embedder.texts_embedded = 0

    report = service.index([folder])

    assert not report.changed and report.chunks_embedded == report.sentences_embedded == 0
    assert service.embedder.texts_embedded == 0, "polarities come from the stored vectors"
    assert {r.review_id: r.polarity for r in service.reviews()} == expected
    assert sentence_polarities(service) == expected_sentences
    assert None not in {p for _, p in expected_sentences}


def sentence_polarities(service: ReviewService) -> list[tuple[str, float | None]]:
    found = service.sentences.of_chunks([c.chunk_id for c in service.store.chunks()])
    return sorted(
        (f"{s.chunk_id}#{s.start}", s.polarity) for sentences in found.values() for s in sentences
    )


def forget_polarities(service: ReviewService) -> None:
    """Make the index look as one written before polarities were stored."""
    client = service.store.client
    chunks = client.get_collection(service.store.name)
    page = chunks.get(include=[])
    chunks.update(
        ids=page["ids"], metadatas=[{"polarity": None, "review_polarity": None}] * len(page["ids"])
    )
    sentences = client.get_collection(sentence_collection_name(service.store.name))
    page = sentences.get(include=[])
    sentences.update(ids=page["ids"], metadatas=[{"polarity": None}] * len(page["ids"]))
    state = {k: v for k, v in (chunks.metadata or {}).items() if k != "last_polarity"}
    chunks.modify(metadata=state)


class RenamedEmbedder(RememberingEmbedder):
    """The real vectors under the name of an embedder the polarity head was not fitted for."""

    def __init__(self, real: RememberingEmbedder) -> None:
        super().__init__(real)
        self.name = "sentence-transformers:some-other-model"


def test_no_polarity_under_an_embedder_the_head_was_not_fitted_for(
    settings: Settings, embedder: RememberingEmbedder, tmp_path: Path
) -> None:
    service = ReviewService(settings, embedder=RenamedEmbedder(embedder))
    folder = tmp_path / "reviews"
    write_reviews(folder, PRAISE)

    service.index([folder])

    assert [r.polarity for r in service.reviews()] == [None, None]
    assert {p for _, p in sentence_polarities(service)} == {None}
    assert not any("polarity" in c.metadata for c in service.store.chunks())
