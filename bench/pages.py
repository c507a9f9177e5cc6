"""Realistic news pages for the pipeline benchmark, built from ../shared/bench/summarisation articles.

Each page wraps an article in one of three outlet templates of the size and shape of a
real news page: head metadata (Open Graph, published time), inline scripts and styles,
a menu, a breadcrumb, a photo with caption and credit, a related-articles box, a
newsletter box, reader comments and a footer. Deterministic for a seed.

Beyond the first pass over the articles, a page is another outlet's story on the same
event (a third of the article's sentences, in order, then another article's paragraphs of the
same language: it shares wire copy with the first, it is not a copy of it); and 5 % of the
pages republish an earlier page under another outlet (what dispatch-level de-duplication removes).
"""

from __future__ import annotations

import html
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

OUTLETS = [
    ("Le Quotidien du Matin", "fr"),
    ("La Dépêche Continentale", "fr"),
    ("Le Courrier de l'Ouest", "fr"),
    ("The Morning Ledger", "en"),
    ("Harbour City Times", "en"),
    ("The Northern Courier", "en"),
]
MENU = [
    "Politique",
    "International",
    "Économie",
    "Société",
    "Culture",
    "Sport",
    "Sciences",
    "Planète",
    "Opinions",
    "World",
    "Business",
    "Technology",
    "Health",
    "Travel",
    "Video",
    "Podcasts",
    "Newsletters",
    "Weather",
]
DUPLICATE_SHARE = 0.05
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"])")
SITE_NAME = '<meta property="og:site_name" content="'


@dataclass(frozen=True)
class Article:
    lang: str
    title: str
    paragraphs: tuple[str, ...]


def load_articles(data: Path) -> list[Article]:
    """Every source article of the summarisation sets, with a title (the record's, else its opening words)."""
    out = []
    for path in sorted(data.glob("*.dev.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            for doc in record["docs"]:
                paragraphs = tuple(p.strip() for p in doc.split("\n\n") if p.strip())
                if not paragraphs:
                    continue
                title = record["title"] if len(record["docs"]) == 1 else " ".join(paragraphs[0].split()[:10])
                out.append(Article(record["lang"], title, paragraphs))
    return out


def build_pages(articles: list[Article], count: int, day: str, seed: int = 7) -> list[str]:
    """`count` HTML pages: articles first, then other outlets' stories on the same events, 5 % copies."""
    rng = random.Random(seed)
    by_lang = {lang: [a for a in articles if a.lang == lang] for lang in {a.lang for a in articles}}
    pages: list[str] = []
    for n in range(count):
        if pages and rng.random() < DUPLICATE_SHARE:
            earlier = pages[rng.randrange(len(pages))]
            pages.append(earlier.replace(SITE_NAME, SITE_NAME + "Agence ", 1))
            continue
        article = articles[n % len(articles)]
        if n >= len(articles):
            article = _retold(article, rng.choice(by_lang[article.lang]), rng)
        pages.append(render_page(article, n, day, rng))
    return pages


def _retold(article: Article, other: Article, rng: random.Random) -> Article:
    """Another outlet on the same event: a third of the article's sentences (the wire copy it
    shares), in order, then reporting of its own (here a third of another article's sentences):
    it shares text with both, it is a copy of neither."""

    def third(of: Article, first: bool) -> str:
        sentences = SENTENCE_END.split(" ".join(of.paragraphs))
        return " ".join(s for n, s in enumerate(sentences) if (first and n == 0) or rng.random() < 0.3)

    return Article(article.lang, article.title, (third(article, True), third(other, False)))


def render_page(article: Article, n: int, day: str, rng: random.Random) -> str:
    outlet = [o for o in OUTLETS if o[1] == article.lang][n % 3][0]
    esc = html.escape
    hour, minute = rng.randrange(0, 23), rng.randrange(60)
    # A mega-menu, teaser cards, a footer of links: real pages have 500-800 elements and more (the extraction sets').
    menu = "".join(
        f'<li class="menu-item"><a href="/rubrique/{m.lower()}">{m}</a><ul class="sub">'
        + "".join(f'<li><a href="/rubrique/{m.lower()}/{k}">{m} {k}</a></li>' for k in range(8))
        + "</ul></li>"
        for m in MENU
    )
    related = "".join(
        f'<li class="card"><div class="card-inner"><a href="/article/{n}-{k}"><figure><img src="/img/{k}.jpg" alt="">'
        f"</figure><span>{esc(' '.join(article.title.split()[:6]))} — {k}</span></a>"
        f"<p>{esc(article.paragraphs[-1][:90])}…</p></div></li>"
        for k in range(36)
    )
    state = json.dumps(
        {
            "article": {"title": article.title, "body": article.paragraphs, "id": n},
            "recommendations": [
                {"id": k, "title": article.title, "teaser": article.paragraphs[0][:120]} for k in range(30)
            ],
        }
    )
    body = "".join(f"<p>{esc(p)}</p>" for p in article.paragraphs)
    comments = "".join(
        f'<li class="comment"><b>lecteur{k}</b><p>{esc(article.paragraphs[0][: 40 + 10 * k])} ?</p></li>'
        for k in range(3)
    )
    footer = "".join(f'<li><a href="/page/{k}">{m}</a></li>' for k, m in enumerate(MENU * 5))
    tracking = json.dumps(
        {"page": n, "section": MENU[n % len(MENU)], "tags": MENU, "ab": [rng.random() for _ in range(40)]}
    )
    return f"""<!DOCTYPE html>
<html lang="{article.lang}"><head><meta charset="utf-8">
<title>{esc(article.title)} | {esc(outlet)}</title>
<meta property="og:title" content="{esc(article.title)}">
<meta property="og:site_name" content="{esc(outlet)}">
<meta property="article:published_time" content="{day}T{hour:02d}:{minute:02d}:00+00:00">
<link rel="canonical" href="https://news.example/{n}">
<style>body{{font-family:serif}} .menu li{{display:inline}} .ad{{height:250px}} {"." + "x" * 200 + "{color:red}"}</style>
<script>window.dataLayer=[{tracking}];function track(e){{return e}}</script>
</head><body data-outlet="{esc(outlet)}">
<header><a class="logo" href="/">{esc(outlet)}</a><nav class="menu"><ul>{menu}</ul></nav>
<form action="/search"><input name="q" placeholder="Rechercher"></form></header>
<div class="ad">Publicité</div>
<nav class="breadcrumb"><a href="/">Accueil</a> › <a href="/rubrique">{MENU[n % len(MENU)]}</a></nav>
<main><article>
<h1>{esc(article.title)}</h1>
<p class="byline">Par la rédaction · <time datetime="{day}T{hour:02d}:{minute:02d}:00+00:00">{day}</time></p>
<figure><img src="/photos/{n}.jpg" alt=""><figcaption>Vue prise le {day}. (Photo: Agence / {esc(outlet)})</figcaption></figure>
<div class="article-body">{body}</div>
<div class="share"><a href="#">Partager</a> <a href="#">Tweeter</a> <a href="#">Envoyer</a></div>
</article>
<aside class="related"><h2>À lire aussi</h2><ul>{related}</ul></aside>
<div class="newsletter"><h3>Newsletter</h3><p>Recevez chaque matin l'essentiel de l'actualité.</p>
<input type="email"><button>S'inscrire</button></div>
<section id="comments"><h3>Commentaires</h3><ul>{comments}</ul></section>
</main>
<footer><ul class="footer-links">{footer}</ul><p>© {esc(outlet)} — tous droits réservés</p></footer>
<script id="state" type="application/json">{state}</script>
<script src="/static/app.js"></script><script>track("view")</script>
</body></html>"""
