#!/usr/bin/env bash
# The German–English dictionary (Debian's trans-de-en, the Ding word list) that lets an
# English question find German review text and back. Without it reviewbot still works,
# matching words within one language only.
set -euo pipefail
dictionary=/usr/share/trans/de-en
if [ -f "$dictionary" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "note: no apt-get here; install the Ding de-en word list at $dictionary for cross-language answers" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    echo "note: run 'sudo apt-get install trans-de-en' for cross-language answers" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends -qq trans-de-en >/dev/null \
    || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y --no-install-recommends -qq trans-de-en >/dev/null; }
test -f "$dictionary"
