#!/usr/bin/env bash
# Makes the throwaway certificates the TLS tests use, in OUT_DIR (run by the build; they protect
# nothing and are made anew in every build tree):
#   ca.pem                  a test CA
#   server.pem, server.key  a server certificate signed by it, for the IP address 127.0.0.1 only
#                           (so that https://localhost fails the host-name check)
#   other_ca.pem            an unrelated CA, which does not vouch for server.pem
# usage: make_tls.sh OUT_DIR
set -euo pipefail
out="$1"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

make_ca() {  # NAME FILE_STEM
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/$2.key" -out "$work/$2.pem" 2>/dev/null
}
make_ca "instasent-cpp test CA" ca
make_ca "instasent-cpp other test CA" other_ca
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
  "basicConstraints=CA:FALSE" >"$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 3650 -extfile "$work/server.ext" -out "$work/server.pem" 2>/dev/null
cp "$work/ca.pem" "$work/other_ca.pem" "$work/server.pem" "$work/server.key" "$out/"
