/*
 * bench_tlsmem.c - what OpenSSL alone holds for one idle imaptap session
 * (tools/bench.sh runs it; `make bench`).
 *
 *   bench_tlsmem CERT KEY [N]
 *
 * An imaptap session with TLS on both legs holds two OpenSSL connections: a
 * server-side one towards the client and a client-side one towards the
 * server.  This program makes N such pairs in one process with imaptap's own
 * contexts (proxy/tls.c), each pair over a socketpair, completes the
 * handshakes, sends one short record each way (a greeting and a NOOP) so the
 * connections are where an idle authenticated session is, and reports the
 * growth of the resident set per pair: both kept, then each kind alone (the
 * other freed at once).  It is the floor under the proxy benchmark's memory
 * per idle session.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

/* Drives both ends until each has read what the other wrote. */
static int exchange(SSL *server, SSL *client)
{
    char buf[64];
    int i, got_c = 0, got_s = 0;

    for (i = 0; i < 64 && !(SSL_is_init_finished(server) && SSL_is_init_finished(client)); i++) {
        SSL_do_handshake(client);
        SSL_do_handshake(server);
    }
    if (!SSL_is_init_finished(server) || !SSL_is_init_finished(client))
        return -1;
    if (SSL_write(server, "* OK ready\r\n", 12) != 12)
        return -1;
    for (i = 0; i < 16 && !got_c; i++)
        got_c = SSL_read(client, buf, sizeof(buf)) > 0;
    if (SSL_write(client, "a1 NOOP\r\n", 9) != 9)
        return -1;
    for (i = 0; i < 16 && !got_s; i++)
        got_s = SSL_read(server, buf, sizeof(buf)) > 0;
    return got_c && got_s ? 0 : -1;
}

/* keep: 1 the server side, 2 the client side, 3 both.  Returns KB per
 * connection pair kept (the kinds not kept are freed at once), or -1. */
static double measure(SSL_CTX *sctx, SSL_CTX *cctx, int n, int keep)
{
    SSL **kept = calloc((size_t)n * 2, sizeof(*kept));
    int *fds = calloc((size_t)n * 2, sizeof(*fds));
    long before = 0, after;
    int i, k = 0, nf = 0;
    double result = -1;

    if (kept == NULL || fds == NULL)
        goto out;
    for (i = -1; i < n; i++) { /* i == -1: one pair to warm up, not counted */
        int sv[2];
        SSL *server, *client;

        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            goto out;
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        server = SSL_new(sctx);
        client = tls_client_ssl(cctx, "localhost", 1);
        if (server == NULL || client == NULL || !SSL_set_fd(server, sv[0]) ||
            !SSL_set_fd(client, sv[1])) {
            SSL_free(server);
            SSL_free(client);
            close(sv[0]);
            close(sv[1]);
            goto out;
        }
        SSL_set_accept_state(server);
        SSL_set_connect_state(client);
        if (exchange(server, client) < 0) {
            fprintf(stderr, "bench_tlsmem: handshake failed\n");
            ERR_print_errors_fp(stderr);
            SSL_free(server);
            SSL_free(client);
            close(sv[0]);
            close(sv[1]);
            goto out;
        }
        fds[nf++] = sv[0];
        fds[nf++] = sv[1];
        if (i < 0) {
            SSL_free(server);
            SSL_free(client);
            before = rss_kb();
            continue;
        }
        if (keep & 1)
            kept[k++] = server;
        else
            SSL_free(server);
        if (keep & 2)
            kept[k++] = client;
        else
            SSL_free(client);
    }
    after = rss_kb();
    if (before > 0 && after > 0)
        result = (double)(after - before) / n;
out:
    for (i = 0; i < k; i++)
        SSL_free(kept[i]);
    for (i = 0; i < nf; i++)
        close(fds[i]);
    free(kept);
    free(fds);
    return result;
}

/* Each figure in a child of its own, so that no measurement reuses memory
 * an earlier one freed. */
static int report(SSL_CTX *sctx, SSL_CTX *cctx, int n, int keep, const char *name)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        double kb = measure(sctx, cctx, n, keep);
        if (kb < 0)
            _exit(1);
        printf("bench %s %.1f KB\n", name, kb);
        fflush(stdout);
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    SSL_CTX *sctx, *cctx;
    int n = argc > 3 ? atoi(argv[3]) : 1000, rc = 0;

    if (argc < 3 || n <= 0) {
        fprintf(stderr, "usage: bench_tlsmem CERT KEY [N]\n");
        return 2;
    }
    sctx = tls_server_ctx(argv[1], argv[2], err, sizeof(err));
    if (sctx == NULL) {
        fprintf(stderr, "bench_tlsmem: %s\n", err);
        return 2;
    }
    cctx = tls_client_ctx(NULL, 1, err, sizeof(err));
    if (cctx == NULL) {
        fprintf(stderr, "bench_tlsmem: %s\n", err);
        SSL_CTX_free(sctx);
        return 2;
    }
    fflush(stdout);
    if (report(sctx, cctx, n, 3, "tls_idle_pair") < 0 ||
        report(sctx, cctx, n, 1, "tls_idle_server_side") < 0 ||
        report(sctx, cctx, n, 2, "tls_idle_client_side") < 0)
        rc = 1;
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return rc;
}
