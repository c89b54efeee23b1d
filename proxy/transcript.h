/*
 * transcript.h - recorded sessions as text, for `imaptap decode` and tests.
 *
 * Three forms are read:
 *   - JSON lines, one chunk per line:
 *       {"dir": "c2s"|"s2c", "data": "a1 NOOP\r\n"}      bytes as UTF-8 text
 *       {"dir": "s2c", "b64": "KiBPSw0K", "ts": 1764059643.12}  any bytes
 *     with an optional "ts" (seconds since the epoch, or an RFC 3339 string)
 *     and markers {"dir": "tls"|"timer"|"c2s_eof"|"s2c_eof"};
 *   - one test case object (protocol.md §8: "timeline", "config", ...), whose
 *     strings map each character U+0000-U+00FF to one byte;
 *   - a JSON array of such cases (../shared/corpus/transcripts.json).
 * Raw captures (logger/capture.h) are read by decode directly.
 */
#ifndef TRANSCRIPT_H
#define TRANSCRIPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "imap_session.h"
#include "replay.h"

struct tr_step {
    int is_marker;
    enum imap_dir dir;         /* chunk */
    enum replay_marker marker; /* marker */
    unsigned char *data;
    size_t len;
    int64_t ts_us; /* 0 when the transcript has none */
};

struct tr_session {
    char *name;
    struct tr_step *steps;
    size_t nsteps;
    json_t *obj; /* the case object (config, expected events...), or NULL */
};

struct tr_file {
    struct tr_session *sessions;
    size_t nsessions;
};

/* Loads path.  Returns 0, or -1 with "PATH:LINE: what is wrong" in err. */
int tr_load(const char *path, struct tr_file *tf, char *err, size_t errlen);
void tr_free(struct tr_file *tf);

/* Maps a case's "config" object onto session options.  Returns 0, or -1 with
 * a message naming the bad key. */
int tr_apply_config(const json_t *config, struct imap_session_config *cfg, char *err,
                    size_t errlen);

/* Decodes a latin-1-mapped JSON string (each char U+0000-U+00FF one byte)
 * into a new buffer.  Returns NULL when a char is above U+00FF. */
unsigned char *tr_latin1_bytes(const char *utf8, size_t utf8_len, size_t *len_r);

#endif
