"""The `reviewbot` command line."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import update_wrapper
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from bot.answers import Answer
from bot.conversation import Conversation
from bot.engine.opinions import summary_line
from bot.question_input import QuestionError
from bot.redaction import Redactor
from bot.service import ReviewService
from bot.settings import load_settings
from index.catalog import review_as_dict
from index.errors import ConfigurationError, ReviewbotError
from index.indexing import IndexReport, Progress

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from bot.evaluation import Breakdown
    from bot.uploads import AddResult

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_UNEXPECTED = 4
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = f"""\b
Exit codes:
  {EXIT_ERROR:>3}  an error: the store cannot be reached, nothing is indexed, another
       indexer runs, the index was built by another embedder, a reviews folder is
       suddenly empty (see index --allow-empty), an eval threshold was missed
  {EXIT_USAGE:>3}  a wrong option, setting (REVIEWBOT_…) or question
  {EXIT_PARTIAL:>3}  some review files could not be read (the rest is indexed)
  {EXIT_UNEXPECTED:>3}  an unexpected error; -v shows its traceback
  {EXIT_INTERRUPTED:>3}  interrupted (Ctrl-C)
"""
_LISTED = 20
_ALLOW_EMPTY_HELP = "Remove the reviews of a folder that is now empty (refused otherwise)."
# Whose errors, reaching the command line, come from the Chroma store: its own, and the
# HTTP client's of a Chroma server (the LLM and Telegram clients handle theirs).
_STORE_LIBRARIES = frozenset({"chromadb", "httpx", "httpcore"})
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# The loggers whose INFO lines -v shows; other libraries' show from WARNING on (-vv: all).
_OWN_LOGGERS = ("reviewbot", "bot", "index")
# C0 and C1 control characters but newline and tab: escape sequences that would let a
# review's title recolour, retitle or rewrite the terminal.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_C1_CONTROLS = re.compile(r"[\x7f-\x9f]")

log = logging.getLogger("reviewbot")


P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class _Launch:
    """What `main` hands the command group: a service to use (tests) and the log redactor."""

    redactor: Redactor
    service: ReviewService | None = None

    def started_service(self) -> ReviewService:
        """The service, built from the settings on first use: only once a command runs, so
        `--help` and usage errors never depend on the settings."""
        if self.service is None:
            settings = load_settings()
            self.redactor.add(settings.secrets())
            self.service = ReviewService(settings)
        return self.service


def pass_service(command: Callable[Concatenate[ReviewService, P], R]) -> Callable[P, R]:
    """Like click.pass_obj, handing the command the service (built when it is called)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        launch = click.get_current_context().find_object(_Launch)
        assert launch is not None, "the command group puts a _Launch into the context"
        return command(launch.started_service(), *args, **kwargs)

    return update_wrapper(run, command)


def printable(text: str) -> str:
    """``text`` without the control characters a terminal would act on (newline, tab stay)."""
    return _TERMINAL_CONTROLS.sub("", text)


def _echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print human-readable output (review titles, quotes, paths) safely to a terminal."""
    click.echo(printable(text), err=err, nl=nl)


def _print_json(data: Any) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # json escapes C0 itself; C1 (e.g. U+009B, a one-character escape sequence) stays raw.
    click.echo(_C1_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


class _OwnInfoOnly(logging.Filter):
    """Lets other libraries' records through from WARNING on, reviewbot's from INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".")[0] in _OWN_LOGGERS
        return record.levelno >= (logging.INFO if own else logging.WARNING)


def _configure_logging(verbosity: int, redactor: Redactor) -> None:
    """Warnings only by default (whatever level a library gave its own logger), -v adds
    what reviewbot does, -vv debug details of everything; every handler masks the secrets."""
    root = logging.getLogger()
    if not root.handlers:  # else whoever runs us (a test, an embedding program) set it up
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        # Levels on the handler too: bm25s sets its own logger to DEBUG, and httpx logs
        # every request at INFO; the root's level stops neither.
        if verbosity >= 2:
            root.setLevel(logging.DEBUG)
        elif verbosity == 1:
            root.setLevel(logging.WARNING)
            for name in _OWN_LOGGERS:
                logging.getLogger(name).setLevel(logging.INFO)
            handler.addFilter(_OwnInfoOnly())
        else:
            root.setLevel(logging.WARNING)
            handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    redactor.install()


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log what reviewbot does and other libraries' warnings to stderr (-vv: debug "
    "details of everything).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Answers questions about film reviews, quoting the reviews it answers from.

    Settings come from REVIEWBOT_… environment variables and .env (see .env.example).
    """
    launch = ctx.obj if isinstance(ctx.obj, _Launch) else _Launch(Redactor())
    _configure_logging(verbose, launch.redactor)
    if launch.service is not None:
        launch.redactor.add(launch.service.settings.secrets())
    ctx.obj = launch


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A progress bar per stage on a terminal; nothing when stderr is a file or a pipe."""
    if not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as bars:
        current: dict[str, ProgressBar[int]] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in current:
                bars.close()
                current.clear()
                label = printable(stage)
                current[stage] = bars.enter_context(
                    click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
                )
            bar = current[stage]
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        yield advance


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@click.option("--allow-empty", is_flag=True, help=_ALLOW_EMPTY_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_service
def index(
    service: ReviewService, paths: tuple[Path, ...], rebuild: bool, allow_empty: bool, as_json: bool
) -> None:
    """Index review files: add new reviews, replace changed ones, remove deleted ones.

    PATHS default to the reviews folder (REVIEWBOT_REVIEWS_DIR). Exits 3 when some
    files could not be read (they are listed; their earlier chunks are kept).
    """
    with _progress_bar() as progress:
        report = service.index(paths, rebuild=rebuild, progress=progress, allow_empty=allow_empty)
    if as_json:
        _print_json(report.as_dict())
    else:
        _echo_report(report, paths or (service.settings.reviews_dir,))
    if report.failed:
        sys.exit(EXIT_PARTIAL)


def _echo_report(report: IndexReport, paths: tuple[Path, ...]) -> None:
    where = ", ".join(str(p) for p in paths)
    _echo(
        f"indexed {where}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed ({report.chunks_embedded} chunks embedded, "
        f"{report.seconds:.1f} s)"
    )
    for label, ids in (
        ("added", report.added),
        ("updated", report.updated),
        ("removed", report.removed),
        ("kept", report.kept),
    ):
        for review_id in ids[:_LISTED]:
            _echo(f"  {label}: {review_id}")
        if len(ids) > _LISTED:
            _echo(f"  … and {len(ids) - _LISTED} more {label}")
    for failure in report.failed:
        record = f" (record {failure.record_key})" if failure.record_key else ""
        _echo(f"  failed: {failure.path}{record}: {failure.reason}", err=True)
    for note in report.notes:
        record = f" (record {note.record_key})" if note.record_key else ""
        _echo(f"  note: {note.path}{record}: {note.note}", err=True)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--allow-empty", is_flag=True, help=_ALLOW_EMPTY_HELP)
@pass_service
def add(service: ReviewService, files: tuple[Path, ...], allow_empty: bool) -> None:
    """Copy review files into the reviews folder and index them, as a Telegram upload does.

    Each file is checked first (type, size, a review that can be read); nothing is
    overwritten: a name already taken gets a number. Exits 3 when a file was not added.
    """
    from bot.uploads import add_review_file

    not_added = 0
    for path in files:
        try:
            result = add_review_file(service, path, allow_empty=allow_empty)
        except ReviewbotError as error:
            _echo(f"not added: {error}", err=True)
            not_added += 1
            continue
        line, added = _added_line(path, result)
        _echo(line, err=not added)
        not_added += not added
        if result.report is not None:
            _echo_report(result.report, (service.settings.reviews_dir,))
    if not_added:
        sys.exit(EXIT_PARTIAL)


def _added_line(path: Path, result: AddResult) -> tuple[str, bool]:
    """What adding ``path`` did, as one line, and whether the review is (or will be) in."""
    from bot.uploads import MAX_UPLOAD_BYTES, SUPPORTED_TYPES, Added

    match result.outcome:
        case Added.SAVED:
            return f"added {path} as {result.name}", True
        case Added.SAME:
            return f"{path} is in the reviews folder already, as {result.name}", True
        case Added.NOT_INDEXED:
            return (
                f"added {path} as {result.name}; another index run holds the index, "
                "the next run indexes it"
            ), True
        case Added.UNSUPPORTED:
            return f"not added: {path} is not a review file ({SUPPORTED_TYPES})", False
        case Added.TOO_LARGE:
            return f"not added: {path} is larger than {MAX_UPLOAD_BYTES // 2**20} MB", False
        case Added.UNREADABLE:
            reasons = "; ".join(result.reasons) or "no review found"
            return f"not added: no review could be read from {path}: {reasons}", False
        case Added.SOURCE_EMPTY:
            return (
                f"not added: the reviews folder holds no review files (not mounted?); "
                f"--allow-empty adds {path} anyway and removes the index's other reviews"
            ), False
        case _:
            return f"not added: another index run holds the index; try {path} again", False


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_service
def reviews(service: ReviewService, as_json: bool) -> None:
    """List the indexed reviews with their metadata and work."""
    found = service.reviews()
    if as_json:
        _print_json([review_as_dict(r) for r in found])
        return
    for review in found:
        rating = f" — {review.rating.display()}" if review.rating else ""
        by = f" — {review.author}" if review.author else ""
        work = review.work.label() if review.work else "?"
        attached = (
            f" [attached, confidence {review.attached_by.confidence}]" if review.attached_by else ""
        )
        _echo(f"{review.review_id}: {work}{rating}{by}{attached}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_service
def works(service: ReviewService, as_json: bool) -> None:
    """List the works with their review counts, ratings, positive share and consensus line."""
    summaries = service.work_opinions()
    if as_json:
        _print_json([{**s.as_dict(), "opinion": o.as_dict()} for s, o in summaries])
        return
    for summary, opinion in summaries:
        average = summary.average_rating
        rating = f", average rating {average:.0%}" if average is not None else ""
        count = len(summary.reviews)
        _echo(f"{summary.work.label()}: {count} review{'s' * (count != 1)}{rating}")
        _echo(f"  {summary_line(opinion)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_service
def stats(service: ReviewService, as_json: bool) -> None:
    """Show reviews, works, chunks, languages, embedder, store and the last index time."""
    figures = service.stats()
    if as_json:
        _print_json(figures)
        return
    for key, value in figures.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        _echo(f"{key.replace('_', ' ')}: {value if value is not None else '—'}")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--debounce", default=1500, show_default=True, help="Milliseconds to wait.")
@click.option("--allow-empty", is_flag=True, help=_ALLOW_EMPTY_HELP)
@pass_service
def watch(
    service: ReviewService, paths: tuple[Path, ...], debounce: int, allow_empty: bool
) -> None:
    """Index, then re-index whenever review files are added, changed or deleted."""
    from watchfiles import watch as watch_files

    targets = list(paths) or [service.settings.reviews_dir]
    _index_and_report(service, targets, allow_empty=allow_empty)
    _echo(f"watching {', '.join(map(str, targets))} (Ctrl-C to stop)")
    for _changes in watch_files(*targets, debounce=debounce, raise_interrupt=False):
        _index_and_report(service, targets, allow_empty=allow_empty)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--k", "k", type=click.IntRange(1, 50), default=None, help="Passages to draw on.")
@pass_service
def ask(service: ReviewService, question: str, as_json: bool, k: int | None) -> None:
    """Answer QUESTION from the reviews, with numbered sources.

    With an LLM configured the answer appears as it is written.
    """
    if as_json:
        _print_json(service.ask(question, k=k).as_dict())
    else:
        _stream_answer(service, question, conversation=None, k=k)


@cli.command()
@pass_service
def chat(service: ReviewService) -> None:
    """Ask one question after another; follow-ups keep their subject.

    /reset forgets the conversation, /quit ends it.
    """
    conversation = Conversation()
    if isinstance(sys.stdin, io.TextIOWrapper):
        # A terminal that is not UTF-8 sends bytes clean_question repairs, rather than an error.
        sys.stdin.reconfigure(errors="surrogateescape")
    while True:
        try:
            question = click.prompt("?", prompt_suffix=" ", default="", show_default=False)
        except (EOFError, click.exceptions.Abort):
            _echo()
            return
        question = question.strip()
        if question in {"/quit", "/exit"}:
            return
        if question == "/reset":
            conversation.reset()
            _echo("(forgotten)")
            continue
        if not question:
            continue
        try:
            _stream_answer(service, question, conversation=conversation, k=None)
        except QuestionError as error:  # the next one may be fine; other errors end the chat
            _echo(f"error: {error}", err=True)


def _stream_answer(
    service: ReviewService, question: str, *, conversation: Conversation | None, k: int | None
) -> None:
    """Print an LLM's text as it comes, then the checked answer and its sources."""
    streamed: list[str] = []
    for item in service.ask_stream(question, conversation=conversation, k=k):
        if isinstance(item, Answer):
            if streamed:
                _echo("\n")
                if "".join(streamed).strip() == item.answer.strip():
                    _echo_sources(item)
                    return
                _echo("(checked answer:)", err=True)
            _echo_answer(item)
        else:
            streamed.append(item)
            _echo(item, nl=False)


def _echo_answer(answer: Answer) -> None:
    _echo(answer.answer)
    _echo_sources(answer)


def _echo_sources(answer: Answer) -> None:
    if answer.note:
        _echo(f"({answer.note})", err=True)
    if answer.sources:
        _echo()
    for source in answer.sources:
        by = ", ".join(x for x in (source.author, source.source) if x)
        quote = f": „{source.quote}“" if source.quote and answer.kind == "passages" else ""
        if not quote and source.fact:
            quote = f": {source.fact} (from the review's metadata)"
        _echo(f"[{source.n}] {source.work}{f' — {by}' if by else ''} ({source.review_id}){quote}")


@cli.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="Sources counted for recall and MRR.",
)
@click.option(
    "--split",
    type=click.Choice(["dev", "test", "all"]),
    default="test",
    show_default=True,
    help="The split the --min-* floors apply to and --show-failures lists (tune on dev).",
)
@click.option("--min-accuracy", type=float, default=0.0, help="Fail below this answer accuracy.")
@click.option("--min-recall", type=float, default=0.0, help="Fail below this recall@k.")
@click.option("--min-refusal", type=float, default=0.0, help="Fail below this refusal accuracy.")
@click.option(
    "--max-language-gap",
    type=float,
    default=1.0,
    help="Fail when accuracy between languages differs by more than this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--show-failures", is_flag=True, help="List every question answered wrongly.")
@pass_service
def evaluate_gold(
    service: ReviewService,
    gold: Path,
    k: int,
    split: str,
    min_accuracy: float,
    min_recall: float,
    min_refusal: float,
    max_language_gap: float,
    as_json: bool,
    show_failures: bool,
) -> None:
    """Run the gold questions in GOLD (JSONL) and report recall@k, MRR, accuracy, refusals,
    for the dev and the test split side by side.

    A question without a split counts as test. Exits 1 when a --min-* threshold is not met
    on the chosen split, or a quote is not verbatim.
    """
    from bot.evaluation import evaluate, load_gold

    items = load_gold(gold)
    passages: dict[str, list[str]] = {}
    for chunk in service.search.chunks().values():
        passages.setdefault(chunk.review_id, []).append(chunk.text)
    report = evaluate(
        items,
        lambda q, conversation: service.ask(q, conversation=conversation),
        lambda review_id: passages.get(review_id, []),
        k=k,
    )
    problems = _eval_problems(
        report.splits.get(split),
        split=split,
        k=k,
        floors=(min_accuracy, min_recall, min_refusal, max_language_gap),
    )
    quote_failures = report.splits["all"].overall.quote_failures
    if quote_failures:
        problems.append(f"{quote_failures} quotes not verbatim")
    failures = report.failures(split)
    if as_json:
        _print_json(
            {
                "k": k,
                "split": split,
                "splits": {name: b.as_dict() for name, b in report.splits.items()},
                "failures": [o.item.id for o in failures],
                "problems": problems,
            }
        )
    else:
        _echo_eval_table(report.splits, k=k)
        if show_failures:
            for outcome in failures:
                _echo(
                    f"✗ {outcome.item.id} [{outcome.item.kind}] {outcome.item.question}\n"
                    f"    → {outcome.answer.status}: {outcome.answer.answer[:300]!r}"
                )
        for problem in problems:
            _echo(f"FAILED ({split}): {problem}", err=True)
    if problems:
        sys.exit(EXIT_ERROR)


def _eval_problems(
    breakdown: Breakdown | None, *, split: str, k: int, floors: tuple[float, float, float, float]
) -> list[str]:
    """The floors the chosen split misses, one line each."""
    if breakdown is None:
        return [f"the gold set has no {split} questions"]
    min_accuracy, min_recall, min_refusal, max_language_gap = floors
    overall, gap = breakdown.overall, breakdown.language_gap()
    checks = (
        (f"accuracy {overall.accuracy} < {min_accuracy}", overall.accuracy < min_accuracy),
        (f"recall@{k} {overall.recall} < {min_recall}", overall.recall < min_recall),
        (
            f"refusal {overall.refusal} < {min_refusal}",
            overall.refusal is not None and overall.refusal < min_refusal,
        ),
        (f"language gap {gap:.3f} > {max_language_gap}", gap > max_language_gap),
    )
    return [problem for problem, failed in checks if failed]


def _echo_eval_table(splits: dict[str, Breakdown], *, k: int) -> None:
    """One row per group (all, each language, each kind), the splits side by side."""
    shown: list[str] = [name for name in ("dev", "test") if name in splits] or ["all"]
    columns = f"{'n':>4}{f'recall@{k}':>10}{'MRR':>6}{'accuracy':>9}{'refusal':>8}"
    _echo(f"{'':<14}" + " │".join(f"{name:^37}" for name in shown))
    _echo(f"{'group':<14}" + " │".join(columns for _ in shown))
    everything = splits["all"]
    groups = ["all", *everything.by_language, *everything.by_kind]
    for group in groups:
        cells = []
        for name in shown:
            breakdown = splits[name]
            scores = (
                breakdown.overall
                if group == "all"
                else breakdown.by_language.get(group) or breakdown.by_kind.get(group)
            )
            if scores is None:
                cells.append(f"{'-':>4}{'':>33}")
                continue
            refusal = "-" if scores.refusal is None else f"{scores.refusal:.2f}"
            cells.append(
                f"{scores.questions:>4}{scores.recall:>10.2f}{scores.mrr:>6.2f}"
                f"{scores.accuracy:>9.2f}{refusal:>8}"
            )
        _echo(f"{group:<14}" + " │".join(cells))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_service
def feedback(service: ReviewService, as_json: bool) -> None:
    """List the 👍 / 👎 given to the bot's answers in Telegram, oldest first."""
    from bot.feedback import export_feedback, feedback_json

    rows = export_feedback(service.settings.data_dir)
    if as_json:
        _echo(feedback_json(rows))
        return
    if not rows:
        _echo("no answer has been rated yet")
    for row in rows:
        _echo(f"{row.at} {row.rating}: {row.question}")
        first_line = row.answer.strip().splitlines()[0] if row.answer.strip() else ""
        _echo(f"  → {first_line}")


@cli.command()
@click.pass_obj
def telegram(launch: _Launch) -> None:
    """Run the Telegram bot.

    Long polling, or a webhook when REVIEWBOT_TELEGRAM_WEBHOOK_URL is set.
    """
    from bot.telegram import run_bot

    run_bot(launch.started_service(), redactor=launch.redactor)


def _index_and_report(service: ReviewService, targets: list[Path], *, allow_empty: bool) -> None:
    try:
        report = service.index(targets, allow_empty=allow_empty)
    except ReviewbotError as error:
        _echo(f"error: {error}", err=True)
        return
    _echo_report(report, tuple(targets))


def main(argv: list[str] | None = None, *, service: ReviewService | None = None) -> None:
    """Run the CLI; every error becomes one line on stderr and an exit code (see --help),
    its traceback goes to the log (-v), secrets masked in both.

    ``service`` replaces the one built from the environment (tests pass theirs).
    """
    launch = _Launch(Redactor(), service)
    run: Callable[..., Any] = cli.main
    try:
        run(args=argv, prog_name="reviewbot", standalone_mode=False, obj=launch)
    except click.exceptions.Abort:
        _fail(launch.redactor, "interrupted", EXIT_INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (ConfigurationError, QuestionError) as error:
        _fail(launch.redactor, str(error), EXIT_USAGE)
    except ReviewbotError as error:
        _fail(launch.redactor, str(error), EXIT_ERROR)
    except Exception as error:
        if type(error).__module__.split(".")[0] in _STORE_LIBRARIES:
            _fail(launch.redactor, _store_failure(error, launch.service), EXIT_ERROR)
        if isinstance(error, OSError):
            _fail(launch.redactor, str(error), EXIT_ERROR)
        message = f"unexpected {type(error).__name__}: {error}"
        _fail(launch.redactor, message, EXIT_UNEXPECTED, traceback_level=logging.INFO)


def _store_failure(error: Exception, service: ReviewService | None) -> str:
    settings = service.settings if service else None
    where = (settings.chroma_url or str(settings.data_dir)) if settings else "?"
    return f"the Chroma store at {where} failed: {type(error).__name__}: {error}"


def _fail(
    redactor: Redactor, message: str, code: int, *, traceback_level: int = logging.DEBUG
) -> None:
    """Log the traceback (-vv shows it; -v too for unexpected errors), print ``message`` as
    one line, exit with ``code``."""
    log.log(traceback_level, "the command failed", exc_info=True)
    first_line = " ".join(redactor.redact(message).split()) or "failed"
    _echo(f"error: {first_line}", err=True)
    sys.exit(code)
