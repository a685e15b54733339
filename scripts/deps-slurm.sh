#!/usr/bin/env bash
# Installs SLURM and munge (Debian 12: slurmctld, slurmd, slurm-client, munge) for tests/test_fleet.c,
# which starts a one-node cluster of its own in a temporary folder. Optional: when apt cannot
# install them this says so and exits 0, and the test skips with the reason. Installing starts no
# daemon the test uses (it runs its own munged and slurm daemons on its own socket and ports).
set -uo pipefail
pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "qkbench: installing ${missing[*]} (the SLURM test cluster)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
  echo "qkbench: could not install ${missing[*]}: test_fleet will skip" >&2
fi
exit 0
