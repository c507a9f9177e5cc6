"""Main-text extraction from HTML pages, with the page's metadata."""

from __future__ import annotations

import trafilatura


def extract_html(html: str) -> tuple[str, dict]:
    """Main text (paragraphs one a line) and metadata of an HTML page."""
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params={"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True},
    )
    if doc is None or not (doc.text or "").strip():
        return "", {}
    meta = {"title": doc.title, "date": doc.date, "url": doc.url, "author": doc.author, "site": doc.sitename}
    return doc.text, meta
