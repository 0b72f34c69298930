"""Prompt files: ``## system`` and ``## user`` sections read into chat templates, checked
for the variables the code fills in."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from index.errors import ConfigurationError

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
ANSWER_VARIABLES = frozenset({"question", "passages", "language"})
CONDENSE_VARIABLES = frozenset({"history", "question"})
OPINION_VARIABLES = frozenset({"question", "evidence", "passages", "language"})
# Variables a prompt may use besides its required ones.
OPTIONAL_VARIABLES = frozenset({"not_found"})


def load_prompt(
    path: Path, *, required: Iterable[str], optional: Iterable[str] = OPTIONAL_VARIABLES
) -> ChatPromptTemplate:
    """Read a prompt file (``## system`` and ``## user`` sections) into a chat template.

    Raises ConfigurationError naming the file when a section or a required variable is
    missing, or when the file uses a variable nobody fills in.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"prompt file {path} cannot be read: {error}") from None
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    sections = _sections(text)
    missing_sections = [name for name in ("system", "user") if not sections.get(name)]
    if missing_sections:
        raise ConfigurationError(f"prompt file {path} has no '## {missing_sections[0]}' section")
    try:
        found = {
            field
            for body in sections.values()
            for _, field, _, _ in string.Formatter().parse(body)
            if field is not None
        }
    except ValueError as error:  # a lone "{" or "}"
        raise ConfigurationError(f"prompt file {path} is not a valid template: {error}") from None
    required = set(required)
    if missing := sorted(required - found):
        raise ConfigurationError(
            f"prompt file {path} lacks the variable(s) {', '.join('{' + m + '}' for m in missing)}"
        )
    if unknown := sorted(found - required - set(optional)):
        raise ConfigurationError(
            f"prompt file {path} uses unknown variable(s) "
            f"{', '.join('{' + u + '}' for u in unknown)}"
        )
    return ChatPromptTemplate.from_messages(
        [("system", sections["system"]), ("human", sections["user"])]
    )


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name: str | None = None
    for line in text.splitlines():
        heading = re.fullmatch(r"##\s*(\w+)\s*", line)
        if heading:
            name = heading.group(1).lower()
            sections[name] = ""
        elif name is not None:
            sections[name] += line + "\n"
    return {key: value.strip() for key, value in sections.items()}
