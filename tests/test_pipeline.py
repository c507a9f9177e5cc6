"""The flow's structure (issue 22): Prefect only in tasks/prefect_tasks.py, every task by one rule, the Prefect
API the flow leans on where a new Prefect would break it, the run bookkeeping as a context manager."""

import subprocess
import sys
from datetime import date

import pytest

from tasks.models import Failure, RunReport
from tasks.store import Store, store_url
from tests.conftest import ROOT

DAY = date(2026, 11, 27)
# What the extraction and summarising workers import, and every other stage module.
STAGE_MODULES = sorted(
    f"tasks.{p.stem}" for p in (ROOT / "tasks").glob("*.py") if p.stem not in {"__init__", "prefect_tasks"}
)
# name -> (the plain function, retries): the task names the flow's runs have always shown.
TASKS = {
    "read_source": ("read-source", "read_source", 1),
    "clean": ("clean", "Cleaner.results", 0),
    "dedup": ("dedup", "dedup_across", 0),
    "history": ("history", "dedup_history", 0),
    "cluster": ("cluster", "cluster", 0),
    "shared_paragraphs": ("shared-paragraphs", "shared_in_stories", 0),
    "summarise": ("summarise", "summarise_batch", 0),
    "summarise_on_cluster": ("summarise", "summarise_spread", 0),
    "render": ("render", "render", 0),
    "write_digest": ("write-digest", "write_digest", 0),
    "write_archive": ("write-archive", "write_archive", 0),
    "send_emails": ("send-emails", "not_sent", 0),
}


def test_the_stage_modules_do_not_import_prefect():
    """Worker processes import the stages: Prefect would cost each ~2 s and ~50 MB."""
    assert "tasks.clean" in STAGE_MODULES and "tasks.summarise" in STAGE_MODULES
    program = (
        f"import sys\nimport {', '.join(STAGE_MODULES)}\n"
        "print(sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"a stage module imports Prefect: {run.stdout}"


def test_every_task_is_declared_by_the_one_rule():
    from prefect import Task
    from prefect.cache_policies import NO_CACHE

    from tasks import prefect_tasks

    declared = {name: value for name, value in vars(prefect_tasks).items() if isinstance(value, Task)}
    assert set(declared) == set(TASKS)
    for name, made in declared.items():
        task_name, function, retries = TASKS[name]
        assert (made.name, made.fn.__qualname__, made.retries) == (task_name, function, retries), name
        assert made.cache_policy is NO_CACHE, name
    assert prefect_tasks.read_source.retry_delay_seconds == 2


def test_the_private_prefect_api_the_flow_uses_is_where_it_was():
    """tasks/compat.py's Prefect section: one sync client for every task run of a flow run. When this fails,
    a new Prefect moved or changed `SyncClientContext`: find its successor before the flow pays ~50 ms a task."""
    import inspect

    from prefect.client.orchestration import get_client
    from prefect.context import SyncClientContext

    assert callable(SyncClientContext.get_or_create) and hasattr(SyncClientContext, "get")
    assert "SyncClientContext" in inspect.getsource(get_client), "get_client no longer reuses the context's client"


@pytest.mark.prefect
def test_one_sync_client_serves_every_task_run(prefect_api):
    from prefect import get_client

    from tasks.compat import prefect_sync_client

    with prefect_sync_client() as context:
        assert get_client(sync_client=True) is context.client is get_client(sync_client=True)
        with prefect_sync_client() as again:
            assert again is context


def test_a_run_is_recorded_failed_when_anything_raises_and_finished_with_its_counts_otherwise(tmp_path):
    store = Store.open(store_url(tmp_path / "data"))
    failure = Failure("feed", "https://x.example/feed", "HTTP 404")
    with store.run(DAY) as record:
        assert store.history()[0]["status"] == "running"
        record.finish("kept stored", RunReport(6, 5, [failure]), 4)
    with pytest.raises(KeyboardInterrupt), store.run(DAY) as record:
        record.finish("completed", RunReport(6, 5), 4)
        raise KeyboardInterrupt
    failed, kept = store.history()
    assert (failed["status"], failed["dispatches_read"], failed["stories"]) == ("failed", 0, 0)
    assert (kept["status"], kept["dispatches_read"], kept["dispatches_kept"], kept["stories"]) == (
        "kept stored",
        6,
        5,
        4,
    )
    assert "HTTP 404" in kept["failures"] and kept["finished_at"] is not None
    store.close()


def test_the_run_report_is_built_once():
    report = RunReport(3, 2, removals=[])
    with pytest.raises(AttributeError):
        report.dispatches_kept = 1  # type: ignore[misc]


def test_the_flow_reads_like_its_stages(tmp_path):
    """`daily_digest` is the pipeline: each stage a call, in the order the module's docstring gives."""
    import ast

    source = (ROOT / "flows" / "daily_digest.py").read_text(encoding="utf-8")
    [flow] = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "daily_digest"
    ]
    calls = sorted(
        (node.lineno, node.col_offset, node.func.id)
        for node in ast.walk(flow)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    )
    called = [name for _, _, name in calls]
    stages = [
        "read_sources",
        "clean",
        "dedup",
        "history",
        "cluster",
        "summarise",
        "render",
        "write",
        "store_digest",
        "deliver",
    ]
    assert [name for name in called if name in stages] == stages
    body = flow.body[1:]  # after the docstring
    assert body[-1].end_lineno - body[0].lineno + 1 <= 30
    assert "BaseException" not in ast.get_source_segment(source, flow)
