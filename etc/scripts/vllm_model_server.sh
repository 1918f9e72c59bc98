#!/usr/bin/env bash
# Runs inside a vLLM CT (121) after the vllm feature installed /opt/vllm.
# Usage: vllm_model_server.sh <vllm flag>...
#   The flags are the guest's `vllm_engine_config` flattened by phoenix, e.g.
#   --model Qwen/Qwen2.5-7B-Instruct-AWQ --dtype auto --max_model_len 16384 --port 8000 ...
# Writes the systemd unit only when it differs and restarts the server only then.
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 <vllm flags...> (from vllm_engine_config)" >&2
  exit 2
fi
if [[ ! -x /opt/vllm/bin/python ]]; then
  echo "/opt/vllm/bin/python is missing: run the vllm feature first" >&2
  exit 1
fi

UNIT=/etc/systemd/system/vllm_model_server.service
args=$(printf ' %q' "$@")

desired=$(cat <<UNIT_TEXT
[Unit]
Description=vLLM OpenAI-compatible model server
After=network-online.target
Wants=network-online.target

[Service]
WorkingDirectory=/opt/vllm
Environment=CUDA_HOME=/usr/local/cuda
Environment=LD_LIBRARY_PATH=/usr/local/cuda/lib64
Environment=PATH=/opt/vllm/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
ExecStart=/opt/vllm/bin/python -m vllm.entrypoints.openai.api_server${args}
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT_TEXT
)

if [[ ! -f "$UNIT" ]] || [[ "$(cat "$UNIT")" != "$desired" ]]; then
  printf '%s\n' "$desired" > "$UNIT.tmp"
  mv "$UNIT.tmp" "$UNIT"
  systemctl daemon-reload
  systemctl enable vllm_model_server >/dev/null
  systemctl restart vllm_model_server
elif ! systemctl is-active --quiet vllm_model_server; then
  systemctl enable vllm_model_server >/dev/null
  systemctl start vllm_model_server
fi

# Loading a model takes minutes; a bounded wait for the service to stay up, not for the model.
for _ in $(seq 1 30); do
  systemctl is-active --quiet vllm_model_server && exit 0
  sleep 2
done
journalctl -u vllm_model_server -n 50 --no-pager >&2 || true
exit 1
