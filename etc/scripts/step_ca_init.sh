#!/usr/bin/env bash
# Runs inside CT 103 (step-ca) after the step_ca feature installed step-ca.
# Initialises the lab CA once, adds an ACME provisioner once, and makes sure the service runs.
# Safe to re-run: every step checks before it changes anything.
set -euo pipefail

export STEPPATH=/etc/step-ca
CA_NAME="Lab Example Internal CA"
CA_DNS=(ca.lab.example.internal 10.20.0.10 localhost)
PROVISIONER="admin@lab.example.internal"

install -d -m 700 "$STEPPATH" "$STEPPATH/secrets"

# Passwords are generated on the CT and never leave it (the host only ever sees the root cert).
for pw in "$STEPPATH/secrets/ca_password" "$STEPPATH/secrets/provisioner_password"; do
  if [[ ! -s "$pw" ]]; then
    (umask 077 && openssl rand -base64 32 > "$pw")
  fi
done

if [[ ! -f "$STEPPATH/config/ca.json" ]]; then
  dns_args=()
  for name in "${CA_DNS[@]}"; do dns_args+=(--dns "$name"); done
  step ca init --name "$CA_NAME" "${dns_args[@]}" --address ":9000" \
    --provisioner "$PROVISIONER" --deployment-type standalone \
    --password-file "$STEPPATH/secrets/ca_password" \
    --provisioner-password-file "$STEPPATH/secrets/provisioner_password"
fi

restart=0
# Read ca.json directly: it works whether or not the CA is running yet.
if ! jq -e '.authority.provisioners[]? | select(.type == "ACME")' "$STEPPATH/config/ca.json" >/dev/null; then
  step ca provisioner add acme --type ACME
  restart=1
fi

# Publish only the public root for other guests (trusted_ca reads it through the host mount).
install -m 644 "$STEPPATH/certs/root_ca.crt" "$STEPPATH/lab_root_ca.crt"
step certificate fingerprint "$STEPPATH/certs/root_ca.crt" > "$STEPPATH/root_ca.fingerprint"

systemctl enable step-ca >/dev/null
if ! systemctl is-active --quiet step-ca; then
  systemctl start step-ca
elif [[ "$restart" == 1 ]]; then
  systemctl restart step-ca
fi

# Bounded readiness probe instead of a fixed sleep.
for _ in $(seq 1 20); do
  if step ca health --ca-url https://localhost:9000 --root "$STEPPATH/certs/root_ca.crt" >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "step-ca did not become healthy within 20 s" >&2
exit 1
