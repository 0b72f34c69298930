"""Reading review files of every supported format into records, and saying what failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.service import ReviewService
from bot.settings import Settings
from index.decoding import DEFAULT_MAX_FILE_BYTES
from index.errors import ReviewFileError
from index.files import find_review_files, scan_review_files
from index.loading import DEFAULT_MAX_RECORDS, load_file, load_reviews
from index.records import FileLoad
from tests.conftest import REPO, RememberingEmbedder

SEEDS = Path(__file__).parents[1].parent / "shared" / "data" / "seeds"
# Review pages as sites publish them (kept apart from examples/reviews, whose gold set counts
# every review there).
PAGES = REPO / "examples" / "pages"
GERMAN = "Die Größe des Films überzeugt, aber die Länge nervt."
QUOTED = "Größe \N{EN DASH} „Zitat“ für 5 €"


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    folder = tmp_path / "reviews"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load(
    folder: Path,
    name: str,
    content: str | bytes,
    *,
    columns: dict[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> FileLoad:
    path = write(folder, name, content)
    return load_file(
        path, root=folder, columns=columns, max_bytes=max_bytes, max_records=max_records
    )


def only_failure(result: FileLoad) -> str:
    assert result.records == []
    assert len(result.failures) == 1
    assert result.failures[0].path == result.path
    return result.failures[0].reason


def test_plain_text_is_one_review_with_its_whole_text(reviews: Path) -> None:
    path = write(reviews, "sub/ballerina.txt", "Ballerina\r\nRegie: Lee\r\n\r\nStark.\r\n")

    result = load_file(path, root=reviews)

    (record,) = result.records
    assert result.complete and result.path == str(path)
    assert record.review_id == "reviews/sub/ballerina.txt"
    assert record.source_path == str(path.resolve())
    assert record.record_key is None
    assert record.text == "Ballerina\nRegie: Lee\n\nStark.\n"
    assert (record.fields, record.format) == ({}, "txt")


def test_markdown_front_matter_becomes_fields(reviews: Path) -> None:
    text = "---\nTitle: Ballerina\nRegie: Len Wiseman\nCast: [Ana de Armas, Keanu Reeves]\n"
    text += "date: 2025-06-05\n---\n\n# Eine Überschrift\n\nDer Film ist *gut*.\n"

    (record,) = load(reviews, "a.md", text).records

    assert record.text == "# Eine Überschrift\n\nDer Film ist *gut*.\n"
    assert record.fields == {
        "title": "Ballerina",
        "regie": "Len Wiseman",
        "director": "Len Wiseman",
        "cast": "Ana de Armas, Keanu Reeves",
        "date": "2025-06-05",
    }
    assert record.format == "md"


def test_markdown_heading_is_the_title_when_front_matter_has_none(reviews: Path) -> None:
    (record,) = load(reviews, "b.markdown", "# Ballerina (2023)\n\nRache ist kalt.\n").records

    assert record.fields == {"title": "Ballerina (2023)"}
    assert record.text == "Rache ist kalt.\n"


def test_html_keeps_the_article_and_drops_navigation(reviews: Path) -> None:
    page = """<html><head><title>Ballerina - Kritik | Filmseite</title>
    <meta property="og:title" content="Ballerina">
    <meta name="author" content="Anna Weber"><meta name="description" content="Teaser text">
    <meta property="article:published_time" content="2025-06-05">
    <meta name="review:rating" content="4/5"><meta name="review:Director" content="Len Wiseman">
    <style>p { color: red }</style></head>
    <body><nav><a href="/">Start</a> Filme</nav><header>Filmseite</header>
    <aside><article>Mehr Kritiken</article></aside>
    <article><h1>Ballerina</h1><p>Ana de Armas
        kämpft <b>sich</b> durch.</p><p>Zeile eins<br>Zeile zwei</p>
    <script>track()</script><form>Newsletter</form>
    <table><tr><td>Regie</td><td>Len Wiseman</td></tr></table></article>
    <footer>Impressum</footer></body></html>"""

    (record,) = load(reviews, "ballerina.html", page).records

    assert record.text.split("\n") == [
        "Ballerina",
        "Ana de Armas kämpft sich durch.",
        "Zeile eins",
        "Zeile zwei",
        "Regie Len Wiseman",
    ]
    assert record.fields == {
        "title": "Ballerina",
        "author": "Anna Weber",
        "description": "Teaser text",
        "date": "2025-06-05",
        "rating": "4/5",
        "director": "Len Wiseman",
    }
    assert record.format == "html"


def test_html_without_article_reads_the_body_and_its_heading(reviews: Path) -> None:
    page = "<body><nav>Menü</nav><div><h1>John Wick 4</h1>Lang, laut, gut.</div></body>"

    (record,) = load(reviews, "wick.htm", page).records

    assert record.text == "John Wick 4\nLang, laut, gut."
    assert record.fields == {"title": "John Wick 4"}


def test_json_array_gives_one_review_per_object(reviews: Path) -> None:
    content = """[
      {"id": "r-1", "Text": "Stark gespielt.", "Film": "Ballerina", "Rating": 4,
       "cast": ["Ana de Armas", "Keanu Reeves"], "meta": {"source": "x"}},
      {"review": "Zu lang.", "summary": "Kurz: zu lang", "score": "2/5"},
      {"title": "Ohne Text"},
      "kein Objekt",
      {"id": "r-1", "text": "Nochmal"}
    ]"""

    result = load(reviews, "many.json", content)

    first, second = result.records
    assert (first.review_id, first.record_key) == ("reviews/many.json#r-1", "r-1")
    assert first.text == "Stark gespielt."
    assert first.fields == {
        "id": "r-1",
        "film": "Ballerina",
        "title": "Ballerina",
        "rating": "4",
        "cast": "Ana de Armas, Keanu Reeves",
    }
    assert (second.review_id, second.text) == ("reviews/many.json#2", "Zu lang.")
    assert second.fields == {"summary": "Kurz: zu lang", "score": "2/5", "rating": "2/5"}
    assert [(f.record_key, f.reason) for f in result.failures] == [
        ("3", "record 3: no review text (looked for text, review, body, content or review_text)"),
        ("4", "record 4: expected a JSON object, not a string"),
        ("r-1", "record 5: id 'r-1' is already used by record 1"),
    ]
    assert not result.complete


@pytest.mark.parametrize(
    ("content", "review_id"),
    [
        ('{"text": "Gut.", "title": "Ballerina"}', "reviews/one.json"),
        ('{"reviews": [{"text": "Gut.", "title": "Ballerina"}]}', "reviews/one.json#1"),
    ],
)
def test_json_object_or_reviews_list(reviews: Path, content: str, review_id: str) -> None:
    (record,) = load(reviews, "one.json", content).records

    assert (record.review_id, record.text, record.fields) == (
        review_id,
        "Gut.",
        {"title": "Ballerina"},
    )


def test_jsonl_bad_line_fails_alone(reviews: Path) -> None:
    content = '{"text": "Eins"}\n\n{"text": "Zwei", \n{"text": "Drei", "id": 7}\r\n'

    result = load(reviews, "lines.jsonl", content)

    assert [(r.review_id, r.text) for r in result.records] == [
        ("reviews/lines.jsonl#1", "Eins"),
        ("reviews/lines.jsonl#7", "Drei"),
    ]
    (failure,) = result.failures
    assert failure.record_key == "3"
    assert failure.reason.startswith("line 3: invalid JSON")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_with_any_common_delimiter(reviews: Path, delimiter: str) -> None:
    rows = [["ID", " Text ", "Stars"], ["a1", '"Gut, sehr ""gut"""', "5"], ["a2", "Naja", "3"]]
    content = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"

    records = load(reviews, "table.csv", content).records

    assert [(r.review_id, r.text, r.fields) for r in records] == [
        ("reviews/table.csv#a1", 'Gut, sehr "gut"', {"id": "a1", "stars": "5", "rating": "5"}),
        ("reviews/table.csv#a2", "Naja", {"id": "a2", "stars": "3", "rating": "3"}),
    ]


def test_csv_bad_rows_fail_alone(reviews: Path) -> None:
    content = "text;jahr\nErster;2023\nZu viele;2023;x\nZu wenige\n;2024\n\nLetzter;2025\n"

    result = load(reviews, "rows.csv", content)

    assert [(r.review_id, r.text, r.fields["year"]) for r in result.records] == [
        ("reviews/rows.csv#1", "Erster", "2023"),
        ("reviews/rows.csv#5", "Letzter", "2025"),
    ]
    assert [(f.record_key, f.reason) for f in result.failures] == [
        ("2", "row 2 (line 3): has 3 fields, the header has 2"),
        ("3", "row 3 (line 4): has 1 field, the header has 2"),
        (
            "4",
            "row 4 (line 5): no review text "
            "(looked for text, review, body, content or review_text)",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("mapped.csv", "Film;Rezension;Punkte\nBallerina;Gute Action.;8\n"),
        ("mapped.jsonl", '{"Film": "Ballerina", "Rezension": "Gute Action.", "Punkte": 8}\n'),
    ],
)
def test_column_mapping_names_the_files_columns(reviews: Path, name: str, content: str) -> None:
    columns = {"text": "Rezension", "title": "Film", "rating": "Punkte"}

    (record,) = load(reviews, name, content, columns=columns).records

    assert record.text == "Gute Action."
    assert record.fields == {
        "film": "Ballerina",
        "punkte": "8",
        "title": "Ballerina",
        "rating": "8",
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xef\xbb\xbf" + GERMAN.encode(), GERMAN),
        (GERMAN.encode("cp1252"), GERMAN),
        (GERMAN.encode("latin-1"), GERMAN),
        (QUOTED.encode("cp1252"), QUOTED),
        (GERMAN.encode("utf-16"), GERMAN),
    ],
    ids=["utf-8 with BOM", "cp1252", "latin-1", "cp1252 quotes and euro", "utf-16"],
)
def test_encodings_are_decoded(reviews: Path, content: bytes, expected: str) -> None:
    (record,) = load(reviews, "encoded.txt", content).records

    assert record.text == expected


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "png.txt",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "binary file, not text (it contains NUL",
        ),
        ("noise.txt", bytes(range(128, 256)) * 20, "binary file, not text (no plausible text"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \r\n\t\n", "empty file"),
        (
            "yaml.md",
            "---\nrating: 4: 5\n---\nText",
            "not valid YAML: mapping values are not allowed here (line 2, column 10)",
        ),
        ("open.md", "---\ntitle: Ballerina\nText", "front matter starts with '---' on line 1 but"),
        ("list.md", "---\n- Ballerina\n---\nText", "front matter is a list, not key: value"),
        ("bare.md", "---\ntitle: Ballerina\n---\n\n", "no review text after the front matter"),
        ("comma.json", '[{"text": "a"},\n {"text": "b",}]', "invalid JSON at line 2, column 15: "),
        ("number.json", "42", "expected a JSON object, a list of objects or an object with"),
        ("plain.csv", "film,sterne\nBallerina,4\n", "no text column: the header has film, sterne"),
        ("review.pdf", "%PDF-1.7", "unsupported file type .pdf (supported: .csv, .htm, .html"),
    ],
)
def test_whole_file_failures_say_why(
    reviews: Path, name: str, content: str | bytes, reason: str
) -> None:
    assert reason in only_failure(load(reviews, name, content))


def test_file_over_the_limit_fails_with_both_sizes(reviews: Path) -> None:
    reason = only_failure(load(reviews, "long.txt", "x" * 500, max_bytes=100))

    assert reason == "file too large: 500 bytes, the limit is 100 bytes"


def test_a_50_mb_file_is_refused_by_its_size_before_reading(reviews: Path) -> None:
    path = reviews / "huge.txt"
    with path.open("wb") as stream:
        stream.write(b"Ballerina ist gut. " * (50 * 1024 * 1024 // 19 + 1))

    result = load_file(path, root=reviews)

    # Reading stops one byte past the limit: "50.0 MB" can only come from the file's size.
    assert only_failure(result) == "file too large: 50.0 MB, the limit is 8.0 MB"


def test_unreadable_paths_fail_with_the_reason(reviews: Path) -> None:
    (reviews / "gone.txt").symlink_to("missing.txt")
    (reviews / "folder.txt").mkdir()

    gone = only_failure(load_file(reviews / "gone.txt", root=reviews))
    folder = only_failure(load_file(reviews / "folder.txt", root=reviews))

    assert gone == "cannot read file: it links to missing.txt, which does not exist"
    assert folder == "cannot read file: it is a folder"


def test_find_review_files_walks_folders_in_order(reviews: Path, tmp_path: Path) -> None:
    for name in ["b.md", "a/z.TXT", "a/b.csv", ".hidden.txt", ".git/c.txt", "notes.pdf"]:
        write(reviews, name, "x")
    single = write(tmp_path, "single.json", "{}")

    found = find_review_files([reviews, single])

    assert found == [
        (reviews / "a" / "b.csv", reviews),
        (reviews / "a" / "z.TXT", reviews),
        (reviews / "b.md", reviews),
        (single, tmp_path),
    ]


def test_missing_path_raises_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(ReviewFileError, match="nowhere: no such file or folder"):
        scan_review_files([tmp_path, tmp_path / "nowhere"])


def test_seed_reviews_load_as_plain_text() -> None:
    results = list(load_reviews(find_review_files([SEEDS])))

    records = [record for result in results for record in result.records]
    assert all(result.complete for result in results)
    assert [record.review_id for record in records] == [
        "seeds/000_20005b48146ddf91.txt",
        "seeds/001_404a93345931fd65.txt",
        "seeds/002_8bc465d4c9f8ae35.txt",
    ]
    for record in records:
        assert record.text == Path(record.source_path).read_text(encoding="utf-8")


def test_utf8_with_a_few_invalid_bytes_is_repaired_span_by_span(reviews: Path) -> None:
    content = (GERMAN + "\n").encode() * 3 + "Ein schöner Tag.\n".encode("cp1252")

    result = load(reviews, "mixed.txt", content)

    (record,) = result.records
    assert record.text == (GERMAN + "\n") * 3 + "Ein schöner Tag.\n"
    assert [note.note for note in result.notes] == [
        "repaired 1 byte that was not UTF-8 (read as cp1252)"
    ]
    assert result.complete


def test_a_legacy_file_with_a_chance_utf8_pair_stays_legacy(reviews: Path) -> None:
    # "ß…" in cp1252 happens to be valid UTF-8; the many other umlauts show the encoding.
    text = "Spaß… " + "Größe, Länge, Übermut. " * 10

    (record,) = load(reviews, "legacy.txt", text.encode("cp1252")).records

    assert record.text == text


def test_lone_surrogate_escapes_become_replacement_characters(reviews: Path) -> None:
    result = load(reviews, "s.jsonl", '{"id": "a", "text": "Kaputt \\ud83d hier.", "x": "\\udc00"}')

    (record,) = result.records
    assert (record.text, record.fields["x"]) == ("Kaputt \ufffd hier.", "\ufffd")
    assert "replaced 2 lone surrogate" in result.notes[0].note
    record.text.encode("utf-8")


def test_names_that_are_not_utf8_give_printable_stable_ids(reviews: Path) -> None:
    path = Path(os.fsdecode(os.fsencode(reviews) + b"/caf\xe9\n.txt"))
    path.write_text("Gut.", encoding="utf-8")

    first, again = load_file(path, root=reviews), load_file(path, root=reviews)

    assert first.records[0].review_id == again.records[0].review_id == "reviews/caf\\xe9\\x0a.txt"
    assert first.records[0].source_path.endswith("/caf\\xe9\\x0a.txt")
    assert first.path.encode("utf-8") and first.notes


def test_deep_json_fails_that_file_or_that_line(reviews: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    assert only_failure(load(reviews, "deep.json", deep)) == "JSON nested too deeply"
    lines = load(reviews, "deep.jsonl", '{"text": "Gut."}\n' + deep)
    assert [r.text for r in lines.records] == ["Gut."]
    assert [f.reason for f in lines.failures] == ["line 2: JSON nested too deeply"]


def test_yaml_aliases_are_refused_in_front_matter(reviews: Path) -> None:
    laughs = "---\na: &a [x, x, x]\nb: &b [*a, *a, *a]\n---\nText."

    reason = only_failure(load(reviews, "laughs.md", laughs))

    assert "aliases (*name) are not allowed in front matter (line 3" in reason


def test_html_nesting_is_bounded_before_parsing(reviews: Path) -> None:
    nested = "<body>" + "<div>" * 300 + "Tief, aber lesbar." + "</div>" * 300
    too_deep = "<body>" + "<div>" * 100_000 + "Text." + "</div>" * 100_000

    assert load(reviews, "ok.html", nested).records[0].text == "Tief, aber lesbar."
    reason = only_failure(load(reviews, "deep.html", too_deep))
    assert reason == "HTML nested about 100000 elements deep (at most 2000 are read)"


def test_records_after_the_limit_are_reported_not_read(reviews: Path) -> None:
    rows = "id,text\n" + "".join(f"{n},Gut {n}.\n" for n in range(1, 8))

    result = load(reviews, "rows.csv", rows, max_records=5)

    assert [r.record_key for r in result.records] == ["1", "2", "3", "4", "5"]
    assert [f.reason for f in result.failures] == [
        "the records after the first 5 were not read (a file is read up to 5)"
    ]


def test_csv_with_only_a_header_is_a_failure(reviews: Path) -> None:
    assert (
        only_failure(load(reviews, "header.csv", "id,title,text\n")) == "no rows under the header"
    )


def test_links_out_of_the_folder_are_followed_only_when_allowed(
    reviews: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path, "outside.txt", "Titel: Kaltfront\n\nGut.")
    (reviews / "link.txt").symlink_to(outside)
    (reviews / "inside.txt").symlink_to(write(reviews, "sub/real.txt", "Gut."))

    refused = only_failure(load_file(reviews / "link.txt", root=reviews))
    followed = load_file(reviews / "link.txt", root=reviews, follow_external_links=True)
    inside = load_file(reviews / "inside.txt", root=reviews)

    assert refused.startswith(f"not read: it links to {outside}, outside {reviews}")
    assert followed.records[0].text == "Titel: Kaltfront\n\nGut."
    assert inside.records[0].text == "Gut."


def test_unlistable_folder_is_reported_not_raised(
    reviews: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(reviews, "a.txt", "Gut.")
    write(reviews, "locked/b.txt", "Gut.")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.fspath(path).endswith("/locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = scan_review_files([reviews])
    loads = [*found.unlistable, *load_reviews(found.files)]

    assert [(x.path, [f.reason for f in x.failures]) for x in loads] == [
        (str(reviews / "locked"), ["cannot list folder: Permission denied"]),
        (str(reviews / "a.txt"), []),
    ]


# -- review pages: the article without its surroundings, schema.org Review JSON-LD ----------

FERNWEH_PAGE = """<html><head><title>Fernweh – Kritik | Kinoblatt</title></head><body>
<nav><a href="/">Start</a></nav>
<article>
  <div class="teaser"><a href="/kritik/heimweh/">Lesen Sie auch: Heimweh aus Bayern</a></div>
  <h1>Fernweh</h1>
  <p>Fernweh erzählt von einer Postbotin, die jeden Brief liest, bevor sie ihn austrägt.
  Nora Kessler spielt sie mit einer stillen Neugier, die nie ins Niedliche kippt.</p>
  <p>Die Kamera bleibt nah an ihren Händen, an Umschlägen und Briefmarken, und macht aus
  dem Dorf eine Landkarte aus Geheimnissen. Nur das Ende wirkt angeklebt.</p>
  <aside class="related"><h3>Mehr Kritiken</h3><ul>
    <li><a href="/kritik/a/">Landluft: Komödie aus dem Allgäu</a></li>
    <li><a href="/kritik/b/">Briefgeheimnis: Thriller</a></li></ul></aside>
  <section class="comments" id="comments"><h3>Kommentare</h3>
    <div class="comment"><p>Bester Film des Jahres, unbedingt ansehen!!!</p></div>
    <div class="comment"><p>Totaler Mist, ich wollte mein Geld zurück.</p></div>
  </section>
</article>
<footer>Impressum</footer></body></html>"""


def test_a_review_page_keeps_only_the_review_not_teasers_related_links_or_comments(
    reviews: Path,
) -> None:
    (record,) = load(reviews, "fernweh.html", FERNWEH_PAGE).records

    assert record.text.split("\n") == [
        "Fernweh",
        "Fernweh erzählt von einer Postbotin, die jeden Brief liest, bevor sie ihn austrägt. "
        "Nora Kessler spielt sie mit einer stillen Neugier, die nie ins Niedliche kippt.",
        "Die Kamera bleibt nah an ihren Händen, an Umschlägen und Briefmarken, und macht aus "
        "dem Dorf eine Landkarte aus Geheimnissen. Nur das Ende wirkt angeklebt.",
    ]
    assert record.fields["title"] == "Fernweh"


def page_with(json_ld: str, *, head: str = "", body: str = "<p>Ein ruhiger Film.</p>") -> str:
    return (
        f'<html><head>{head}<script type="application/ld+json">{json_ld}</script></head>'
        f"<body><article><h1>Kritik</h1>{body}</article></body></html>"
    )


MOVIE = '{"@type": "Movie", "name": "Fernweh", "dateCreated": "2021-05-01", "director": "Ada Roth"}'


@pytest.mark.parametrize(
    ("json_ld", "expected"),
    [
        # a CriticReview at the top, author as a Person, rating on a 1-to-5 scale
        (
            '{"@context": "https://schema.org", "@type": "CriticReview", "itemReviewed": '
            + MOVIE
            + ', "author": {"@type": "Person", "name": "Lea Brandt"}, "datePublished": '
            '"2021-09-30", "reviewRating": {"@type": "Rating", "ratingValue": "4", '
            '"bestRating": "5", "worstRating": "1"}}',
            {
                "title": "Fernweh",
                "year": "2021",
                "director": "Ada Roth",
                "author": "Lea Brandt",
                "date": "2021-09-30",
                "rating": "4/5",
            },
        ),
        # inside an @graph, with other things around it; author as a string; 0-to-10 scale
        (
            '{"@graph": [{"@type": "WebPage", "name": "Seite"}, {"@type": "Review", '
            '"itemReviewed": {"@type": "Movie", "name": "Fernweh", "director": '
            '[{"@type": "Person", "name": "Ada Roth"}, {"@type": "Person", "name": "Ben Ott"}]}, '
            '"author": "Lea Brandt", "publisher": {"@type": "Organization", "name": "Kinoblatt"},'
            ' "reviewRating": {"ratingValue": 7.5, "bestRating": 10, "worstRating": 0}}]}',
            {
                "title": "Fernweh",
                "director": "Ada Roth, Ben Ott",
                "author": "Lea Brandt",
                "source": "Kinoblatt",
                "rating": "7.5/10",
            },
        ),
        # in a list of blocks; a decimal comma; no bestRating means schema.org's 5
        (
            '[{"@type": "BreadcrumbList"}, {"@type": ["Review"], "itemReviewed": {"@type": '
            '"Movie", "name": "Fernweh", "datePublished": "2021"}, "author": [{"name": "Lea '
            'Brandt"}], "datePublished": "2021-09-30T08:00:00+02:00", "reviewRating": '
            '{"ratingValue": "3,5"}}]',
            {
                "title": "Fernweh",
                "year": "2021",
                "author": "Lea Brandt",
                "date": "2021-09-30",
                "rating": "3.5/5",
            },
        ),
        # a scale that starts above 1 is shifted to start at 0
        (
            '{"@type": "Review", "itemReviewed": {"name": "Fernweh"}, "reviewRating": '
            '{"ratingValue": 6, "bestRating": 7, "worstRating": 2}}',
            {"title": "Fernweh", "rating": "4/5"},
        ),
    ],
    ids=["critic-review", "graph", "list", "shifted-scale"],
)
def test_a_schema_org_review_gives_the_film_author_date_and_rating(
    reviews: Path, json_ld: str, expected: dict[str, str]
) -> None:
    (record,) = load(reviews, "fernweh.html", page_with(json_ld)).records

    assert record.fields == expected
    assert record.text == "Kritik\nEin ruhiger Film."


def test_our_review_meta_tags_win_over_json_ld_and_json_ld_over_the_usual_meta_tags(
    reviews: Path,
) -> None:
    head = (
        '<meta name="review:rating" content="8/10"><meta name="author" content="Redaktion">'
        '<meta property="og:title" content="Kritik: Fernweh – Kinoblatt">'
    )
    json_ld = (
        '{"@type": "Review", "itemReviewed": ' + MOVIE + ', "author": "Lea Brandt", '
        '"reviewRating": {"ratingValue": 2, "bestRating": 5}}'
    )

    (record,) = load(reviews, "fernweh.html", page_with(json_ld, head=head)).records

    assert record.fields["rating"] == "8/10"
    assert record.fields["author"] == "Lea Brandt"
    assert record.fields["title"] == "Fernweh"


def test_a_review_body_in_json_ld_is_the_text_when_the_page_shows_less(reviews: Path) -> None:
    written = "Erster Absatz über Fernweh.\\n\\nZweiter   Absatz, mit\\nZeilenumbruch."
    json_ld = '{"@type": "Review", "itemReviewed": ' + MOVIE + f', "reviewBody": "{written}"}}'

    (record,) = load(reviews, "fernweh.html", page_with(json_ld, body="<p>Kurz.</p>")).records

    assert record.text == "Erster Absatz über Fernweh.\nZweiter Absatz, mit Zeilenumbruch."


def test_broken_or_foreign_json_ld_is_skipped(reviews: Path) -> None:
    page = page_with('{"@type": "Review", broken') + page_with('{"@type": "Recipe"}')

    (record,) = load(reviews, "fernweh.html", page).records

    assert "rating" not in record.fields
    assert record.text.startswith("Kritik\nEin ruhiger Film.")


def test_a_page_with_json_ld_is_indexed_with_its_rating_author_and_film(
    settings: Settings, embedder: RememberingEmbedder
) -> None:
    service = ReviewService(settings, embedder=embedder)

    service.index([PAGES])

    by_title = {r.work.title: r for r in service.catalog() if r.work}
    german = by_title["Die Eisvögel von Hiddensee"]
    assert german.work is not None
    assert (german.work.year, german.work.director) == (2016, "Marlene Stöhr")
    assert (german.author, german.source, german.date) == (
        "Henrike Paulsen",
        "Leinwandblick",
        "2016-10-14",
    )
    assert german.rating is not None and german.rating.normalized == 0.7
    assert "Kinofan_HH" not in german.text and "interessieren" not in german.text
    english = by_title["The Saltmarsh Choir"]
    assert english.work is not None and english.work.director == "Owen Pritchard"
    assert english.author == "Gareth Lloyd"
    assert english.rating is not None and english.rating.normalized == 0.55
    answer = service.ask("Wie wurde Die Eisvögel von Hiddensee bewertet?")
    assert "Die Eisvögel von Hiddensee" in answer.answer and "3.5/5" in answer.answer


def test_the_english_example_page_reads_its_review_body_and_ten_point_rating() -> None:
    page = PAGES / "the-saltmarsh-choir-2015-northern-frame.html"

    (record,) = load_file(page, root=PAGES).records

    assert record.fields["title"] == "The Saltmarsh Choir"
    assert record.fields["author"] == "Gareth Lloyd"
    assert record.fields["rating"] == "5.5/10"
    assert record.text.startswith("Owen Pritchard's second feature")
    assert "walked out" not in record.text and "Read next" not in record.text
