"""The documentation, checked as CI checks the code: links that lead somewhere, every configuration
key documented, a README that stays short (issue 22)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.conftest import ROOT

README_LIMIT = 12 * 1024
CONFIGURATION = ROOT / "docs" / "configuration.md"
FENCE = re.compile(r"^ {0,3}(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"""<a\s[^>]*(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def documents() -> list[Path]:
    return [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "bench" / "README.md",
    ]


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans blanked (a link shown as code is
    not a link)."""
    lines, fenced = [], None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and (fenced is None or fence.group(1) == fenced):
            fenced = None if fenced else fence.group(1)
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text in lower case, punctuation dropped (hyphens and
    underscores kept), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link or image: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(?<!\w)[*_]+|[*_]+(?!\w)", "", text)  # emphasis markers, not snake_case
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file: its headings' slugs (a repeated one gets -1, -2…) and HTML ids."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    text = path.read_text(encoding="utf-8")
    for line in prose(text):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    found.update(HTML_ID.findall(text))
    return found


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(prose(path.read_text(encoding="utf-8")), 1):
        line = re.sub(r"(`+).*?\1", "", line)
        found.extend((number, target) for target in LINK.findall(line))
    return found


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # http(s), mailto: not this test's
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_a_heading(path):
    assert path.exists()
    assert broken_links(path) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# The `[digest]` table\n\n## Run: once, then again\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n"
        "[ok](other.md#the-digest-table) [ok](other.md#run-once-then-again) [ok](#top) [web](https://x.org/a)\n"
        "`[in code](gone.md)`\n```\n[in a fence](gone.md)\n```\n"
        "[gone](gone.md) [no heading](other.md#nowhere) ![picture](missing.png)\n",
        encoding="utf-8",
    )
    assert [problem.split(": ", 1)[1] for problem in broken_links(page)] == [
        "gone.md: no such file",
        "other.md#nowhere: no heading #nowhere in other.md",
        "missing.png: no such file",
    ]


def test_github_slugs():
    assert slug("Story clustering (`bench/clustering.py`, issue 18)") == "story-clustering-benchclusteringpy-issue-18"
    assert slug("Reliability: what is guaranteed (each tested with the real parts)") == (
        "reliability-what-is-guaranteed-each-tested-with-the-real-parts"
    )
    assert slug("`[digest.labels]`") == "digestlabels"
    assert slug("`digest_check` *now*") == "digest_check-now"


def _models(annotation) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (Model, Model | None, list[Model], dict[str, Model])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models(argument)]


def config_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """Every key of the configuration, dotted (`fetch.user_agent`; a list of tables by its name:
    `sources.url`), walked from the Settings model through every nested model."""
    if model is None:
        from flows.settings import Settings

        model = Settings
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        keys.append(key)
        for nested in _models(field.annotation):
            keys.extend(config_keys(nested, f"{key}."))
    return keys


def undocumented(keys: list[str], text: str) -> list[str]:
    """Keys the reference does not document: a table as `[name]` or `[[name]]`, a key as `table.key`."""
    missing = []
    for key in keys:
        shown = [f"`[{key}]`", f"`[[{key}]]`"] if "." not in key else [f"`{key}`"]
        if not any(form in text for form in shown):
            missing.append(key)
    return missing


def test_every_configuration_key_is_in_the_reference():
    keys = config_keys()
    assert {
        "digest.title",
        "sources.url",
        "fetch.user_agent",
        "email.unsubscribe",
        "schedules.cron",
        "cleaning.executor",
        "dedup.containment",
        "cluster.threshold",
        "summary.words",
    } <= set(keys)
    assert undocumented(keys, CONFIGURATION.read_text(encoding="utf-8")) == []


def test_the_reference_documents_no_key_that_does_not_exist():
    """Each row of the reference's tables that names a key (first cell `table.key`) names a real one."""
    keys = set(config_keys())
    tables = {key for key in keys if "." not in key}
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_.]+)` \|", CONFIGURATION.read_text(encoding="utf-8"), re.MULTILINE)
    assert rows
    assert [row for row in rows if row.split(".")[0] in tables and row not in keys] == []


def test_a_key_missing_from_the_reference_is_found():
    text = CONFIGURATION.read_text(encoding="utf-8")
    assert undocumented(["fetch.robots", "digest"], text) == []
    without = text.replace("`fetch.robots`", "`fetch.robot`").replace("`[digest]`", "[digest]")
    assert undocumented(["fetch.robots", "digest"], without) == ["fetch.robots", "digest"]


def test_the_environment_variables_and_label_names_are_in_the_reference():
    from flows.settings import ENVIRONMENT
    from tasks.render import LABEL_KEYS

    text = CONFIGURATION.read_text(encoding="utf-8")
    assert [variable for variable in ENVIRONMENT if f"`{variable}`" not in text] == []
    assert [label for label in LABEL_KEYS if f"`{label}`" not in text] == []


def test_the_readme_stays_short():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size:,} bytes, over {README_LIMIT:,}: move detail to docs/"
