#!/bin/sh
# tests/tools/run.sh IMAPTAP [--update]
#
# Runs `imaptap pretty` and `imaptap stats` on the logs in inputs/ for each
# case in cases and compares stdout, stderr and the exit status with
# expected/; then follows a log that grows, is rotated, and has a line
# written in two halves (pretty --follow) and compares with the whole
# transcript.  Prints a diff for each difference; exits 1 if there is one.
# --update rewrites expected/ instead (review the diff before committing).
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 IMAPTAP [--update]" >&2
    exit 2
fi
case $1 in
/*) bin=$1 ;;
*) bin=$(pwd)/$1 ;;
esac
update=0
[ "${2:-}" = "--update" ] && update=1
if [ ! -x "$bin" ]; then
    echo "$0: $bin is not an executable" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/imaptap-tools.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
# the outputs must not depend on the caller's environment
unset NO_COLOR TERM
LC_ALL=C
export LC_ALL

fail=0
count=0

# check NAME OUT ERR STATUS: compares one run with expected/NAME.*
check() {
    name=$1 out=$2 err=$3 status=$4
    exp_out=$here/expected/$name.out
    exp_err=$here/expected/$name.err
    got_err=$tmp/$name.got-err
    : >"$got_err"
    if [ -s "$err" ] || [ "$status" -ne 0 ]; then
        cat "$err" >"$got_err"
        echo "exit $status" >>"$got_err"
    fi
    if [ $update -eq 1 ]; then
        cp "$out" "$exp_out"
        if [ -s "$got_err" ]; then
            cp "$got_err" "$exp_err"
        else
            rm -f "$exp_err"
        fi
        return
    fi
    [ -f "$exp_err" ] || exp_err=/dev/null
    if ! diff -u "$exp_out" "$out" >"$tmp/diff"; then
        echo "FAIL $name: stdout differs"
        cat "$tmp/diff"
        fail=1
    elif ! diff -u "$exp_err" "$got_err" >"$tmp/diff"; then
        echo "FAIL $name: stderr or exit status differs"
        cat "$tmp/diff"
        fail=1
    else
        echo "ok   $name"
    fi
}

while IFS= read -r line; do
    case $line in
    '' | '#'*) continue ;;
    esac
    name=${line%% *}
    cmd=${line#"$name"}
    count=$((count + 1))
    (cd "$here/inputs" && eval "\"\$bin\" $cmd") >"$tmp/$name.out" 2>"$tmp/$name.err"
    check "$name" "$tmp/$name.out" "$tmp/$name.err" $?
done <"$here/cases"

# --follow: the log grows in three steps, is rotated (renamed, a new file
# started) and gets its last line in two halves; the transcript must equal
# the one of the whole file.
follow() {
    log=$tmp/live.jsonl
    src=$here/inputs/proxy.jsonl
    total=$(wc -l <"$src")
    head -n 40 "$src" >"$log"
    "$bin" pretty --follow --color never "$log" >"$tmp/follow.out" 2>"$tmp/follow.err" &
    pid=$!
    sleep 0.5
    sed -n "41,100p" "$src" >>"$log"
    sleep 0.5
    mv "$log" "$log.1"
    sed -n "101,$((total - 1))p" "$src" >"$log"
    sleep 0.5
    last=$(tail -n 1 "$src")
    printf '%s' "$last" | cut -c1-50 | tr -d '\n' >>"$log"
    sleep 0.5
    printf '%s\n' "$last" | cut -c51- >>"$log"
    want=$(wc -l <"$here/expected/proxy.pretty.out")
    i=0
    while [ "$(wc -l <"$tmp/follow.out")" -lt "$want" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    count=$((count + 1))
    if [ $update -eq 1 ]; then
        return
    fi
    if ! diff -u "$here/expected/proxy.pretty.out" "$tmp/follow.out" >"$tmp/diff"; then
        echo "FAIL follow: the transcript of the growing, rotated log differs"
        cat "$tmp/diff"
        fail=1
    elif [ -s "$tmp/follow.err" ]; then
        echo "FAIL follow: stderr:"
        cat "$tmp/follow.err"
        fail=1
    else
        echo "ok   follow"
    fi
}
follow

if [ $update -eq 1 ]; then
    echo "updated $count cases in $here/expected"
    exit 0
fi
[ $fail -eq 0 ] && echo "tools: $count cases passed"
exit $fail
