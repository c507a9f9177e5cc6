import importlib.util

import pysbd.abbreviation_replacer
import pytest
from pysbd.languages import LANGUAGE_CODES

from tasks.language import bundle, detect_language

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
        "Dr. Smith met Gov. Jones at No. 10 on Jan. 3, i.e. yesterday.", "They spoke for an hour.",
        "(Mr. Lee was there.)"]


PORTUGUESE = ("O governo anunciou nesta quarta-feira um novo pacote de medidas para conter a inflação, "
              "que atingiu o maior nível em dois anos, segundo dados divulgados pelo instituto de estatística.")


def test_a_language_outside_the_allowed_ones_is_named_not_relabelled():
    assert detect_language(PORTUGUESE, ("fr", "en"), "en") == "pt"
    # Three words are too few to trust: py3langid's best guess over all languages is not English.
    assert detect_language("Obama wins Iowa", ("fr", "en"), "en") == "en"
