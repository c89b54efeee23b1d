#!/usr/bin/env bash
# Make a local CA and a leaf certificate signed by it, for tests and demos.
#
#   certs/mkcert.sh OUTDIR NAME...      CA (if missing) + leaf for NAME...
#   certs/mkcert.sh --ca-only OUTDIR    CA only
#
# OUTDIR/ca.crt, ca.key: "imaptap local CA", made once and then reused.
# OUTDIR/<NAME1>.crt, .key: leaf for all NAMEs (IP SAN when a NAME is an
# IPv4/IPv6 address, DNS SAN otherwise; CN = NAME1), made when missing (or
# when it no longer verifies against the CA).  EC P-256 keys, SHA-256.
# Prints the paths it wrote, one per line.
set -euo pipefail

prog=${0##*/}
die() { echo "$prog: $1" >&2; exit "${2:-1}"; }
usage() { die "${1:+$1; }usage: $prog [--ca-only] OUTDIR NAME..." 2; }

ca_only=0
if [ "${1:-}" = --ca-only ]; then ca_only=1; shift; fi
[ $# -ge 1 ] || usage "missing OUTDIR"
case "$1" in -*) usage "unknown option $1" ;; esac
outdir=$1
shift
if [ $ca_only = 1 ]; then
    [ $# -eq 0 ] || usage "--ca-only takes no NAME"
else
    [ $# -ge 1 ] || usage "missing NAME"
fi

is_ipv4() {
    [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
    local o
    for o in "${BASH_REMATCH[@]:1}"; do ((10#$o <= 255)) || return 1; done
}
# Plain hex form only (no embedded IPv4): groups of 1-4 hex digits, eight of
# them or fewer around one "::".
is_ipv6() {
    local s=$1 g n=0 parts
    [[ $s == *:* && $s =~ ^[0-9A-Fa-f:]+$ && $s != *:::* && ${s/::/} != *::* ]] || return 1
    [[ $s != :[^:]* && $s != *[^:]: ]] || return 1
    IFS=: read -ra parts <<<"$s"
    for g in "${parts[@]}"; do
        ((${#g} <= 4)) || return 1
        [ -z "$g" ] || n=$((n + 1))
    done
    if [[ $s == *::* ]]; then ((n <= 7)); else ((n == 8)); fi
}

san=""
for name in "$@"; do
    # Names become file names and parts of an openssl config line, so only
    # plain host names and addresses; digits-and-dots must be a real IPv4.
    if is_ipv4 "$name" || is_ipv6 "$name"; then
        san+="${san:+, }IP:$name"
    elif [[ $name =~ ^[A-Za-z0-9*._-]+$ && $name =~ [A-Za-z*] && $name != [.-]* ]]; then
        san+="${san:+, }DNS:$name"
    else
        usage "bad NAME '$name'"
    fi
done

command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
mkdir -p "$outdir" || die "cannot create $outdir"
# Tests and the demo may run this at the same time on one folder.
exec 9>"$outdir/.mkcert.lock"
flock 9

tmp=$(mktemp -d "$outdir/.mkcert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Quiet openssl unless it fails; then show its own message on one line.
ossl() {
    openssl "$@" 2>"$tmp/err" || die "openssl $1 failed: $(tr '\n' ' ' <"$tmp/err")"
}
# Keys are mode 600 from the start (umask), never briefly world-readable.
newkey() { (umask 077 && ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"); }
serial() { echo "0x$(openssl rand -hex 16)"; }
# Files appear by rename so a concurrent reader never sees half a file.
install_file() { mv -f "$tmp/$1" "$outdir/$1" && echo "$outdir/$1"; }

ca_crt=$outdir/ca.crt
ca_key=$outdir/ca.key
if [ ! -s "$ca_crt" ] || [ ! -s "$ca_key" ]; then
    newkey "$tmp/ca.key"
    # Our own config: the system openssl.cnf would add extensions of its own.
    printf '%s\n' "[req]" "prompt = no" "distinguished_name = dn" "x509_extensions = ext" \
        "[dn]" "CN = imaptap local CA" \
        "[ext]" "basicConstraints = critical, CA:TRUE" \
        "keyUsage = critical, keyCertSign, cRLSign" "subjectKeyIdentifier = hash" >"$tmp/ca.cnf"
    ossl req -new -x509 -config "$tmp/ca.cnf" -key "$tmp/ca.key" -sha256 -days 3650 \
        -set_serial "$(serial)" -out "$tmp/ca.crt"
    install_file ca.key
    install_file ca.crt
fi
[ $ca_only = 1 ] && exit 0

leaf=$1
if [ -s "$outdir/$leaf.crt" ] && [ -s "$outdir/$leaf.key" ] &&
    openssl verify -CAfile "$ca_crt" "$outdir/$leaf.crt" >/dev/null 2>&1; then
    exit 0
fi
newkey "$tmp/$leaf.key"
printf '%s\n' "[req]" "prompt = no" "distinguished_name = dn" "[dn]" "CN = $leaf" >"$tmp/leaf.cnf"
ossl req -new -config "$tmp/leaf.cnf" -key "$tmp/$leaf.key" -out "$tmp/leaf.csr"
printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
    "extendedKeyUsage = serverAuth" "subjectAltName = $san" \
    "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid:always" >"$tmp/leaf.ext"
# 825 days: the longest leaf lifetime Apple clients accept.
ossl x509 -req -in "$tmp/leaf.csr" -CA "$ca_crt" -CAkey "$ca_key" -set_serial "$(serial)" \
    -sha256 -days 825 -extfile "$tmp/leaf.ext" -out "$tmp/$leaf.crt"
install_file "$leaf.key"
install_file "$leaf.crt"
