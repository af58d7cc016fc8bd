#!/usr/bin/env bash
# A throw-away PKI for the TLS tests, made with the openssl CLI at test time (nothing secret
# is committed). All keys are ECDSA P-256.
#
#   make_test_pki.sh DIR
#
# writes into DIR (created if missing; reused as is when DIR/done exists):
#   ca.pem ca.key                 the test CA
#   server.pem server.key         leaf for DNS:localhost and IP:127.0.0.1, signed by the CA
#   other.pem other.key           leaf for DNS:other.test (SNI picks it), signed by the CA
#   client.pem client.key         client certificate, CN=test-client, signed by the CA
#   expired-server.pem/.key       leaf for localhost, signed by the CA, expired in 2020
#   expired-client.pem/.key       client certificate, signed by the CA, expired in 2020
#   selfsigned-client.pem/.key    client certificate, CN=test-client, self-signed
#   rogue-ca.pem                  another CA; rogue-server.pem/.key is a localhost leaf it signed
set -euo pipefail

dir=${1:?usage: make_test_pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f done ] && exit 0

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() {  # ca NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME SUBJECT EXTENSIONS CA [STARTDATE ENDDATE]: signed through `openssl ca`, which alone
# can set validity dates in the past (for the expired certificates).
leaf() {
  local name=$1 subject=$2 ext=$3 issuer=$4 start=${5:-} end=${6:-}
  key "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  mkdir -p "db-$issuer"
  touch "db-$issuer/index.txt"
  [ -f "db-$issuer/serial" ] || echo 1000 >"db-$issuer/serial"
  cat >"$name.cnf" <<EOF
[ca]
default_ca = test
[test]
database = db-$issuer/index.txt
serial = db-$issuer/serial
new_certs_dir = db-$issuer
certificate = $issuer.pem
private_key = $issuer.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
default_days = 825
[any]
commonName = supplied
[ext]
$ext
EOF
  local dates=()
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -notext -config "$name.cnf" -extensions ext -in "$name.csr" -out "$name.pem" \
    "${dates[@]}" 2>/dev/null
  rm -f "$name.csr" "$name.cnf"
}

server_ext() {
  printf 'basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = %s\n' "$1"
}
client_ext='basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth'

ca ca "/CN=coronet test CA"
leaf server "/CN=localhost" "$(server_ext 'DNS:localhost,IP:127.0.0.1')" ca
leaf other "/CN=other.test" "$(server_ext 'DNS:other.test')" ca
leaf client "/CN=test-client" "$client_ext" ca
leaf expired-server "/CN=localhost" "$(server_ext 'DNS:localhost,IP:127.0.0.1')" ca 20200101000000Z 20200102000000Z
leaf expired-client "/CN=test-client" "$client_ext" ca 20200101000000Z 20200102000000Z

key selfsigned-client.key
openssl req -x509 -new -key selfsigned-client.key -out selfsigned-client.pem -days 825 \
  -subj "/CN=test-client" -addext extendedKeyUsage=clientAuth

ca rogue-ca "/CN=rogue CA"
leaf rogue-server "/CN=localhost" "$(server_ext 'DNS:localhost,IP:127.0.0.1')" rogue-ca

rm -rf db-ca db-rogue-ca
touch done
