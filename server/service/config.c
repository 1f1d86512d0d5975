/* fm_config: defaults, the config file and flag values. See config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fm_config_defaults(fm_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "./fetalmon-data");
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->port = 8080;
    c->max_upload_bytes = (int64_t)1 << 30; /* 1 GiB: hours of 8 kHz 16-bit audio */
    c->max_json_bytes = 64 * 1024;
    c->session_ttl_s = 12 * 3600;
    c->device_token_ttl_s = 365 * 24 * 3600;
    c->api_workers = 4;
    c->analysis_workers = 1;
    c->ingest_workers = 8; /* fdatasync-bound: parallel syncs share journal commits */
    c->live_workers = 2;
    c->stream_stall_s = 30; /* CLINICAL 5, issue 6 */
    c->alert_escalate_s = 120;
    c->webhook_timeout_ms = 5000;
    c->webhook_max_attempts = 0;
    c->webhook_backoff_initial_ms = 500;
    c->webhook_backoff_max_ms = 60000;
    c->webhook_queue_max = 10000;
    c->login_max_failures = 5;
    c->login_ip_max_failures = 30; /* a clinic behind one NAT address has many users */
    c->login_window_s = 15 * 60;
    c->http_timeout_s = 30;
    c->max_connections = 0;
    c->upload_incomplete_s = 30 * 60;
    c->upload_expire_s = 7 * 24 * 3600;
    /* Off by default: on this project's shared test VM the single commit pipeline stalled
     * behind a busy disk (bench_server_load, docs/api.md); per-stream syncs degrade more
     * gracefully there. On a dedicated data disk, measure both. */
    c->ingest_group_commit = 0;
    c->ingest_checkpoint_s = 20;
    c->stream_finish_s = 2 * 3600;
    c->malloc_arenas = 0;
    c->memory_trim_s = 60; /* docs/hardening.md "Soak": RSS follows the live heap */
}

static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || errno)
        return -1;
    /* Size suffixes for byte counts (a multiple that would overflow is out of range). */
    long long mult = *end == 'k' || *end == 'K' ? 1024 : *end == 'M' ? 1024 * 1024
                     : *end == 'G'              ? 1024LL * 1024 * 1024
                                                : 1;
    if (mult > 1) {
        if (x > LLONG_MAX / mult || x < LLONG_MIN / mult)
            return -1;
        x *= mult, end++;
    }
    if (*end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

fm_svc_status fm_config_set_listen(fm_config *c, const char *hp, char *err, size_t err_len)
{
    const char *colon = strrchr(hp, ':');
    const char *port = colon ? colon + 1 : hp;
    size_t hl = colon ? (size_t)(colon - hp) : 0;
    int all_digits = *port != 0;
    for (const char *p = port; *p; p++)
        all_digits &= isdigit((unsigned char)*p) != 0;
    if (!colon && !all_digits) { /* just a host */
        port = NULL;
        hl = strlen(hp);
    }
    if (hl >= sizeof c->listen_host) {
        snprintf(err, err_len, "listen address too long");
        return FM_SVC_INVAL;
    }
    if (port) {
        int64_t v;
        if (parse_i64(port, 0, 65535, &v) != 0) {
            snprintf(err, err_len, "bad port in '%s' (want HOST:PORT, PORT 0..65535)", hp);
            return FM_SVC_INVAL;
        }
        c->port = (int)v;
    }
    if (hl) {
        memcpy(c->listen_host, hp, hl);
        c->listen_host[hl] = 0;
    }
    return FM_SVC_OK;
}

typedef struct int_key {
    const char *name;
    size_t off;
    int is64;
    int64_t lo, hi;
} int_key;

#define IK(f, lo, hi)                                                                              \
    {                                                                                              \
#f, offsetof(fm_config, f), 0, lo, hi                                                      \
    }
#define IK64(f, lo, hi)                                                                            \
    {                                                                                              \
#f, offsetof(fm_config, f), 1, lo, hi                                                      \
    }
static const int_key int_keys[] = {
    IK(port, 0, 65535),
    IK64(max_upload_bytes, 1024, (int64_t)1 << 40),
    IK64(max_json_bytes, 1024, 16 * 1024 * 1024),
    IK(session_ttl_s, 1, 366 * 24 * 3600),
    IK(device_token_ttl_s, 1, 10 * 366 * 24 * 3600),
    IK(api_workers, 1, 64),
    IK(analysis_workers, 1, 64),
    IK(ingest_workers, 1, 64),
    IK(login_max_failures, 1, 1000),
    IK(login_ip_max_failures, 1, 100000),
    IK(login_window_s, 1, 24 * 3600),
    IK(http_timeout_s, 1, 3600),
    IK(max_connections, 0, 1000000),
    IK(live_workers, 1, 64),
    IK(stream_stall_s, 1, 24 * 3600),
    IK(alert_escalate_s, 1, 24 * 3600),
    IK(webhook_timeout_ms, 100, 120000),
    IK(webhook_max_attempts, 0, 1000000),
    IK(webhook_backoff_initial_ms, 1, 3600000),
    IK(webhook_backoff_max_ms, 1, 24 * 3600000),
    IK(webhook_queue_max, 1, 10000000),
    IK(upload_incomplete_s, 1, 30 * 24 * 3600),
    IK(upload_expire_s, 1, 366 * 24 * 3600),
    IK(ingest_group_commit, 0, 1),
    IK(ingest_checkpoint_s, 1, 3600),
    IK(stream_finish_s, 1, 30 * 24 * 3600),
    IK(malloc_arenas, 0, 1024),
    IK(memory_trim_s, 0, 24 * 3600),
};

/* webhook_url: each value (one URL, or several separated by commas or spaces) adds to the list;
 * an empty value clears it (so a flag can drop what the file set). */
static fm_svc_status set_webhook_urls(fm_config *c, const char *value, char *err, size_t err_len)
{
    if (!*value) {
        c->n_webhook_urls = 0;
        return FM_SVC_OK;
    }
    const char *p = value;
    while (*p) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        if (!n)
            break;
        if (c->n_webhook_urls == FM_WEBHOOK_URLS_MAX || n >= sizeof c->webhook_urls[0]) {
            snprintf(err, err_len, "webhook_url: at most %d URLs of < %zu bytes",
                     FM_WEBHOOK_URLS_MAX, sizeof c->webhook_urls[0]);
            return FM_SVC_INVAL;
        }
        if (strncmp(p, "http://", 7)) {
            snprintf(err, err_len, "webhook_url: '%.*s' is not an http:// URL (https: not yet)",
                     (int)(n > 100 ? 100 : n), p);
            return FM_SVC_INVAL;
        }
        memcpy(c->webhook_urls[c->n_webhook_urls], p, n);
        c->webhook_urls[c->n_webhook_urls++][n] = 0;
        p += n;
    }
    return FM_SVC_OK;
}

/* The secret from a file (first line), so it need not sit in the config file or argv. */
static fm_svc_status set_webhook_secret_file(fm_config *c, const char *path, char *err,
                                             size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "webhook_secret_file: %s: %s", path, strerror(errno));
        return FM_SVC_INVAL;
    }
    char line[sizeof c->webhook_secret + 2] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    if (!ok || strlen(line) < 16 || strlen(line) >= sizeof c->webhook_secret) {
        snprintf(err, err_len, "webhook_secret_file: the first line must hold 16..255 bytes");
        return FM_SVC_INVAL;
    }
    snprintf(c->webhook_secret, sizeof c->webhook_secret, "%s", line);
    return FM_SVC_OK;
}

fm_svc_status fm_config_set(fm_config *c, const char *key, const char *value, char *err,
                            size_t err_len)
{
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } str_keys[] = {
        {"data_dir", c->data_dir, sizeof c->data_dir},
        {"tls_cert", c->tls_cert, sizeof c->tls_cert},
        {"tls_key", c->tls_key, sizeof c->tls_key},
        {"web_dir", c->web_dir, sizeof c->web_dir},
    };
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        if (strcmp(key, str_keys[i].name))
            continue;
        if (strlen(value) >= str_keys[i].cap) {
            snprintf(err, err_len, "%s: value too long", key);
            return FM_SVC_INVAL;
        }
        snprintf(str_keys[i].dst, str_keys[i].cap, "%s", value);
        return FM_SVC_OK;
    }
    if (!strcmp(key, "listen"))
        return fm_config_set_listen(c, value, err, err_len);
    if (!strcmp(key, "webhook_url"))
        return set_webhook_urls(c, value, err, err_len);
    if (!strcmp(key, "webhook_secret_file"))
        return set_webhook_secret_file(c, value, err, err_len);
    if (!strcmp(key, "webhook_secret")) {
        if (strlen(value) < 16 || strlen(value) >= sizeof c->webhook_secret) {
            snprintf(err, err_len, "webhook_secret: 16..255 bytes");
            return FM_SVC_INVAL;
        }
        snprintf(c->webhook_secret, sizeof c->webhook_secret, "%s", value);
        return FM_SVC_OK;
    }
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
        const int_key *k = &int_keys[i];
        if (strcmp(key, k->name))
            continue;
        int64_t v;
        if (parse_i64(value, k->lo, k->hi, &v) != 0) {
            snprintf(err, err_len, "%s: '%s' is not a number in %lld..%lld", key, value,
                     (long long)k->lo, (long long)k->hi);
            return FM_SVC_INVAL;
        }
        if (k->is64)
            *(int64_t *)((char *)c + k->off) = v;
        else
            *(int *)((char *)c + k->off) = (int)v;
        return FM_SVC_OK;
    }
    snprintf(err, err_len, "unknown setting '%s'", key);
    return FM_SVC_INVAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

fm_svc_status fm_config_load(fm_config *c, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? FM_SVC_NOTFOUND : FM_SVC_IO;
    }
    char line[2048];
    int lineno = 0;
    fm_svc_status rc = FM_SVC_OK;
    while (rc == FM_SVC_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_len, "%s:%d: expected 'key = value'", path, lineno);
            rc = FM_SVC_INVAL;
            break;
        }
        *eq = 0;
        char msg[256];
        rc = fm_config_set(c, trim(s), trim(eq + 1), msg, sizeof msg);
        if (rc != FM_SVC_OK)
            snprintf(err, err_len, "%s:%d: %s", path, lineno, msg);
    }
    fclose(f);
    return rc;
}
