"""`digest`: the command line, a thin layer over the flow and the stages.

Prefect, sumy and the stages are imported inside the commands, so that `digest --help` and a
mistyped option answer at once instead of after ~5 s of imports."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import click
import typer
from typer.core import TyperGroup

from flows.paths import DEFAULT_CONFIG
from tasks.errors import DigestError


class Commands(TyperGroup):
    """Every command: a DigestError (tasks/errors.py) it does not handle itself is one line on standard error
    and exit status 1; anything else is a bug, raised with its traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            _warn(str(exc))
            raise typer.Exit(1) from None


# A traceback without the locals of every frame: they hold the settings, SMTP password and all.
app = typer.Typer(
    cls=Commands,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Dispatch Digest: daily, attributed news digests.",
)
# Help texts are Rich markup: a literal "[" is written "\\[" ("[[schedules]]" showed as "[]"); tests/test_cli.py reads them all.


def _day(value: str | None):
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


StoreOption = Annotated[str | None, typer.Option("--store", help="Store URL (env DIGEST_STORE_URL).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder of the default SQLite store (env DIGEST_DATA_DIR).")
]
ConfigOption = Annotated[Path, typer.Option(help="TOML settings file.")]


def _store_environment(store: str | None, data_dir: Path | None) -> None:
    """Command-line store options win over the environment and the file (see flows.settings.ENVIRONMENT)."""
    if store:
        os.environ["DIGEST_STORE_URL"] = store
    if data_dir:
        os.environ["DIGEST_DATA_DIR"] = str(data_dir)


def _warn(message: str) -> None:
    """A line on standard error. It may name a file or quote a page: their control characters (a terminal
    escape code, a line break) are shown as escapes (\\x1b), not obeyed."""
    from tasks.render import visible

    typer.echo(visible(message), err=True)


def _exit_on_problems(problems: list[str]) -> None:
    """A bad configuration stops a command before any work: one line per problem, exit status 2."""
    if problems:
        typer.echo("Configuration error", err=True)
        for problem in problems:
            _warn(problem)
        raise typer.Exit(2)


def _check_summary_options(sentences: int | None, words: int | None, algorithm: str | None) -> None:
    """The run's summary options checked as the flow will check them, so that a bad one is a usage error
    here, not a validation error out of the running flow. None given, nothing is imported (summarising's
    modules take ~2 s to load, which would delay the temporary Prefect server's start)."""
    given = {"sentences": sentences, "words": words, "algorithm": algorithm}
    if all(value is None for value in given.values()):
        return
    from pydantic import ValidationError

    from tasks.summarise import SummaryOptions

    try:
        SummaryOptions.model_validate({key: value for key, value in given.items() if value is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise typer.BadParameter(error["msg"], param_hint=f"'--{error['loc'][0]}'") from None


def _check_config(config: Path, **options) -> None:
    from flows.check import check_config

    _exit_on_problems(check_config(config, **options))


@contextmanager
def _opened_store(config: Path, store: str | None, data_dir: Path | None):
    """The configured store; a bad configuration or store (unreachable, damaged, busy) is one line
    on standard error and exit status 2, not a traceback."""
    from flows.settings import ConfigError, load_settings
    from tasks.store import Store, StoreError

    _store_environment(store, data_dir)
    try:
        settings = load_settings(config)
        opened = Store.open(settings.digest.database_url, lock_wait=settings.digest.lock_wait)
        try:
            yield opened, settings
        finally:
            opened.close()
    except (ConfigError, StoreError) as exc:
        _warn(str(exc))
        raise typer.Exit(2) from None


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="TOML settings file.")] = DEFAULT_CONFIG,
    date: Annotated[str | None, typer.Option(help="Digest date, YYYY-MM-DD (default: today).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the config's digest.out_dir).")] = None,
    sentences: Annotated[int | None, typer.Option(min=1, help="Sentences per story.")] = None,
    words: Annotated[int | None, typer.Option(min=5, help="Word budget per story, instead of sentences.")] = None,
    algorithm: Annotated[str | None, typer.Option(help="Summariser: news, lead, lexrank, textrank, lsa, ...")] = None,
    sources: Annotated[
        Path | None, typer.Option(help="Sources file (TOML or JSON with a `sources` list) for this run.")
    ] = None,
    url: Annotated[
        list[str] | None, typer.Option(help="Feed, sitemap or article URL for this run (repeatable).")
    ] = None,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    email: Annotated[
        bool, typer.Option("--email/--no-email", help="Email the digest to recipients who do not have it yet.")
    ] = True,
    resend: Annotated[bool, typer.Option("--resend", help="Email it again to every recipient.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the date's stored digest even by one with fewer stories.")
    ] = False,
    new_store: Annotated[
        bool, typer.Option("--new-store", help="Take an existing empty SQLite file as a new store.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors (cron, CI).")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also print each source and every line the flow logs.")
    ] = False,
) -> None:
    """Run the daily-digest flow once, showing each stage, and print where the digest was written."""
    if quiet and verbose:
        raise typer.BadParameter("give --quiet or --verbose, not both")
    _check_summary_options(sentences, words, algorithm)
    day = _day(date)
    _store_environment(store, data_dir)
    from flows.prefect_api import ApiUnreachable, TemporaryServer, choose_api, using

    try:  # PREFECT_API_URL, else a server already running on the local port, else a temporary one
        api = choose_api(temporary_allowed=True)
    except ApiUnreachable as exc:
        _warn(str(exc))
        raise typer.Exit(1) from None
    with ExitStack() as stack:
        # Started first: the server readies itself (~7 s) while the config is checked and the flow's modules
        # load (~5 s); a config with problems stops it at once.
        server = None if api.url else stack.enter_context(TemporaryServer(api.origin))
        api = server.api if server else api
        run_sources = _checked_sources(config, out, sources, url)
        from rich.console import Console

        from flows.daily_digest import run_daily_digest
        from flows.progress import RunProgress, quiet_prefect_console

        quiet_prefect_console()
        console = Console()
        progress = nullcontext() if quiet else RunProgress(console, verbose, api.describe())
        with using(api), progress:
            try:
                if server:
                    server.ready()
                result = run_daily_digest(
                    date=day,
                    config_path=str(config),
                    sources=run_sources or None,
                    out_dir=str(out) if out else None,
                    sentences=sentences,
                    words=words,
                    algorithm=algorithm,
                    email=email,
                    resend=resend,
                    replace=replace,
                    new_store=new_store,
                )
            except DigestError as exc:  # anything else is a bug: its traceback is shown
                _warn(f"Run failed: {exc}")
                raise typer.Exit(1) from None
        if not quiet:
            _print_run(console, progress, result)


def _checked_sources(config: Path, out: Path | None, sources: Path | None, urls: list[str] | None) -> list:
    """The run's own sources (`--sources`, `--url`), once the config checks out; its problems end the command."""
    _check_config(config, out_dir=out, sources_now=False)  # before the flow starts
    from flows.settings import ConfigError, load_sources
    from tasks.sources import SourceSpec

    try:
        run_sources = load_sources(sources) if sources else []
    except ConfigError as exc:
        _exit_on_problems(exc.problems)
    return run_sources + [SourceSpec(name=urlsplit(u).netloc or u, kind="auto", url=u) for u in urls or []]


def _print_run(console, progress, result: dict) -> None:
    console.print(progress.summary())
    if not result["written"]:
        typer.echo(
            f"the digest stored for {result['date']} has more stories than this run made: kept it "
            "(--replace replaces it)"
        )
    from tasks.render import plural

    typer.echo(
        f"{plural(result['stories'], 'story', 'stories')} for {result['date']}; "
        f"{plural(result['failures'], 'failure')}; {progress.elapsed:.1f} s"
    )
    for path in result["paths"]:
        typer.echo(path)


Input = Annotated[Path | None, typer.Option("--input", "-i", help="JSON lines in (default: standard input).")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="JSON lines out (default: standard output).")]


def _stage(lines) -> None:
    """Run a stage command, turning bad input into a one-line error and exit status 2."""
    from flows.stages import InputError, write_lines

    try:
        write_lines(*lines)
    except (InputError, OSError) as exc:
        _warn(f"Input error: {exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Serve the daily-digest deployments of the config's \\[\\[schedules]] (needs a Prefect API, see docs/operations.md)."""
    _check_config(config, sources_now=False)
    from flows.prefect_api import ApiUnreachable, choose_api, using
    from flows.serve import serve_config
    from flows.settings import load_settings

    settings = load_settings(config)
    try:  # a temporary server would serve runs nobody sees
        api = choose_api(temporary_allowed=False)
    except ApiUnreachable as exc:
        _warn(str(exc))
        raise typer.Exit(1) from None
    typer.echo(f"Prefect API: {api.describe()}")
    for schedule in settings.schedules:
        typer.echo(f"daily-digest/{schedule.name}: '{schedule.cron}' in {schedule.timezone}")
    with using(api):
        serve_config(settings, config)


@app.command()
def check(
    config: ConfigOption = DEFAULT_CONFIG,
    offline: Annotated[bool, typer.Option(help="Do not try the sources' URLs.")] = False,
    smtp: Annotated[bool, typer.Option(help="Connect to the SMTP server and say EHLO (no login, no message).")] = False,
) -> None:
    """Validate the configuration without running: one line per problem with its key and the fix."""
    _check_config(config, offline=offline, smtp=smtp)
    tried = "; URLs not tried (--offline)" if offline else ""
    typer.echo(f"{config}: no problems found{tried}")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Where to write config/digest.toml (and samples/).")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing config/digest.toml.")] = False,
) -> None:
    """Write a commented starter configuration: the sample dispatches, example feeds, a daily schedule."""
    from flows.starter import StarterExists, write_starter

    try:
        written = write_starter(folder, force)
    except StarterExists as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: cd {folder} && digest check && digest run")


sources_app = typer.Typer(no_args_is_help=True, help="The config's sources.")
app.add_typer(sources_app, name="sources")


@sources_app.command("import")
def import_sources(
    opml: Annotated[Path, typer.Argument(metavar="FILE", help="An OPML subscription list (feeds.opml).")],
    config: ConfigOption = DEFAULT_CONFIG,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be added; write nothing.")] = False,
) -> None:
    """Append the OPML's feeds to the config as \\[\\[sources]] (kind = "feed"), keeping its text and comments;
    feeds it has already are skipped."""
    from flows.opml import OpmlError, import_feeds, write_config
    from flows.settings import ConfigError
    from tasks.render import plural, visible

    try:
        imported = import_feeds(config, opml)
        if not imported.added and not imported.skipped:
            _warn(f"{opml}: no feed in it (no outline has an xmlUrl)")
            raise typer.Exit(1)
        if imported.added and not dry_run:
            write_config(config, imported.text)
    except OpmlError as exc:
        _warn(str(exc))
        raise typer.Exit(2) from None
    except ConfigError as exc:
        _exit_on_problems(exc.problems)
    except OSError as exc:
        _warn(f"{config}: cannot be written: {exc.strerror or exc}")
        raise typer.Exit(1) from None
    verb = "would add" if dry_run else "added"
    for feed in imported.added:
        typer.echo(visible(f'{verb} "{feed.name}" {feed.url}'))
    for feed, why in imported.skipped:
        typer.echo(visible(f'skipped "{feed.name}" {feed.url}: {why}'))
    skipped = f"; {plural(len(imported.skipped), 'feed')} skipped" if imported.skipped else ""
    if dry_run:
        typer.echo(f"{plural(len(imported.added), 'feed')} to add to {config}{skipped}; nothing written (--dry-run)")
    else:
        typer.echo(f"{plural(len(imported.added), 'feed')} added to {config}{skipped}")


@app.command()
def extract(input: Input = None, output: Output = None) -> None:
    """HTML to text: lines {"id", "html", "url"?} -> {"id", "text", "title", "published", "language"}."""
    from flows.stages import extract as run_extract, read_lines
    from tasks.clean import CleaningRules

    _stage((run_extract(read_lines(input), CleaningRules()), output))


@app.command()
def dedup(input: Input = None, output: Output = None) -> None:
    """Lines {"id", "text"} (one run) -> {"id", "text", "duplicate_of"?, "removed": [...]}."""
    from flows.stages import dedup as run_dedup, read_lines
    from tasks.dedup import DedupOptions

    _stage((run_dedup(read_lines(input), DedupOptions()), output))


@app.command()
def cluster(input: Input = None, output: Output = None) -> None:
    """Lines {"id", "text", "title"?, "published"?} -> one line a story {"story", "ids", "headline"}."""
    from flows.stages import cluster_lines, read_lines
    from tasks.cluster import ClusterOptions

    _stage((cluster_lines(read_lines(input), ClusterOptions()), output))


@app.command()
def summarise(
    files: Annotated[
        list[Path] | None, typer.Argument(exists=True, dir_okay=False, help="Dispatch files: one story.")
    ] = None,
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help='Batch: JSON lines {"id", "docs", "lang"?, "sentences"? | "words"?}; - for standard input.',
        ),
    ] = None,
    output: Output = None,
    sentences: Annotated[int | None, typer.Option(min=1, help="Sentences in the summary (default 4).")] = None,
    words: Annotated[int | None, typer.Option(min=5, help="Word budget instead of sentences.")] = None,
    language: Annotated[str, typer.Option(help="auto, fr or en.")] = "auto",
    algorithm: Annotated[str, typer.Option(help="Summariser name.")] = "news",
) -> None:
    """Print the summary of one story made of FILES, one sentence a line; or summarise a batch (--input)."""
    if sentences is not None and words is not None:
        raise typer.BadParameter("give --sentences or --words, not both")
    if input is not None:
        from flows.stages import read_lines, summarise_lines

        _stage((summarise_lines(read_lines(input), algorithm), output))
        return
    if not files:
        raise typer.BadParameter("give FILES, or --input for a batch")
    from tasks.clean import CleaningRules, clean
    from tasks.dedup import DedupOptions, dedup_within
    from tasks.sources import load_file
    from tasks.summarise import SummaryOptions, summarise_dispatches

    rules = CleaningRules() if language == "auto" else CleaningRules(languages=(language,), default_language=language)
    dispatches = []
    for path in files:
        for raw in load_file(path, path.stem):
            dispatch, _, failure = clean(raw, rules)
            if failure:
                _warn(f"{failure.location}: {failure.reason}")
            else:
                dispatches.append(dedup_within(dispatch, DedupOptions())[0])
    if not dispatches:
        raise typer.Exit(1)
    options = SummaryOptions(algorithm=algorithm, sentences=sentences or 4, words=words)
    lang = None if language == "auto" else language
    for text, _, _ in summarise_dispatches(dispatches, options, lang):
        typer.echo(text)


@app.command()
def history(
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Runs to show.")] = 20,
) -> None:
    """Recent runs and the digests they wrote."""
    from rich import box
    from rich.console import Console
    from rich.table import Column, Table

    # Readable at 80 columns: one space between columns, and a time goes under its date rather than cut it.
    def count(header: str) -> Column:
        return Column(header, justify="right", no_wrap=True)

    table = Table(
        count("run"),
        Column("date", no_wrap=True),
        Column("started (UTC)", min_width=10),
        "status",
        count("read"),
        count("kept"),
        count("stories"),
        count("failures"),
        Column("digest written", min_width=10),
        box=box.SIMPLE_HEAD,
        padding=0,
    )
    with _opened_store(config, store, data_dir) as (opened, _):
        rows = opened.history(limit)
    for row in rows:
        failures = len(json.loads(row["failures"]))
        written = f"{row['written_at']:%Y-%m-%d %H:%M}" if row["written_at"] else "-"
        table.add_row(
            str(row["id"]),
            str(row["day"]),
            f"{row['started_at']:%Y-%m-%d %H:%M:%S}",
            row["status"],
            str(row["dispatches_read"]),
            str(row["dispatches_kept"]),
            str(row["stories"]),
            str(failures),
            written,
        )
    Console().print(table)


@app.command()
def forget(
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
    date: Annotated[str | None, typer.Option(help="Forget this day: its dispatches, digest and deliveries.")] = None,
    source: Annotated[str | None, typer.Option(help="Forget every dispatch of this outlet.")] = None,
) -> None:
    """Reset state so a day (or a source) can be rebuilt from scratch."""
    if not date and not source:
        raise typer.BadParameter("give --date, --source or both")
    day = _day(date)
    with _opened_store(config, store, data_dir) as (opened, settings):
        counts = opened.forget(day, source, wait=settings.digest.lock_wait)
    from tasks.render import plural

    singular = {"dispatches": "dispatch", "digests": "digest", "deliveries": "delivery"}
    typer.echo(", ".join(plural(n, singular.get(what, what), what) for what, n in counts.items()) + " forgotten")


@app.command()
def export(
    date: Annotated[str, typer.Option(help="The digest's date, YYYY-MM-DD.")],
    config: ConfigOption = DEFAULT_CONFIG,
    store: StoreOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the stored digest of a date as JSON."""
    day = _day(date)
    with _opened_store(config, store, data_dir) as (opened, _):
        content = opened.digest(day)
    if content is None:
        typer.echo(f"no digest stored for {date}", err=True)
        raise typer.Exit(1)
    typer.echo(content, nl=False)


if __name__ == "__main__":
    app()
