"""The prompt files load, validate their variables and render."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.llm import ANSWER_VARIABLES, CONDENSE_VARIABLES, PROMPTS_DIR, load_prompt
from bot.prompts import OPINION_VARIABLES
from index.errors import ConfigurationError

SAMPLES = {
    "question": "Wer hat bei Ballerina Regie geführt?",
    "passages": "[1] Regie: Len Wiseman\n(from a review of Ballerina (2025))",
    "language": "German (Deutsch)",
    "history": "User: Worum geht es in Ballerina?\nBot: Eine Rachegeschichte.",
    "not_found": "In den Rezensionen steht dazu nichts.",
    "evidence": "Ballerina (2023): 2 Rezensionen gezählt — 1 von 2 positiv, 1 von 2 gemischt.",
}
REQUIRED = {
    "answer.md": ANSWER_VARIABLES,
    "condense.md": CONDENSE_VARIABLES,
    "opinion.md": OPINION_VARIABLES,
}


def test_every_prompt_file_is_known() -> None:
    assert sorted(p.name for p in PROMPTS_DIR.glob("*.md")) == sorted(REQUIRED)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_prompt_loads_and_renders_with_sample_values(name: str) -> None:
    template = load_prompt(PROMPTS_DIR / name, required=REQUIRED[name])
    values = {v: SAMPLES[v] for v in template.input_variables}
    messages = template.format_messages(**values)
    assert [m.type for m in messages] == ["system", "human"]
    rendered = "\n".join(str(m.content) for m in messages)
    for variable in REQUIRED[name]:
        assert SAMPLES[variable] in rendered
    assert "{" not in rendered and "<!--" not in rendered


def test_answer_prompt_states_the_not_found_sentence() -> None:
    template = load_prompt(PROMPTS_DIR / "answer.md", required=ANSWER_VARIABLES)
    system = template.format_messages(**SAMPLES)[0].content
    assert "reply exactly: In den Rezensionen steht dazu nichts." in str(system)


def test_opinion_prompt_forbids_numbers_that_are_not_in_the_evidence() -> None:
    template = load_prompt(PROMPTS_DIR / "opinion.md", required=OPINION_VARIABLES)
    system = str(template.format_messages(**{v: SAMPLES[v] for v in OPINION_VARIABLES})[0].content)
    assert "Never compute new numbers" in system
    assert "Answer in German (Deutsch)" in system


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_prompt_missing_a_required_variable_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "## system\nAnswer in {language}.\n\n## user\n{passages}\n")
    with pytest.raises(
        ConfigurationError, match=r"broken\.md lacks the variable\(s\) \{question\}"
    ):
        load_prompt(path, required=ANSWER_VARIABLES)


def test_a_prompt_with_an_unknown_variable_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "## system\nHi {name}\n\n## user\n{history} {question}\n")
    with pytest.raises(ConfigurationError, match=r"broken\.md uses unknown variable\(s\) \{name\}"):
        load_prompt(path, required=CONDENSE_VARIABLES)


def test_a_prompt_without_a_user_section_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "## system\n{history} {question}\n")
    with pytest.raises(ConfigurationError, match=r"broken\.md has no '## user' section"):
        load_prompt(path, required=CONDENSE_VARIABLES)


def test_a_missing_prompt_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nothing\.md cannot be read"):
        load_prompt(tmp_path / "nothing.md", required=CONDENSE_VARIABLES)
