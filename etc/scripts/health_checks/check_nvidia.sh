#!/usr/bin/env bash
# Host-side health check: nvidia-smi inside the container lists at least one GPU.
# Usage: check_nvidia.sh <ctid>
set -euo pipefail

ctid=${1:?usage: check_nvidia.sh <ctid>}
gpus=$(pct exec "$ctid" -- nvidia-smi --query-gpu=name --format=csv,noheader)
if [[ -z "$gpus" ]]; then
  echo "CT $ctid: nvidia-smi lists no GPU" >&2
  exit 1
fi
echo "CT $ctid: $gpus"
