#!/usr/bin/env bash
# Installs the Debian 12 packages qkbench needs, only when some are missing (apt-get needs root).
# clang and libclang-rt-14-dev (clang 14's libFuzzer, ASan and UBSan runtimes) are for the fuzz
# targets only: when they cannot be installed, this says so and goes on (scripts/test.sh then skips
# the fuzzing).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git libhwloc-dev libpapi-dev libcriterion-dev libinih-dev
      libjansson-dev gnuplot-nox libsimde-dev)
fuzz_pkgs=(clang libclang-rt-14-dev)
missing() { # the packages among "$@" that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
mapfile -t missing < <(missing "${pkgs[@]}")
# npm (for the optional Gemma 3 tokenizer package) only when no npm is on the PATH at all
command -v npm >/dev/null 2>&1 || missing+=(npm)
mapfile -t fuzz_missing < <(missing "${fuzz_pkgs[@]}")
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ ${#fuzz_missing[@]} -gt 0 ]; then
  apt-get update -qq || echo "qkbench: apt-get update failed" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "qkbench: installing ${missing[*]}" >&2
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#fuzz_missing[@]} -gt 0 ]; then
  echo "qkbench: installing ${fuzz_missing[*]} (fuzz targets)" >&2
  apt-get install -y -qq "${fuzz_missing[@]}" >/dev/null ||
    echo "qkbench: could not install ${fuzz_missing[*]}: the fuzz targets cannot be built" >&2
fi
