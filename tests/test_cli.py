from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import SAMPLES

runner = CliRunner()


def test_summarise_seeds_prints_french_sentences_without_caption_or_repeat(seeds):
    result = runner.invoke(app, ["summarise", *map(str, seeds)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 4
    inputs = " ".join(p.read_text(encoding="utf-8") for p in seeds)
    normalised_inputs = inputs.replace("\u2011", "-")
    assert all(line in normalised_inputs for line in lines)
    assert not any("AFP /" in line or "POOL /" in line or "(Photo" in line for line in lines)
    assert sum("une première depuis le début de la guerre" in line for line in lines) <= 1
    assert any("é" in line for line in lines)


def test_summarise_word_budget_and_language(seeds):
    result = runner.invoke(app, ["summarise", "--words", "40", "--language", "fr", str(seeds[1])])
    assert result.exit_code == 0, result.output
    assert len(result.output.split()) <= 45


def test_summarise_several_samples_as_one_story():
    files = [str(SAMPLES / "rotterdam-strike-reuters.txt"), str(SAMPLES / "rotterdam-strike-ap.json")]
    result = runner.invoke(app, ["summarise", "--sentences", "2", *files])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[0].startswith("Dock workers at the Port of Rotterdam")


def test_summarise_rejects_both_lengths_and_unreadable_input(tmp_path):
    result = runner.invoke(app, ["summarise", "--words", "40", "--sentences", "2", str(SAMPLES / "chess-final.txt")])
    assert result.exit_code != 0 and "not both" in result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("(Photo AFP)\n")
    result = runner.invoke(app, ["summarise", str(empty)])
    assert result.exit_code == 1
    assert "no news text left after cleaning" in result.output
