#!/usr/bin/env bash
# The main job: builds qkbench, writes the full-size synthetic EmbeddingGemma (cached in models/),
# and embeds a few sequences through the FP32 path and the best INT8 kernel, timing each pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
qk=build/release/qkbench
model=models/embeddinggemma-300m.gguf
mkdir -p models
[ -f "$model" ] || "$qk" gen-model --preset embeddinggemma-300m --seed 1 -o "$model"
"$qk" list
seq16=2,818,5279,17,90,4512,33,100,200,300,400,500,600,700,800,1
for path in int8 fp32; do
  echo "== $path path, 4 and 16 tokens ==" >&2
  "$qk" embed --model "$model" --path "$path" --tokens 2,818,5279,1 --tokens "$seq16" --time \
    | cut -c1-80
done
