#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# gen-certs.sh OUTDIR: the reference cloud's test PKI (EC P-256).
#
#   OUTDIR/ca.pem, ca.key                 test CA
#   OUTDIR/server.pem, server.key         server certificate from the test CA,
#                                         SAN DNS:localhost, IP:127.0.0.1
#   OUTDIR/other-ca.pem, other-ca.key     a second, unrelated CA
#   OUTDIR/other-server.pem, .key         same names, issued by the other CA
#
# Idempotent: files that already exist are kept (delete OUTDIR to renew).
# Certificates are valid for 10 years.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
mkdir -p "$out"
command -v openssl >/dev/null || { echo "$0: openssl not found" >&2; exit 1; }

ext=$(mktemp)
trap 'rm -f "$ext" "$out"/*.csr "$out"/*.srl' EXIT
cat >"$ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT

# make_ca PREFIX CN
make_ca() {
	[ -s "$out/$1.pem" ] && [ -s "$out/$1.key" ] && return 0
	openssl ecparam -name prime256v1 -genkey -noout -out "$out/$1.key" 2>/dev/null
	openssl req -x509 -new -key "$out/$1.key" -sha256 -days 3650 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$out/$1.pem" 2>/dev/null
	# a CA renewed means its server certificates must be renewed too
	rm -f "$out/$3.pem" "$out/$3.key"
}

# make_server PREFIX CA_PREFIX
make_server() {
	[ -s "$out/$1.pem" ] && [ -s "$out/$1.key" ] && return 0
	openssl ecparam -name prime256v1 -genkey -noout -out "$out/$1.key" 2>/dev/null
	openssl req -new -key "$out/$1.key" -subj "/CN=localhost" -out "$out/$1.csr" 2>/dev/null
	openssl x509 -req -in "$out/$1.csr" -CA "$out/$2.pem" -CAkey "$out/$2.key" \
		-CAcreateserial -sha256 -days 3650 -extfile "$ext" -out "$out/$1.pem" 2>/dev/null
}

make_ca ca "prengine reference cloud test CA" server
make_ca other-ca "unrelated test CA" other-server
make_server server ca
make_server other-server other-ca
chmod 0600 "$out"/*.key
