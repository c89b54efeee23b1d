#!/usr/bin/env bash
# Ensure the Debian packages imaptap needs are installed.
#
#   tools/install-deps.sh [build|test|demo|fuzz|all]...   (no group: all)
#
# Runs at the start of every `make check`, so the common case (nothing
# missing) is one dpkg-query call, no output, exit 0.  Missing packages are
# installed with apt-get when root; otherwise we say what to run and exit 1.
set -euo pipefail

usage() {
    echo "usage: $0 [build|test|demo|fuzz|all]..." >&2
    exit 2
}

build_pkgs="make gcc pkg-config libssl-dev libevent-dev libjansson-dev libcmocka-dev"
# libclang-rt-14-dev holds libFuzzer and the ASan/UBSan runtimes for clang-14.
fuzz_pkgs="clang libclang-rt-14-dev"
# `make check` replays the fuzz corpus with clang, so test implies fuzz.
# tshark: the --keylog and decode --pcap tests capture and read loopback traffic.
# chromium: the HTML report is checked in a real (headless) browser.
test_pkgs="dovecot-imapd curl isync python3 python3-jsonschema openssl procps tshark chromium $fuzz_pkgs"
demo_pkgs="dovecot-imapd python3 openssl curl"

[ $# -gt 0 ] || set -- all
want=""
for group in "$@"; do
    case "$group" in
    build) want+=" $build_pkgs" ;;
    test) want+=" $test_pkgs" ;;
    demo) want+=" $demo_pkgs" ;;
    fuzz) want+=" $fuzz_pkgs" ;;
    all) want+=" $build_pkgs $test_pkgs $demo_pkgs" ;;
    *) usage ;;
    esac
done
# shellcheck disable=SC2086  # word splitting of the package lists is intended
want=$(printf '%s\n' $want | sort -u)

# Packages dpkg has never heard of print nothing (and make dpkg-query exit 1),
# so compute "wanted minus installed" rather than reading statuses one by one.
# Status "install ok installed" or "hold ok installed" both count.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $want 2>/dev/null |
    awk '$NF == "installed" { print $1 }' | sort -u) || true
missing=$(comm -23 <(echo "$want") <(echo "$installed") | tr '\n' ' ')
missing=${missing% }
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: $missing; run as root: apt-get install -y $missing" >&2
    exit 1
fi

echo "install-deps: installing: $missing" >&2
apt_install() {
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}
# A fresh or old machine may lack package lists: update once and retry.
# Installing dovecot-imapd may start the system Dovecot on 143/993; we never
# use it (tests run a private instance on free ports) and leave it alone.
if ! apt_install; then
    echo "install-deps: apt-get install failed; running apt-get update and retrying" >&2
    apt-get update
    apt_install
fi
