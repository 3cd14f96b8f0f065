#!/usr/bin/env bash
# Makes the certificates the unit tests read (tests/agent/tls_*_test.cc, tests/cli/client_test.cc).
# Test material only: the keys are public. Valid for 100 years, except expired.crt.
set -euo pipefail
cd "$(dirname "$0")"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1.key" 2>/dev/null; }
ca() { key "$1"; openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 36500 -subj "/CN=$2" 2>/dev/null; }
# leaf NAME CA DAYS SUBJECT [SAN]
leaf() {
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$4" 2>/dev/null
  local ext=()
  [[ -n ${5:-} ]] && { printf 'subjectAltName=%s\n' "$5" >"$1.ext"; ext=(-extfile "$1.ext"); }
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -set_serial "0x$(openssl rand -hex 8)" \
    -out "$1.crt" -days "$3" "${ext[@]}" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "balloond test CA"
ca other-ca "another CA"
leaf server ca 36500 "/CN=localhost" "DNS:localhost"
leaf reader ca 36500 "/CN=reader1" "URI:spiffe://example.org/reader,DNS:reader.example.org"
leaf operator ca 36500 "/CN=operator1/O=ops"
leaf expired ca -1 "/CN=expired"
leaf stranger other-ca 36500 "/CN=stranger"
rm -f ca.key other-ca.key
printf 'not a certificate\n' >garbage.pem
