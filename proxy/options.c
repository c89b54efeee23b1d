/* options.c - command line and config file (see options.h). */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_LINE_MAX 4096

/* Where the option being applied came from: "" for the command line,
 * "FILE:LINE: " for the config file, so every error stays one line. */
static char where[300];

static void opt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void opt_err(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "imaptap: %s", where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Strings from the config file live as long as the options. */
struct kept {
    struct kept *next;
    char s[];
};
static struct kept *kept_strings;

static char *keep(const char *s)
{
    size_t n = strlen(s) + 1;
    struct kept *k = malloc(sizeof(*k) + n);

    if (k == NULL)
        return NULL;
    memcpy(k->s, s, n);
    k->next = kept_strings;
    kept_strings = k;
    return k->s;
}

void options_free(struct options *o)
{
    (void)o;
    while (kept_strings != NULL) {
        struct kept *next = kept_strings->next;
        free(kept_strings);
        kept_strings = next;
    }
}

void options_default(struct options *o)
{
    memset(o, 0, sizeof(*o));
    jlog_opts_default(&o->log);
    o->log.threaded = 1;
    o->redact = 1;
    o->log_path = "-";
    o->max_sessions = 10000;
    o->drain_s = 10;
    o->buffer_max = 256 * 1024;
    o->keepalive_cmd = IMAP_KA_NOOP;
    o->keepalive_mode = KA_MODE_NOOP;
    o->keepalive_max_s = 24 * 3600;
    o->keepalive_prefix = "PXK";
    o->compress_strip = 1;
}

static void usage(void)
{
    printf(
        "usage: imaptap -l URL -u URL [options]\n"
        "       imaptap decode [--log-literals P] [--no-redact] [--rawlog|--pcap] FILE...\n"
        "       imaptap pretty [--session SID] [--follow] [filters] [LOG...]\n"
        "       imaptap stats [--json] [LOG...]\n"
        "       imaptap report [LOG...] -o report.html\n"
        "\n"
        "An IMAP proxy that relays a client and a server byte for byte and logs\n"
        "both directions as JSON lines (one event per line).\n"
        "\n"
        "  -l, --listen URL         where clients connect (repeatable):\n"
        "                           imaps://HOST:PORT (implicit TLS) or imap://HOST:PORT\n"
        "                           (cleartext; STARTTLS offered when --cert is given)\n"
        "  -u, --upstream URL       the server (repeatable, pairs with -l in order; one\n"
        "                           -u serves every listener): imaps://, imap:// or\n"
        "                           imap+starttls:// (imaptap upgrades it itself)\n"
        "      --cert FILE          certificate (PEM, chain allowed) shown to clients\n"
        "      --key FILE           its private key (PEM)\n"
        "      --upstream-ca FILE   CA bundle to verify the server (default: system store)\n"
        "      --upstream-insecure  do not verify the server's certificate\n"
        "      --require-tls        refuse LOGIN/AUTHENTICATE on cleartext client legs\n"
        "                           and advertise LOGINDISABLED there\n"
        "      --log FILE|-         the JSON-lines log (default: - = stdout); SIGHUP reopens\n"
        "      --log-literals P     none | size | head:N | full (default: size)\n"
        "      --log-overflow M     block | drop: when the log falls behind, slow the\n"
        "                           sessions down or drop lines and count them (default: block)\n"
        "      --no-redact          log passwords and SASL data in clear (lab use only)\n"
        "      --capture DIR        write each session's raw bytes to DIR/<time>-<sid>.cap\n"
        "      --max-sessions N     sessions at once (default: 10000)\n"
        "      --drain SECONDS      on SIGTERM, let sessions finish this long (default: 10)\n"
        "      --buffer BYTES       relay buffer per direction (default: 262144)\n"
        "      --line-max-c2s BYTES longest command line logged whole (default: 65536)\n"
        "      --line-max-s2c BYTES longest response line logged whole (default: 1048576)\n"
        "      --keepalive SECONDS  keep idle sessions logged in upstream (default: 0 = off;\n"
        "                           240-300 recommended)\n"
        "      --keepalive-command noop|search  in the selected state (default: noop)\n"
        "      --keepalive-mode noop|idle       (default: noop)\n"
        "      --keepalive-max SECONDS  stop keeping a silent client alive after this\n"
        "                           (default: 86400)\n"
        "      --keylog FILE        write the TLS secrets of both legs to FILE (SSLKEYLOGFILE\n"
        "                           format, for Wireshark); off by default: anyone with the\n"
        "                           file and a packet capture can read every session\n"
        "      --config FILE        read options from FILE (name = value per line)\n"
        "  -h, --help               this text\n"
        "  -V, --version            the version\n");
}

int url_parse(const char *text, int upstream, struct url *u, char *err, size_t errlen)
{
    const char *p, *host, *host_end, *port = NULL;
    size_t hl;

    memset(u, 0, sizeof(*u));
    snprintf(u->text, sizeof(u->text), "%s", text);
    if (strncmp(text, "imaps://", 8) == 0) {
        u->scheme = URL_IMAPS;
        p = text + 8;
    } else if (strncmp(text, "imap+starttls://", 16) == 0) {
        if (!upstream) {
            snprintf(err, errlen,
                     "imap+starttls:// is for --upstream only; a listener "
                     "offers STARTTLS as imap://");
            return -1;
        }
        u->scheme = URL_IMAP_STARTTLS;
        p = text + 16;
    } else if (strncmp(text, "imap://", 7) == 0) {
        u->scheme = URL_IMAP;
        p = text + 7;
    } else {
        snprintf(err, errlen, "\"%s\": the URL must start with imaps://, imap://%s", text,
                 upstream ? " or imap+starttls://" : "");
        return -1;
    }
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL) {
            snprintf(err, errlen, "\"%s\": missing \"]\" after the IPv6 address", text);
            return -1;
        }
        p = host_end + 1;
    } else {
        host = p;
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    if (*p == ':') {
        port = p + 1;
        p = port + strspn(port, "0123456789");
    }
    if (*p == '/')
        p++;
    if (*p != '\0') {
        snprintf(err, errlen, "\"%s\": unexpected \"%s\" after host and port", text, p);
        return -1;
    }
    hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(u->host)) {
        snprintf(err, errlen, "\"%s\": no host", text);
        return -1;
    }
    memcpy(u->host, host, hl);
    if (port != NULL) {
        char *end;
        unsigned long v = strtoul(port, &end, 10);
        if (end == port || v == 0 || v > 65535) {
            snprintf(err, errlen, "\"%s\": the port must be 1-65535", text);
            return -1;
        }
        snprintf(u->port, sizeof(u->port), "%lu", v);
    } else {
        snprintf(u->port, sizeof(u->port), "%s", u->scheme == URL_IMAPS ? "993" : "143");
    }
    return 0;
}

static int parse_uint(const char *name, const char *v, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    char *end;
    unsigned long n;

    errno = 0;
    if (!isdigit((unsigned char)*v)) {
        opt_err("--%s: \"%s\" is not a number", name, v);
        return -1;
    }
    n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        opt_err("--%s: \"%s\" must be a whole number from %lu to %lu", name, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_bool(const char *name, const char *v, int *out)
{
    if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    opt_err("%s: \"%s\" must be true or false", name, v);
    return -1;
}

static int readable_file(const char *name, const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
        opt_err("--%s %s: %s", name, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        opt_err("--%s %s: not a regular file", name, path);
        return -1;
    }
    return 0;
}

enum {
    O_CERT = 256,
    O_KEY,
    O_UPSTREAM_CA,
    O_UPSTREAM_INSECURE,
    O_LOG,
    O_LOG_LITERALS,
    O_LOG_OVERFLOW,
    O_NO_REDACT,
    O_CAPTURE,
    O_REQUIRE_TLS,
    O_MAX_SESSIONS,
    O_DRAIN,
    O_BUFFER,
    O_LINE_C2S,
    O_LINE_S2C,
    O_KEEPALIVE,
    O_KA_CMD,
    O_KA_MODE,
    O_KA_MAX,
    O_CONFIG,
    O_KEYLOG,
};

static const struct option longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"upstream", required_argument, NULL, 'u'},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"upstream-ca", required_argument, NULL, O_UPSTREAM_CA},
    {"upstream-insecure", no_argument, NULL, O_UPSTREAM_INSECURE},
    {"log", required_argument, NULL, O_LOG},
    {"log-literals", required_argument, NULL, O_LOG_LITERALS},
    {"log-overflow", required_argument, NULL, O_LOG_OVERFLOW},
    {"no-redact", no_argument, NULL, O_NO_REDACT},
    {"capture", required_argument, NULL, O_CAPTURE},
    {"require-tls", no_argument, NULL, O_REQUIRE_TLS},
    {"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
    {"drain", required_argument, NULL, O_DRAIN},
    {"buffer", required_argument, NULL, O_BUFFER},
    {"line-max-c2s", required_argument, NULL, O_LINE_C2S},
    {"line-max-s2c", required_argument, NULL, O_LINE_S2C},
    {"keepalive", required_argument, NULL, O_KEEPALIVE},
    {"keepalive-command", required_argument, NULL, O_KA_CMD},
    {"keepalive-mode", required_argument, NULL, O_KA_MODE},
    {"keepalive-max", required_argument, NULL, O_KA_MAX},
    {"config", required_argument, NULL, O_CONFIG},
    {"keylog", required_argument, NULL, O_KEYLOG},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int read_config(struct options *o, const char *path, int depth);

/* One option from the command line or the config file. */
static int apply(struct options *o, int id, const char *name, const char *v, int depth)
{
    char err[400];
    unsigned long n;
    int b;

    switch (id) {
    case 'l':
    case 'u': {
        int up = id == 'u';
        size_t *count = up ? &o->nupstream : &o->nlisten;
        if (*count >= OPT_MAX_PAIRS) {
            opt_err("--%s: at most %d", name, OPT_MAX_PAIRS);
            return -1;
        }
        if (url_parse(v, up, up ? &o->upstream[*count] : &o->listen[*count], err, sizeof(err)) <
            0) {
            opt_err("--%s: %s", name, err);
            return -1;
        }
        (*count)++;
        return 0;
    }
    case O_CERT:
        o->cert = v;
        return readable_file(name, v);
    case O_KEY:
        o->key = v;
        return readable_file(name, v);
    case O_UPSTREAM_CA:
        o->upstream_ca = v;
        return readable_file(name, v);
    case O_UPSTREAM_INSECURE:
        return parse_bool(name, v, &o->upstream_insecure);
    case O_LOG:
        o->log_path = v;
        return 0;
    case O_LOG_LITERALS:
        if (jlog_parse_literals(v, &o->log) < 0) {
            opt_err("--%s: \"%s\" is not none, size, head:N or full", name, v);
            return -1;
        }
        return 0;
    case O_LOG_OVERFLOW:
        if (strcmp(v, "block") == 0)
            o->log.overflow = JLOG_OVERFLOW_BLOCK;
        else if (strcmp(v, "drop") == 0)
            o->log.overflow = JLOG_OVERFLOW_DROP;
        else {
            opt_err("--%s: \"%s\" is not block or drop", name, v);
            return -1;
        }
        return 0;
    case O_NO_REDACT:
        if (parse_bool(name, v, &b) < 0)
            return -1;
        o->redact = !b;
        return 0;
    case O_CAPTURE: {
        struct stat st;
        if (stat(v, &st) < 0 || !S_ISDIR(st.st_mode) || access(v, W_OK | X_OK) < 0) {
            opt_err("--%s %s: not a writable directory%s%s", name, v, errno ? ": " : "",
                    errno ? strerror(errno) : "");
            return -1;
        }
        o->capture_dir = v;
        return 0;
    }
    case O_REQUIRE_TLS:
        return parse_bool(name, v, &o->require_tls);
    case O_MAX_SESSIONS:
        if (parse_uint(name, v, 1, 1000000, &n) < 0)
            return -1;
        o->max_sessions = (unsigned)n;
        return 0;
    case O_DRAIN:
        if (parse_uint(name, v, 0, 86400, &n) < 0)
            return -1;
        o->drain_s = (unsigned)n;
        return 0;
    case O_BUFFER:
        if (parse_uint(name, v, 16384, 64ul * 1024 * 1024, &n) < 0)
            return -1;
        o->buffer_max = n;
        return 0;
    case O_LINE_C2S:
    case O_LINE_S2C:
        if (parse_uint(name, v, 1024, 64ul * 1024 * 1024, &n) < 0)
            return -1;
        if (id == O_LINE_C2S)
            o->c2s_line_max = (uint32_t)n;
        else
            o->s2c_line_max = (uint32_t)n;
        return 0;
    case O_KEEPALIVE:
        if (parse_uint(name, v, 0, 86400, &n) < 0)
            return -1;
        o->keepalive_s = (unsigned)n;
        return 0;
    case O_KA_CMD:
        if (strcmp(v, "noop") == 0)
            o->keepalive_cmd = IMAP_KA_NOOP;
        else if (strcmp(v, "search") == 0)
            o->keepalive_cmd = IMAP_KA_SEARCH;
        else {
            opt_err("--%s: \"%s\" is not noop or search", name, v);
            return -1;
        }
        return 0;
    case O_KA_MODE:
        if (strcmp(v, "noop") == 0)
            o->keepalive_mode = KA_MODE_NOOP;
        else if (strcmp(v, "idle") == 0)
            o->keepalive_mode = KA_MODE_IDLE;
        else {
            opt_err("--%s: \"%s\" is not noop or idle", name, v);
            return -1;
        }
        return 0;
    case O_KA_MAX:
        if (parse_uint(name, v, 1, 365ul * 86400, &n) < 0)
            return -1;
        o->keepalive_max_s = (unsigned)n;
        return 0;
    case O_KEYLOG:
        o->keylog = v;
        return 0;
    case O_CONFIG:
        if (depth > 0) {
            opt_err("%s: config files cannot include others", v);
            return -1;
        }
        o->config = v;
        return read_config(o, v, depth + 1);
    default:
        return -1;
    }
}

static int read_config(struct options *o, const char *path, int depth)
{
    FILE *f = fopen(path, "r");
    char line[CONFIG_LINE_MAX];
    unsigned lineno = 0;

    if (f == NULL) {
        opt_err("--config %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *k, *v, *eq, *end;
        const struct option *opt;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            opt_err("%s:%u: line too long", path, lineno);
            goto fail;
        }
        k = line + strspn(line, " \t");
        if (*k == '#' || *k == '\n' || *k == '\0')
            continue;
        end = k + strlen(k);
        while (end > k && isspace((unsigned char)end[-1]))
            *--end = '\0';
        eq = strchr(k, '=');
        if (eq != NULL) {
            v = eq + 1 + strspn(eq + 1, " \t");
            while (eq > k && (eq[-1] == ' ' || eq[-1] == '\t'))
                eq--;
            *eq = '\0';
        } else {
            v = NULL;
        }
        for (opt = longopts; opt->name != NULL; opt++)
            if (strcmp(opt->name, k) == 0)
                break;
        if (opt->name == NULL || opt->val == 'h' || opt->val == 'V') {
            opt_err("%s:%u: unknown option \"%s\"", path, lineno, k);
            goto fail;
        }
        if (opt->has_arg == required_argument && (v == NULL || *v == '\0')) {
            opt_err("%s:%u: \"%s\" needs a value (%s = ...)", path, lineno, k, k);
            goto fail;
        }
        if (v != NULL && (v = keep(v)) == NULL) {
            opt_err("out of memory");
            goto fail;
        }
        snprintf(where, sizeof(where), "%.250s:%u: ", path, lineno);
        if (apply(o, opt->val, opt->name, v, depth) < 0)
            goto fail;
        where[0] = '\0';
    }
    fclose(f);
    return 0;
fail:
    where[0] = '\0';
    fclose(f);
    return -1;
}

const struct url *options_upstream_for(const struct options *o, size_t listener)
{
    return &o->upstream[o->nupstream == 1 ? 0 : listener];
}

static int validate(struct options *o)
{
    size_t i;
    int any_tls_listener = 0;

    if (o->nlisten == 0) {
        opt_err("no --listen URL (e.g. -l imaps://0.0.0.0:10993); see --help");
        return -1;
    }
    if (o->nupstream == 0) {
        opt_err("no --upstream URL (e.g. -u imaps://mail.example.com); see --help");
        return -1;
    }
    if (o->nupstream != 1 && o->nupstream != o->nlisten) {
        opt_err("%zu --upstream for %zu --listen: give one, or one per listener", o->nupstream,
                o->nlisten);
        return -1;
    }
    for (i = 0; i < o->nlisten; i++)
        if (o->listen[i].scheme == URL_IMAPS)
            any_tls_listener = 1;
    if ((o->cert == NULL) != (o->key == NULL)) {
        opt_err("--cert and --key go together");
        return -1;
    }
    if (any_tls_listener && o->cert == NULL) {
        opt_err("an imaps:// listener needs --cert and --key");
        return -1;
    }
    if (o->require_tls && o->cert == NULL) {
        opt_err("--require-tls needs --cert and --key, or no client could ever log in");
        return -1;
    }
    if (o->upstream_insecure && o->upstream_ca != NULL) {
        opt_err("--upstream-ca and --upstream-insecure contradict each other");
        return -1;
    }
    if (o->keepalive_s > 0 && (o->keepalive_s < 30 || o->keepalive_s > 1740))
        fprintf(stderr,
                "imaptap: warning: --keepalive %u is outside 30-1740 s; 240-300 s suits "
                "most servers and NATs\n",
                o->keepalive_s);
    o->log.redact = o->redact;
    return 0;
}

int options_parse(struct options *o, int argc, char **argv)
{
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":l:u:hV", longopts, NULL)) != -1) {
        const char *name = NULL;
        const struct option *opt;
        for (opt = longopts; opt->name != NULL; opt++)
            if (opt->val == c)
                name = opt->name;
        switch (c) {
        case 'h':
            usage();
            return 1;
        case 'V':
            printf("imaptap %s\n", IMAPTAP_VERSION);
            return 1;
        case ':':
            opt_err("%s needs a value; see --help", argv[optind - 1]);
            return 2;
        case '?':
            opt_err("unknown option \"%s\"; see --help", argv[optind - 1]);
            return 2;
        default:
            if (apply(o, c, name, optarg, 0) < 0)
                return 2;
        }
    }
    if (optind < argc) {
        opt_err("unexpected argument \"%s\"; see --help", argv[optind]);
        return 2;
    }
    return validate(o) < 0 ? 2 : 0;
}
