#!/usr/bin/env bash
# Host-side health check: the URL answers with a 2xx/3xx within a bounded number of tries.
# Usage: check_http.sh <url> [tries]
# TLS is verified against the lab root CA when it is installed on the host.
set -euo pipefail

url=${1:?usage: check_http.sh <url> [tries]}
tries=${2:-10}
ca=/usr/local/share/ca-certificates/phoenix_root_ca.crt
ca_args=()
[[ -f "$ca" ]] && ca_args=(--cacert "$ca")

for ((i = 1; i <= tries; i++)); do
  if curl -fsS -o /dev/null --max-time 5 "${ca_args[@]}" "$url"; then
    exit 0
  fi
  sleep 2
done
echo "no healthy answer from $url after $tries tries" >&2
exit 1
