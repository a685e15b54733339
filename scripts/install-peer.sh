#!/usr/bin/env bash
# Installs the llama.cpp peer (the prebuilt CPU libraries of npm package @node-llama-cpp/linux-x64)
# under third_party/node/peer, and extracts the C API headers (llama.h and the ggml headers it
# includes) of that exact llama.cpp build from node-llama-cpp's source bundle into
# third_party/llama.cpp/include. Both folders are ignored by git. Does nothing (and prints nothing)
# when both are there already. Then rebuild: CMake compiles harness/peers/llama.c against the headers.
# The libraries are opened at run time (dlopen); the build never links against them.
set -euo pipefail
cd "$(dirname "$0")/.."
version="3.22.1"
prefix="third_party/node/peer"
libdir="$prefix/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
incdir="third_party/llama.cpp/include"
headers=(llama.h ggml.h ggml-cpu.h ggml-backend.h ggml-alloc.h ggml-opt.h gguf.h)

have_all() {
  [ -s "$libdir/libllama.v0.5.0.so" ] || return 1
  for h in "${headers[@]}"; do [ -s "$incdir/$h" ] || return 1; done
}
have_all && exit 0

mkdir -p third_party/node
exec 9>"third_party/node/.install-peer.lock"
flock 9 # concurrent callers wait for one install
have_all && exit 0

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "install-peer: $1 is not installed ($2)" >&2
  exit 3
}
need npm "apt-get install npm"
need git "apt-get install git"
need tar "apt-get install tar"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ ! -s "$libdir/libllama.v0.5.0.so" ]; then
  echo "install-peer: installing @node-llama-cpp/linux-x64@$version into $prefix" >&2
  mkdir -p "$prefix"
  # a private prefix: no package.json of this project is created or changed; no install scripts
  if ! npm install --prefix "$prefix" --no-audit --no-fund --no-save --ignore-scripts \
      --loglevel=error "@node-llama-cpp/linux-x64@$version" >&2; then
    echo "install-peer: npm install failed (no network, or the registry is unreachable?)" >&2
    exit 1
  fi
  if [ ! -s "$libdir/libllama.v0.5.0.so" ]; then
    echo "install-peer: $libdir/libllama.v0.5.0.so is missing after npm install" >&2
    exit 1
  fi
fi

missing_header=0
for h in "${headers[@]}"; do [ -s "$incdir/$h" ] || missing_header=1; done
if [ "$missing_header" = 1 ]; then
  echo "install-peer: extracting the llama.cpp headers of node-llama-cpp@$version into $incdir" >&2
  if ! (cd "$tmp" && npm pack --silent --loglevel=error "node-llama-cpp@$version" >/dev/null); then
    echo "install-peer: npm pack node-llama-cpp@$version failed (no network, or the registry is" \
      "unreachable?)" >&2
    exit 1
  fi
  tar -xzf "$tmp/node-llama-cpp-$version.tgz" -C "$tmp" package/llama/gitRelease.bundle
  git clone --quiet "$tmp/package/llama/gitRelease.bundle" "$tmp/src" 2>/dev/null || {
    echo "install-peer: cannot clone package/llama/gitRelease.bundle of node-llama-cpp@$version" >&2
    exit 1
  }
  mkdir -p "$incdir.tmp"
  for h in "${headers[@]}"; do
    if [ "$h" = llama.h ]; then src="$tmp/src/include/$h"; else src="$tmp/src/ggml/include/$h"; fi
    if [ ! -s "$src" ]; then
      echo "install-peer: $h is not in the bundle" >&2
      exit 1
    fi
    cp "$src" "$incdir.tmp/"
  done
  git -C "$tmp/src" rev-parse HEAD >"$incdir.tmp/COMMIT"
  rm -rf "$incdir"
  mv "$incdir.tmp" "$incdir"
fi
have_all
