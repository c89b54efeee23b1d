/*
 * stats.h - the `imaptap stats` subcommand: one pass over a log, in memory
 * that does not grow with its size.
 *
 * `--json` writes one object, schema "imaptap-stats/1" (new keys may be
 * added; existing ones keep their meaning).  A TABLE is
 * {"items": [{"key": K, "count": N}, ...], "other": N}: items sorted by count
 * (descending) then key; at most STATS_KEYS_MAX (10000) distinct keys are
 * counted exactly, and "other" counts those first seen after the table was
 * full.  Durations are milliseconds rounded to 0.001; latency percentiles
 * come from a log-linear histogram whose bucket bounds grow by 2%: a
 * reported p50/p95/p99 is within 1% of the nearest-rank value (and within
 * the observed min..max); with 32 values or fewer they are exact, and max
 * always is.
 *
 *   "format": "imaptap-stats/1",
 *   "input": {"files": N, "bytes": N, "events": N, "bad_lines": N,
 *             "first_ts": TS|null, "last_ts": TS|null},   earliest and latest ts
 *   "sessions": {"count": N,           sessions seen (with or without session_open)
 *                "opened": N,          session_open lines
 *                "closed": N,          session_close lines
 *                "open_at_end": N,     no session_close before the end of the input
 *                "by_user": TABLE,     last user of an OK auth or of session_close; "(none)"
 *                "by_client": TABLE,   client address of session_open; "(unknown)"
 *                "by_close_reason": TABLE,  "(open)" for sessions open at the end
 *                "by_tls_client": TABLE,    TLS version on the client leg; "(none)"
 *                "by_tls_server": TABLE},   on the server leg
 *   "commands": {"count": N, "completed": N, "ok": N, "no": N, "bad": N,
 *                "by_cmd": [{"cmd": C, "count": N, "completed": N, "ok": N, "no": N,
 *                            "bad": N, "latency_ms": {"p50": X, "p95": X, "p99": X,
 *                            "max": X} | null}, ...]},  sorted by count, then cmd;
 *                 after STATS_CMDS_MAX (256) names, the rest are counted as "(other)"
 *   "auth": {"ok": N, "no": N, "bad": N,    auth events with a status
 *            "by_mech": TABLE,              "LOGIN" or "AUTHENTICATE <mech>"
 *            "failed_by_user": TABLE},      users of NO/BAD attempts
 *   "untagged": TABLE,                 by response name
 *   "bytes": {"c2s": N, "s2c": N},     from session_close lines
 *   "idle": {"count": N, "done": N, "total_ms": X, "median_ms": X|null, "max_ms": X|null},
 *   "keepalive": {"sent": N, "ok": N, "no": N, "bad": N, "released": N, "idle_start": N,
 *                 "idle_done": N, "held": N, "latency_ms": {...}|null},
 *   "parse_errors": {"count": N, "by_reason": TABLE},
 *   "limits": {"count": N, "by_what": TABLE},
 *   "anomalies": {"count": N, "by_kind": TABLE},
 *   "slowest": [{"ms": X, "ts": TS, "sid": S, "tag": T, "cmd": C, "status": S}, ...]
 *              the 10 slowest completions (tagged lines with ms, IDLE left
 *              out: it lasts as long as the client wants), slowest first
 */
#ifndef STATS_H
#define STATS_H

#define STATS_KEYS_MAX 10000
#define STATS_CMDS_MAX 256

/*
 * Runs `imaptap stats [--json] [LOG...]` with argv[0] = "stats"; reads stdin
 * when no LOG is given.  Returns the exit status: 0, 1 (a read or write
 * error, out of memory), 2 (a bad option, a LOG that cannot be opened, or
 * lines that could not be read, each reported as FILE:LINE).
 */
int stats_main(int argc, char **argv);

#endif
