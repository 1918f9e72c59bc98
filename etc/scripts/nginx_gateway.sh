#!/usr/bin/env bash
# Runs inside CT 101 (gateway): installs nginx as the lab's TLS edge and forwards every
# *.lab.example.internal name to Traefik (CT 102). Certificates are issued by step-ca through
# the step CLI (installed by the step_cli feature). Safe to re-run: nginx is only reloaded
# when its configuration changed.
set -euo pipefail

DOMAIN="lab.example.internal"
TRAEFIK="https://10.20.0.12:443"
CA_URL="https://ca.${DOMAIN}:9000"
SSL_DIR=/etc/nginx/ssl
# ACME http-01 cannot issue wildcards, so the names the gateway fronts are listed.
NAMES=("gateway.${DOMAIN}" "portainer.${DOMAIN}" "qdrant.${DOMAIN}" "notes.${DOMAIN}" "ollama.${DOMAIN}" "qwen.${DOMAIN}")
SITE=/etc/nginx/sites-available/gateway

if ! command -v nginx >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx
fi

install -d -m 750 -g www-data "$SSL_DIR"
if [[ ! -s "$SSL_DIR/gateway.crt" ]]; then
  # ACME http-01 with step's standalone responder needs port 80 for a moment; this only
  # happens on the first run. Renewal is the job of step's renewal timer, not of this script.
  systemctl stop nginx 2>/dev/null || true
  san_args=()
  for name in "${NAMES[@]}"; do san_args+=(--san "$name"); done
  step ca certificate "gateway.${DOMAIN}" "$SSL_DIR/gateway.crt" "$SSL_DIR/gateway.key" \
    "${san_args[@]}" --ca-url "$CA_URL" --provisioner acme
  chmod 640 "$SSL_DIR/gateway.key"
  chgrp www-data "$SSL_DIR/gateway.key"
fi

desired=$(cat <<CONF
server {
    listen 80;
    server_name .${DOMAIN};
    return 301 https://\$host\$request_uri;
}

server {
    listen 443 ssl;
    http2 on;
    server_name .${DOMAIN};
    ssl_certificate     ${SSL_DIR}/gateway.crt;
    ssl_certificate_key ${SSL_DIR}/gateway.key;
    ssl_protocols TLSv1.2 TLSv1.3;

    location / {
        proxy_pass ${TRAEFIK};
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate /usr/local/share/ca-certificates/phoenix_root_ca.crt;
        proxy_ssl_server_name on;
        proxy_set_header Host \$host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
    }
}
CONF
)

changed=0
if [[ ! -f "$SITE" ]] || [[ "$(cat "$SITE")" != "$desired" ]]; then
  printf '%s\n' "$desired" > "$SITE.tmp"
  mv "$SITE.tmp" "$SITE"
  changed=1
fi
if [[ "$(readlink /etc/nginx/sites-enabled/gateway 2>/dev/null || true)" != "$SITE" ]]; then
  ln -sfn "$SITE" /etc/nginx/sites-enabled/gateway
  changed=1
fi
# The distribution's default site would otherwise win port 80 as default_server.
if [[ -e /etc/nginx/sites-enabled/default ]]; then
  rm -f /etc/nginx/sites-enabled/default
  changed=1
fi

nginx -t -q
systemctl enable nginx >/dev/null
if ! systemctl is-active --quiet nginx; then
  systemctl start nginx
elif [[ "$changed" == 1 ]]; then
  systemctl reload nginx
fi
