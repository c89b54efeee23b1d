/*
 * options.h - imaptap's command line and config file (design.md §1).
 *
 * Every option has a long name; the config file (--config FILE) takes the
 * same names as "name = value" lines.  A bad value, URL, file or key is one
 * line on stderr naming it, and exit status 2.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "imap_session.h"
#include "jlog.h"

#define OPT_MAX_PAIRS 16

enum url_scheme {
    URL_IMAP,          /* cleartext (STARTTLS offered/used on request) */
    URL_IMAPS,         /* implicit TLS */
    URL_IMAP_STARTTLS, /* upstream only: imaptap upgrades with STARTTLS itself */
};

struct url {
    enum url_scheme scheme;
    char host[256];
    char port[8];
    char text[300]; /* as given, for the log */
};

enum ka_mode {
    KA_MODE_NOOP,
    KA_MODE_IDLE,
};

struct options {
    struct url listen[OPT_MAX_PAIRS];
    size_t nlisten;
    struct url upstream[OPT_MAX_PAIRS];
    size_t nupstream;
    const char *cert, *key;
    const char *upstream_ca;
    int upstream_insecure;
    const char *log_path; /* "-" = stdout */
    const char *capture_dir;
    struct jlog_opts log; /* literals, redact, overflow */
    int redact;
    int require_tls;
    unsigned max_sessions;
    unsigned drain_s;
    size_t buffer_max; /* per direction */
    uint32_t c2s_line_max, s2c_line_max;
    unsigned keepalive_s; /* 0 = off */
    enum imap_keepalive_cmd keepalive_cmd;
    enum ka_mode keepalive_mode;
    unsigned keepalive_max_s;
    const char *keepalive_prefix;
    int compress_strip;
    const char *keylog; /* later: SSLKEYLOGFILE */
    const char *config;
};

/* Fills defaults. */
void options_default(struct options *o);

/*
 * Parses argv (argv[0] is the program).  Returns 0 when the proxy should
 * run, 1 when --help or --version was handled (exit 0), or 2 after printing
 * one line about what is wrong (exit 2).
 */
int options_parse(struct options *o, int argc, char **argv);

/* Frees what parsing the config file allocated. */
void options_free(struct options *o);

/* The upstream a listener relays to. */
const struct url *options_upstream_for(const struct options *o, size_t listener);

/* Parses "imap://host:port" style URLs; upstream allows imap+starttls. */
int url_parse(const char *text, int upstream, struct url *u, char *err, size_t errlen);

#endif
