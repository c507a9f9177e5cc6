import gzip
import hashlib
import importlib.util
import inspect
import json
import sys

import pysbd.abbreviation_replacer
import pytest
from pysbd.abbreviation_replacer import AbbreviationReplacer
from pysbd.languages import LANGUAGE_CODES

from tasks import compat
from tasks.extract import extract_html
from tasks.language import ONE_SENTENCE, PYSBD_RESERVED, bundle, detect_language
from tests.conftest import shared_path

TEXTS = [
    "Dr. Smith met Gov. Jones at No. 10 on Jan. 3, i.e. yesterday. They spoke for an hour. (Mr. Lee was there.)",
    "gov. Smith\tand\nDR. Jones met at 5 p.m. Sen. Brown (Rep.) joined; St. Louis, Mo. was next. etc. etc.",
    "M. Dupont a vu Mme Martin, c.-à-d. la maire, vers 10 h. Ils ont parlé une heure. Voir p. 12, art. 3 du rapport.",
    "Le Dr. Martin et le Pr. Durand (av. J.-C.) ont signé. Env. 300 personnes étaient là, cf. annexe.",
    "Sr. García y la Sra. López llegaron a las 10 a. m. del lun. 3 de ene. Luego se fueron.",
    "Il Sig. Rossi e la Dott.ssa Bianchi sono arrivati. Il prof. Verdi no.",
]


def _pysbd_own_search():
    """pysbd's `search_for_abbreviations_in_string` as it ships (the project replaces it with a faster one)."""
    spec = importlib.util.spec_from_file_location("pysbd_as_shipped", pysbd.abbreviation_replacer.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AbbreviationReplacer.search_for_abbreviations_in_string


@pytest.mark.parametrize("code", ["en", "fr", "de", "es", "it"])
@pytest.mark.parametrize("text", TEXTS)
def test_faster_abbreviation_search_gives_what_pysbd_gives(code, text):
    lang = LANGUAGE_CODES[code]
    replacer_class = getattr(lang, "AbbreviationReplacer", pysbd.abbreviation_replacer.AbbreviationReplacer)
    replacer = replacer_class(text, lang)
    assert replacer.search_for_abbreviations_in_string(text) == _pysbd_own_search()(replacer, text)


def test_abbreviations_do_not_end_sentences():
    assert bundle("en").sentences(TEXTS[0]) == [
        "Dr. Smith met Gov. Jones at No. 10 on Jan. 3, i.e. yesterday.",
        "They spoke for an hour.",
        "(Mr. Lee was there.)",
    ]


PORTUGUESE = (
    "O governo anunciou nesta quarta-feira um novo pacote de medidas para conter a inflação, "
    "que atingiu o maior nível em dois anos, segundo dados divulgados pelo instituto de estatística."
)


def test_a_language_outside_the_allowed_ones_is_named_not_relabelled():
    assert detect_language(PORTUGUESE, ("fr", "en"), "en") == "pt"
    # Three words are too few to trust: py3langid's best guess over all languages is not English.
    assert detect_language("Obama wins Iowa", ("fr", "en"), "en") == "en"


# --- pysbd's patches (tasks/compat.py): these fail when pysbd changes, before a sentence does -----------

# sha256 (first 16 hex digits) of the source of what the patches replace or rely on, as pysbd 0.3.4 ships it
PATCHED_SOURCES = {
    "search_for_abbreviations_in_string": "bb6e9501e1649f47",  # replaced (patch 2)
    "scan_for_replacements": "3f368cf71aa6c285",  # patch 2 skips scans whose replacements...
    "replace_period_of_abbr": "e3da134b80e65953",  # ...all need the full stop right after the abbreviation
    "replace_pre_number_abbr": "ebdaff13cda1cfeb",
    "replace_prepositive_abbr": "bdf90c0157588fca",
}


def test_pysbd_is_the_version_patched():
    assert pysbd.__version__ == compat.PYSBD_VERSION, (
        f"pysbd {pysbd.__version__} is not {compat.PYSBD_VERSION}: check tasks/compat.py's three patches against "
        "it, then update PYSBD_VERSION and PATCHED_SOURCES"
    )


def test_pysbd_code_the_patches_replace_is_unchanged():
    spec = importlib.util.spec_from_file_location("pysbd_as_shipped", pysbd.abbreviation_replacer.__file__)
    shipped = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shipped)
    found = {
        name: getattr(shipped.AbbreviationReplacer, name, None) or getattr(shipped, name) for name in PATCHED_SOURCES
    }
    digests = {name: hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16] for name, f in found.items()}
    assert digests == PATCHED_SOURCES, "pysbd's abbreviation code changed: re-check patch 2 in tasks/compat.py"


def test_pysbd_patches_are_in_place():
    modules = [m for name, m in sys.modules.items() if name.startswith("pysbd") and hasattr(m, "re")]
    assert modules and all(isinstance(m.re, compat.CompiledOnce) for m in modules)  # patch 1
    assert AbbreviationReplacer.search_for_abbreviations_in_string is compat.search_for_abbreviations_in_string
    assert compat.segments("en", "Mr. Lee left. He came back.") == ["Mr. Lee left.", "He came back."]  # patch 3
    assert {"dr", "mr", "jan"} <= compat.abbreviations("en") and {"env", "c.-à-d"} <= compat.abbreviations("fr")


# --- the splitter's own rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # glued sentences, after a closing quotation mark or none
        (
            'Ils appellent au boycott de chacun".Appel au boycott lancé par le syndicat.',
            ['Ils appellent au boycott de chacun".', "Appel au boycott lancé par le syndicat."],
        ),
        (
            "Une nouvelle vague de contaminations.137 personnes ont été contaminées.",
            ["Une nouvelle vague de contaminations.", "137 personnes ont été contaminées."],
        ),
        # a space before the full stop, the next sentence glued to it
        (
            'Il veut "saisir la justice" .Les faits remontent à 2019.',
            ['Il veut "saisir la justice" .', "Les faits remontent à 2019."],
        ),
        # a quotation mark opened and never closed swallows no sentence
        (
            'Le ministre a dit "non. Puis il a ajouté que le texte serait retiré. Les syndicats ont "salué" la décision.',
            [
                'Le ministre a dit "non.',
                "Puis il a ajouté que le texte serait retiré.",
                'Les syndicats ont "salué" la décision.',
            ],
        ),
        # a quote closed sentences later, inside a sentence going on
        (
            'He called it "a disgrace. The police said 12 people were hurt. Officials said" the road was closed.',
            [
                'He called it "a disgrace.',
                "The police said 12 people were hurt.",
                'Officials said" the road was closed.',
            ],
        ),
        # spaces before punctuation inside a sentence change nothing
        (
            'Le texte "est une tartufferie" , a-t-il dit. Il coûte 30 ,000 euros.',
            ['Le texte "est une tartufferie" , a-t-il dit.', "Il coûte 30 ,000 euros."],
        ),
    ],
)
def test_messy_text_is_cut_into_its_sentences(text, expected):
    assert bundle("fr" if "Il" in text or "Le " in text else "en").sentences(text) == expected


@pytest.mark.parametrize(
    "code, text",
    [
        ("fr", "M. Dupont a vu Mme Martin. Elle a dit « bain ! Elle part », a-t-il dit."),
        ("en", "The U.S. Army and Dr.Smith met at 5 p.m. in Washington. It cost $3.5bn, said gamesindustry.biz."),
        ("en", 'He said: "We will win. We will never give up." Then he left.'),  # a quotation stays whole
    ],
)
def test_abbreviations_figures_and_quotations_are_not_cut(code, text):
    assert bundle(code).sentences(text) == bundle(code).segments(text)


def test_inside_quotes_cuts_a_quotation_into_its_sentences():
    quotation = 'He said: "We will win. We will never give up." Then he left.'
    assert bundle("en").resplit('He said: "We will win. We will never give up."', inside_quotes=True) == [
        'He said: "We will win.',
        'We will never give up."',
    ]
    assert "".join(bundle("en").sentences(quotation)).replace(" ", "") == quotation.replace(" ", "")
    assert bundle("en").resplit('" .Next one came.') == ['" .', "Next one came."]  # no word before the end
    race = "•VICTORY MARCH PLATE (Div. II) (1,200m), rated 40 to 66."  # an abbreviation no list has
    assert bundle("en").resplit(race, inside_quotes=True) == [race]


ONE_PIECE_CASES = [
    "The president said on Monday that taxes would rise.",
    "Le gouvernement a annoncé lundi une hausse des impôts",
    "We want a) apples b) pears and c) plums",  # a list: pysbd cuts it
    "“We’ve never had demand that we saw that day, and continue to see ” Mayer said.",  # cut at the quote
    "Said Davis: ``We've concluded further investigation is warranted.''",
    'opponents in the game."',
    "Le score final était de 3-2 après prolongation !",
]


def _kept_whole(code: str, piece: str) -> bool:
    """Whether the piece skips pysbd, after checking that pysbd gives the same."""
    ours = bundle(code)._segmented(piece)
    assert ours == [piece] or ours == compat.segments(code, piece)
    assert [s.strip() for s in ours] == [s.strip() for s in compat.segments(code, piece) if s.strip()], piece
    return ours == [piece] and ONE_SENTENCE.fullmatch(piece) is not None


@pytest.mark.parametrize("code", ["en", "fr"])
def test_a_piece_not_given_to_pysbd_is_one_pysbd_keeps_whole(code):
    assert [_kept_whole(code, piece) for piece in ONE_PIECE_CASES] == [True, True, False, False, False, False, True]


def test_paragraphs_of_real_pages_not_given_to_pysbd_are_those_it_keeps_whole():
    pages = shared_path("bench", "extraction", "l3s-gn1.dev.jsonl.gz")
    with gzip.open(pages, "rt", encoding="utf-8") as lines:
        texts = [extract_html(json.loads(line)["html"])[0] for line, _ in zip(lines, range(60))]
    paragraphs = [line.translate(PYSBD_RESERVED) for text in texts for line in text.splitlines() if line.strip()]
    whole = [_kept_whole("en", paragraph) for paragraph in paragraphs]
    assert len(paragraphs) > 500 and sum(whole) > len(paragraphs) / 4  # the shortcut is taken, and right
