#!/bin/sh
# bench.sh - imaptap benchmarks (`make bench`): one "bench NAME VALUE UNIT" line per figure.
#
#   tools/bench.sh            the machine, the parser and logger figures, OpenSSL's
#                             memory per idle session (tools/bench_tlsmem.c), then
#                             the proxy side by side with direct Dovecot and the peers
#   tools/bench.sh -q         the same, smaller streams and one proxy sample (a quick look)
#   tools/bench.sh stress [GB]  random and mutated IMAP through sessions (not part of make bench)
#
# tools/bench_parser.c is built with -O2 against the release libraries (parser,
# logger, replay; no libevent).  Goals on the reference 2-core machine:
# parse_literal_heavy >= 2000 MB/s, parse_dense >= 300 MB/s, log_dense_events
# >= 500000 events/s.
set -eu
cd "$(dirname "$0")/.."

CC=${CC:-cc}
BUILD=${BUILD:-build}
BIN=$BUILD/bench_parser

make --no-print-directory "$BUILD/rel/libcore.a" "$BUILD/rel/libjlog.a" "$BUILD/rel/libimapparse.a" >&2
$CC -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iparser -Ilogger -Iproxy \
	$(pkg-config --cflags jansson 2>/dev/null) -o "$BIN" tools/bench_parser.c \
	"$BUILD/rel/libcore.a" "$BUILD/rel/libjlog.a" "$BUILD/rel/libimapparse.a" \
	$(pkg-config --libs jansson 2>/dev/null || echo -ljansson) -lpthread -lm

if [ "${1:-}" = stress ]; then
	exec "$BIN" stress "${2:-1}" tests/data
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "machine nproc $(nproc)"
echo "machine cpu ${cpu:-unknown}"
echo "machine kernel $(uname -sr)"

"$BIN" bench ${1:+"$1"}

# What OpenSSL alone holds per idle session (both legs in TLS): the floor under
# the proxy's memory per idle connection below.
$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Iproxy -Ilogger -Iparser \
	-o "$BUILD/bench_tlsmem" tools/bench_tlsmem.c proxy/tls.c -lssl -lcrypto
certs/mkcert.sh "$BUILD/bench-certs" localhost >/dev/null
"$BUILD/bench_tlsmem" "$BUILD/bench-certs/localhost.crt" "$BUILD/bench-certs/localhost.key" \
	"$([ "${1:-}" = -q ] && echo 200 || echo 1000)"

# Proxy benchmarks: the workplace harness (../shared/bench, or $BENCH_HARNESS) runs
# imaptap as its `project` target beside direct Dovecot and the peers in one run:
# FETCH throughput and CPU per GB, NOOP latency added, memory per idle connection.
# BENCH_PROXY=0 skips it; TARGETS narrows it (e.g. TARGETS="direct project").
harness=${BENCH_HARNESS:-../shared/bench}
if [ "${BENCH_PROXY:-1}" = 0 ]; then
	exit 0
fi
if [ ! -x "$harness/run.sh" ]; then
	echo "bench.sh: proxy benchmarks skipped: no harness at $harness (set BENCH_HARNESS)" >&2
	exit 0
fi
# As root, the harness's own set-up installs what is missing (idempotent, < 1 s when done).
if [ "$(id -u)" = 0 ] && [ -x "$harness/setup.sh" ]; then
	"$harness/setup.sh" >&2
fi
make --no-print-directory imaptap >&2
PROJECT_NAME=imaptap
PROJECT_START="$(pwd)/imaptap -l imaps://127.0.0.1:\$PROJECT_PORT"
PROJECT_START="$PROJECT_START -u imaps://\$BENCH_UPSTREAM_HOST:\$BENCH_UPSTREAM_PORT --upstream-insecure"
PROJECT_START="$PROJECT_START --cert \$BENCH_CERT --key \$BENCH_KEY --log \$BENCH_LOG_DIR/events.jsonl"
export PROJECT_NAME PROJECT_START
if [ "${1:-}" = -q ]; then
	exec "$harness/run.sh" --quick
fi
exec "$harness/run.sh"
