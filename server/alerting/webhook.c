/* The webhook worker (webhook.h): a bounded queue of deliveries (one per body and URL), one
 * thread that attempts whichever is due, signs each attempt, and reschedules failures with
 * exponential backoff until success or the attempt limit; every final outcome is reported.
 * fm_webhook_post only copies and signals under a mutex: it never waits on the network.
 * With a spool directory (webhook_spool.c) each delivery is a file until it is delivered, and
 * the memory queue holds only its id, URL and schedule.
 * Not for HTTP itself (http_post.c) or deciding what to send (alerting.c). */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "webhook_spool.h"

#include "http_post.h"
#include "webhook.h"

#define MIN_SECRET_LEN 16
#define MAX_URLS 64

typedef struct wh_item {
    uint64_t id;
    size_t url;
    char *body; /* NULL with a spool: read from the file at each attempt */
    size_t len;
    int attempts, status, in_flight, unreadable;
    int64_t next_ms;
    char err[160];
} wh_item;

struct fm_webhook {
    fm_webhook_config cfg;
    char **urls;
    fm_http_url *parsed;
    unsigned char *secret;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    wh_item **q;
    size_t n;
    uint64_t next_id;
    fm_webhook_stats st;
    fm_wh_spool *spool; /* NULL: memory only */
    int overflow;       /* spooled deliveries are waiting on disk for room in memory */
};

void fm_webhook_config_default(fm_webhook_config *c)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = 5000;
    c->max_attempts = 12;
    c->backoff_initial_ms = 500;
    c->backoff_max_ms = 60000;
    c->queue_max = 1024;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fm_webhook_sign(const unsigned char *secret, size_t secret_len, const char *timestamp,
                     const char *body, size_t body_len, char hex[FM_WEBHOOK_SIG_HEX + 1])
{
    crypto_auth_hmacsha256_state s;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&s, secret, secret_len);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)timestamp, strlen(timestamp));
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&s, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&s, mac);
    sodium_bin2hex(hex, FM_WEBHOOK_SIG_HEX + 1, mac, sizeof mac);
}

int fm_webhook_verify(const unsigned char *secret, size_t secret_len, const char *timestamp,
                      const char *body, size_t body_len, const char *sig_header)
{
    char want[FM_WEBHOOK_SIG_HEX + 1];
    if (!sig_header || strncmp(sig_header, "v1=", 3) ||
        strlen(sig_header + 3) != FM_WEBHOOK_SIG_HEX)
        return 0;
    fm_webhook_sign(secret, secret_len, timestamp, body, body_len, want);
    return sodium_memcmp(want, sig_header + 3, FM_WEBHOOK_SIG_HEX) == 0;
}

static void report(fm_webhook *w, const wh_item *it, int ok, const char *err)
{
    if (!w->cfg.report)
        return;
    fm_webhook_report r = {it->id, w->urls[it->url], ok, it->attempts, it->status, err};
    w->cfg.report(w->cfg.user, &r);
}

static void item_free(wh_item *it);

/* The final outcome of a spooled delivery: the file goes (delivered) or to failed/. */
static void settle(fm_webhook *w, const wh_item *it, int ok)
{
    if (!w->spool)
        return;
    if (ok)
        fm_wh_spool_remove(w->spool, it->id);
    else
        fm_wh_spool_dead(w->spool, it->id);
}

static void item_free(wh_item *it)
{
    if (it) {
        free(it->body);
        free(it);
    }
}

/* One attempt, outside the lock. */
static void attempt(fm_webhook *w, wh_item *it)
{
    char ts[32], sig[FM_WEBHOOK_SIG_HEX + 1], h_id[64], h_ts[64], h_sig[96];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    snprintf(h_id, sizeof h_id, "X-Fetalmon-Delivery: %llu", (unsigned long long)it->id);
    snprintf(h_ts, sizeof h_ts, "X-Fetalmon-Timestamp: %s", ts);
    const char *hdr[3] = {h_id, h_ts, h_sig};
    char *body = it->body;
    size_t len = it->len;
    if (!body && fm_wh_spool_read(w->spool, it->id, NULL, 0, &body, &len) != 0) {
        it->attempts++;
        it->unreadable = 1;
        snprintf(it->err, sizeof it->err, "spool: cannot read delivery %llu",
                 (unsigned long long)it->id);
        return;
    }
    fm_webhook_sign(w->secret, w->cfg.secret_len, ts, body, len, sig);
    snprintf(h_sig, sizeof h_sig, "X-Fetalmon-Signature: v1=%s", sig);
    int st = fm_http_post(&w->parsed[it->url], hdr, 3, body, len, w->cfg.timeout_ms, it->err,
                          sizeof it->err);
    if (body != it->body)
        free(body);
    it->attempts++;
    it->status = st > 0 ? st : it->status;
    if (st >= 200 && st < 300)
        it->err[0] = 0;
}

static void remove_item(fm_webhook *w, wh_item *it)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->q[i] == it) {
            w->q[i] = w->q[--w->n];
            return;
        }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct reload_ctx {
    fm_webhook *w;
    uint64_t *have; /* sorted ids in memory */
    size_t n_have;
    int64_t now;
    int full;
} reload_ctx;

static void reload_one(void *user, uint64_t id, const char *url)
{
    reload_ctx *c = user;
    fm_webhook *w = c->w;
    if (c->n_have && bsearch(&id, c->have, c->n_have, sizeof id, cmp_u64))
        return;
    if (w->n >= w->cfg.queue_max) {
        c->full = 1;
        return;
    }
    size_t u = 0;
    while (u < w->cfg.n_urls && strcmp(w->urls[u], url))
        u++;
    if (u == w->cfg.n_urls) { /* a URL no longer configured: kept as a dead letter */
        fm_wh_spool_dead(w->spool, id);
        return;
    }
    wh_item *it = calloc(1, sizeof *it);
    if (!it) {
        c->full = 1;
        return;
    }
    it->id = id;
    it->url = u;
    it->next_ms = c->now;
    w->q[w->n++] = it;
    if (id < fm_wh_spool_first_id(w->spool))
        w->st.restored++;
}

/* Takes spooled deliveries that are not in memory into the queue, oldest first, while there is
 * room (under the mutex: a directory scan, rare). */
static void reload_spool(fm_webhook *w)
{
    reload_ctx c = {w, NULL, 0, mono_ms(), 0};
    if (w->n) {
        c.have = malloc(w->n * sizeof *c.have);
        if (!c.have)
            return;
        for (size_t i = 0; i < w->n; i++)
            c.have[i] = w->q[i]->id;
        c.n_have = w->n;
        qsort(c.have, c.n_have, sizeof *c.have, cmp_u64);
    }
    fm_wh_spool_scan(w->spool, reload_one, &c);
    free(c.have);
    w->overflow = c.full;
}

static void *worker(void *arg)
{
    fm_webhook *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (w->overflow && w->n < w->cfg.queue_max / 2 + 1)
            reload_spool(w);
        wh_item *due = NULL;
        for (size_t i = 0; i < w->n; i++)
            if (!w->q[i]->in_flight && (!due || w->q[i]->next_ms < due->next_ms))
                due = w->q[i];
        int64_t now = mono_ms();
        if (!due || due->next_ms > now) {
            if (!due) {
                pthread_cond_wait(&w->cv, &w->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t wait_ms = due->next_ms - now;
                ts.tv_sec += wait_ms / 1000;
                ts.tv_nsec += (wait_ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000)
                    ts.tv_sec++, ts.tv_nsec -= 1000000000;
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            }
            continue;
        }
        due->in_flight = 1;
        pthread_mutex_unlock(&w->mu);
        attempt(w, due);
        int ok = due->status >= 200 && due->status < 300 && !due->err[0];
        int final = ok || due->unreadable ||
                    (w->cfg.max_attempts > 0 && due->attempts >= w->cfg.max_attempts);
        if (final) {
            settle(w, due, ok);
            report(w, due, ok, ok ? NULL : due->err);
        }
        pthread_mutex_lock(&w->mu);
        w->st.attempts++;
        due->in_flight = 0;
        if (final) {
            if (ok)
                w->st.delivered++;
            else
                w->st.failed++;
            remove_item(w, due);
            item_free(due);
        } else {
            int64_t d = w->cfg.backoff_initial_ms;
            for (int k = 1; k < due->attempts && d < w->cfg.backoff_max_ms; k++)
                d *= 2;
            if (d > w->cfg.backoff_max_ms)
                d = w->cfg.backoff_max_ms;
            due->next_ms = mono_ms() + d;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void free_parts(fm_webhook *w)
{
    for (size_t i = 0; w->urls && i < w->cfg.n_urls; i++)
        free(w->urls[i]);
    free(w->urls);
    free(w->parsed);
    if (w->secret)
        sodium_memzero(w->secret, w->cfg.secret_len);
    free(w->secret);
    free(w->q);
    fm_wh_spool_close(w->spool);
}

fm_webhook *fm_webhook_create(const fm_webhook_config *cfg)
{
    if (!cfg || !cfg->n_urls || cfg->n_urls > MAX_URLS || !cfg->urls || !cfg->secret ||
        cfg->secret_len < MIN_SECRET_LEN || cfg->timeout_ms <= 0 || cfg->max_attempts < 0 ||
        (cfg->max_attempts == 0 && !cfg->spool_dir) || cfg->backoff_initial_ms < 1 ||
        cfg->backoff_max_ms < cfg->backoff_initial_ms || !cfg->queue_max || sodium_init() < 0)
        return NULL;
    fm_webhook *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->cfg = *cfg;
    w->urls = calloc(cfg->n_urls, sizeof *w->urls);
    w->parsed = calloc(cfg->n_urls, sizeof *w->parsed);
    w->secret = malloc(cfg->secret_len);
    w->q = calloc(cfg->queue_max, sizeof *w->q);
    int bad = !w->urls || !w->parsed || !w->secret || !w->q;
    for (size_t i = 0; !bad && i < cfg->n_urls; i++) {
        w->urls[i] = cfg->urls[i] ? strdup(cfg->urls[i]) : NULL;
        bad = !w->urls[i] || fm_http_parse_url(w->urls[i], &w->parsed[i]) != 0;
    }
    if (bad) {
        free_parts(w);
        free(w);
        return NULL;
    }
    if (!bad && cfg->spool_dir && !(w->spool = fm_wh_spool_open(cfg->spool_dir)))
        bad = 1;
    if (bad) {
        free_parts(w);
        free(w);
        return NULL;
    }
    memcpy(w->secret, cfg->secret, cfg->secret_len);
    w->cfg.urls = NULL;
    w->cfg.secret = NULL;
    w->cfg.spool_dir = NULL;
    w->next_id = 1;
    if (w->spool)
        reload_spool(w);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, worker, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free_parts(w);
        free(w);
        return NULL;
    }
    return w;
}

void fm_webhook_destroy(fm_webhook *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->n; i++) {
        report(w, w->q[i], 0, w->spool ? "shutdown (spooled)" : "shutdown");
        item_free(w->q[i]);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free_parts(w);
    free(w);
}

/* With a spool: ids under the mutex, files written and fsync'd outside it, then the items
 * queued (or left on disk for the worker when the memory queue is full). */
static fm_status post_spooled(fm_webhook *w, const char *json, uint64_t *delivery_id)
{
    const size_t len = strlen(json), nu = w->cfg.n_urls;
    wh_item *items[MAX_URLS];
    for (size_t i = 0; i < nu; i++) {
        items[i] = calloc(1, sizeof *items[i]);
        if (!items[i]) {
            for (size_t j = 0; j < i; j++)
                item_free(items[j]);
            return FM_ENOMEM;
        }
        items[i]->url = i;
    }
    pthread_mutex_lock(&w->mu);
    uint64_t first = 0;
    int bad = fm_wh_spool_ids(w->spool, nu, &first) != 0;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; !bad && i < nu; i++) {
        items[i]->id = first + i;
        bad = fm_wh_spool_write(w->spool, items[i]->id, w->urls[i], json, len) != 0;
    }
    if (bad) {
        for (size_t i = 0; i < nu; i++) {
            if (items[i]->id)
                fm_wh_spool_remove(w->spool, items[i]->id);
            item_free(items[i]);
        }
        pthread_mutex_lock(&w->mu);
        w->st.refused++;
        pthread_mutex_unlock(&w->mu);
        return FM_EIO;
    }
    if (delivery_id)
        *delivery_id = first;
    pthread_mutex_lock(&w->mu);
    int64_t now = mono_ms();
    for (size_t i = 0; i < nu; i++) {
        if (w->overflow || w->n >= w->cfg.queue_max) { /* durable: the worker loads it later */
            w->overflow = 1;
            w->st.overflow++;
            item_free(items[i]);
            continue;
        }
        items[i]->next_ms = now;
        w->q[w->n++] = items[i];
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return FM_OK;
}

fm_status fm_webhook_post(fm_webhook *w, const char *json, uint64_t *delivery_id)
{
    if (!w || !json)
        return FM_EINVAL;
    if (w->spool)
        return post_spooled(w, json, delivery_id);
    const size_t len = strlen(json), nu = w->cfg.n_urls;
    wh_item *items[MAX_URLS];
    /* allocate outside the lock */
    for (size_t i = 0; i < nu; i++) {
        items[i] = calloc(1, sizeof *items[i]);
        if (items[i])
            items[i]->body = malloc(len + 1);
        if (!items[i] || !items[i]->body) {
            for (size_t j = 0; j <= i; j++)
                item_free(items[j]);
            return FM_ENOMEM;
        }
        memcpy(items[i]->body, json, len + 1);
        items[i]->len = len;
        items[i]->url = i;
    }
    pthread_mutex_lock(&w->mu);
    if (w->n + nu > w->cfg.queue_max) {
        w->st.refused++;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < nu; i++)
            item_free(items[i]);
        return FM_ERANGE;
    }
    int64_t now = mono_ms();
    if (delivery_id)
        *delivery_id = w->next_id;
    for (size_t i = 0; i < nu; i++) {
        items[i]->id = w->next_id++;
        items[i]->next_ms = now;
        w->q[w->n++] = items[i];
    }
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return FM_OK;
}

void fm_webhook_stats_get(fm_webhook *w, fm_webhook_stats *s)
{
    pthread_mutex_lock(&w->mu);
    *s = w->st;
    s->queued = w->n;
    pthread_mutex_unlock(&w->mu);
}
