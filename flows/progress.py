"""What `digest run` shows while it runs: a Rich display driven by the flow's own log records.

The flow logs one line per stage through Prefect's run logger with `stage` in `extra`
(flows/daily_digest.py), so the Prefect UI shows the same lines; this module only listens.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from prefect.logging.handlers import PrefectConsoleHandler
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from tasks.compat import task_finished  # the wording of Prefect's line, pinned there
from tasks.render import visible

# (stage record that ends the row, row label), in flow order; the first record arrives once Prefect is up.
ROWS = (
    ("sources", "Prefect API"),
    ("read", "Sources"),
    ("clean", "Cleaning"),
    ("dedup", "Duplicates"),
    ("cluster", "Stories"),
    ("summarise", "Summaries"),
    ("write", "Files"),
)
STAGES = [key for key, _ in ROWS]
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
SILENT = logging.CRITICAL + 1


@dataclass
class StageDone:
    label: str
    result: str
    seconds: float


class RunProgress(logging.Handler):
    """A row per stage: spinner, counts, elapsed time; then a summary table of the stages."""

    def __init__(self, console: Console, verbose: bool, api: str = "ready"):
        """`api` says which Prefect API the run uses: the first row's result from the start."""
        super().__init__(logging.INFO)
        self.console, self.verbose, self.api = console, verbose, api
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}", table_column=Column(min_width=12, no_wrap=True)),
            TextColumn(
                "{task.fields[result]}",
                style="dim",
                markup=False,
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            expand=True,
        )  # the summary table replaces it
        self.done: list[StageDone] = []
        self.row: TaskID | None = None
        self.started = self.row_started = time.monotonic()
        self.sources = (0, 0)  # (read, total)

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:  # in a log file, the summary table alone says it all
            self.progress.start()
        self._start_row()
        for name in RUN_LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        for name in RUN_LOGGERS:
            logging.getLogger(name).removeHandler(self)
        self.progress.stop()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._show(record)
        except Exception:
            self.handleError(record)

    def _show(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            return  # Prefect's records of a failed task or run: `digest run` prints the run's error once
        stage = getattr(record, "stage", None)
        # Messages name files, URLs and outlets: shown as text, never as Rich markup or terminal escape codes.
        message = visible(record.getMessage())
        if record.levelno >= logging.WARNING:  # a task's too: an email retry is said as it is decided
            self.console.print(Text(message, style="yellow"))
        elif record.name == "prefect.task_runs":
            self._count_source(record)
        elif stage in STAGES:
            # The first stage record says Prefect is up; its own message is about the next row.
            self._end_rows(stage, self.api if stage == STAGES[0] else message, getattr(record, "total", None))
        elif self.verbose:
            self.console.print(Text(f"  {message}", style="dim"))

    def _count_source(self, record: logging.LogRecord) -> None:
        # Prefect's own line when a task ends: sources are read concurrently, so this is the live x/y.
        if getattr(record, "task_name", None) == "read-source" and task_finished(record.getMessage()):
            self.sources = (self.sources[0] + 1, self.sources[1])
            self._describe_sources()

    def _end_rows(self, stage: str, result: str, total: int | None) -> None:
        """End every row up to the stage's own (one whose record never came ends with it), start the next."""
        position = STAGES.index(stage)
        while len(self.done) <= position:
            self._end_row(result if len(self.done) == position else "-")
        if total is not None:
            self.sources = (0, total)
        self._start_row()

    def _end_row(self, result: str) -> None:
        now = time.monotonic()
        self.progress.update(self.row, completed=1, result=result)
        self.done.append(StageDone(ROWS[len(self.done)][1], result, now - self.row_started))
        self.row_started = now

    def _start_row(self) -> None:
        if len(self.done) < len(ROWS):
            self.row = self.progress.add_task(
                ROWS[len(self.done)][1], total=1, result=self.api if not self.done else ""
            )
            if STAGES[len(self.done)] == "read":
                self._describe_sources()

    def _describe_sources(self) -> None:
        read, total = self.sources
        self.progress.update(self.row, result=f"{min(read, total)}/{total} read")

    def summary(self) -> Table:
        table = Table("stage", "result", "time")
        for stage in self.done:
            table.add_row(stage.label, Text(stage.result), f"{stage.seconds:.1f} s")
        return table

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def quiet_prefect_console() -> None:
    """Prefect's own console lines (server start and stop, every task's state) give way to the display,
    until the process ends (the temporary server stops at exit). An explicit PREFECT_LOGGING_LEVEL is the
    user's choice and is left alone."""
    if "PREFECT_LOGGING_LEVEL" in os.environ:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(SILENT)
