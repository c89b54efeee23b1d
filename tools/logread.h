/*
 * logread.h - reading imaptap's JSON-lines log (schema v1) for the tools
 * people use on it: `imaptap pretty`, `imaptap stats`, `imaptap report`.
 *
 * A reader goes through one or more files (or stdin) line by line, in
 * constant memory whatever their size.  A line that is not a JSON object is
 * reported with its file and line number and skipped; the rest is still
 * read.  A truncated last line (no newline at the end of the file) is
 * reported the same way unless following the file.
 */
#ifndef LOGREAD_H
#define LOGREAD_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

struct logread;

/* Called for every line that cannot be read as an event (may be NULL:
 * then a one-line warning goes to stderr). */
typedef void logread_warn_cb(void *arg, const char *path, unsigned long lineno, const char *why);

/* paths: NULL-terminated list; none, or "-", reads stdin.  follow: keep
 * reading the last file as it grows (like tail -f).  Returns NULL with a
 * one-line message in err when a file cannot be opened. */
struct logread *logread_open(const char *const *paths, int follow, logread_warn_cb *warn,
                             void *warn_arg, char *err, size_t errlen);

/*
 * The next event: returns 1 and a new reference in *ev_r (the caller
 * json_decref()s it), 0 at the end of the input (never when following),
 * -1 on a read error (err set).  *where_r, when not NULL, names the file
 * and line ("log.jsonl:42") until the next call.
 */
int logread_next(struct logread *lr, json_t **ev_r, const char **where_r, char *err,
                 size_t errlen);

/* Bytes read so far and the total size of the files (0 when unknown, e.g.
 * stdin): for a progress line. */
uint64_t logread_bytes(const struct logread *lr);
uint64_t logread_total(const struct logread *lr);
/* Lines skipped as unreadable. */
unsigned long logread_bad_lines(const struct logread *lr);

void logread_close(struct logread *lr);

/* Helpers over one event: a string field (NULL when absent or not a
 * string), an integer (def when absent), a number as double (def). */
const char *ev_str(const json_t *ev, const char *key);
int64_t ev_int(const json_t *ev, const char *key, int64_t def);
double ev_num(const json_t *ev, const char *key, double def);
/* "2026-11-25T09:14:03.120441Z" to microseconds since the epoch (-1 if bad). */
int64_t ev_ts_us(const json_t *ev);

#endif
