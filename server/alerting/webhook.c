/* The webhook worker (webhook.h): a bounded queue of deliveries (one per body and URL), one
 * thread that attempts whichever is due, signs each attempt, and reschedules failures with
 * exponential backoff until success or the attempt limit; every final outcome is reported.
 * fm_webhook_post only copies and signals under a mutex: it never waits on the network.
 * Not for HTTP itself (http_post.c) or deciding what to send (alerting.c). */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_post.h"
#include "webhook.h"

#define MIN_SECRET_LEN 16
#define MAX_URLS 64

typedef struct wh_item {
    uint64_t id;
    size_t url;
    char *body;
    size_t len;
    int attempts, status, in_flight;
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
    fm_webhook_sign(w->secret, w->cfg.secret_len, ts, it->body, it->len, sig);
    snprintf(h_id, sizeof h_id, "X-Fetalmon-Delivery: %llu", (unsigned long long)it->id);
    snprintf(h_ts, sizeof h_ts, "X-Fetalmon-Timestamp: %s", ts);
    snprintf(h_sig, sizeof h_sig, "X-Fetalmon-Signature: v1=%s", sig);
    const char *hdr[3] = {h_id, h_ts, h_sig};
    int st = fm_http_post(&w->parsed[it->url], hdr, 3, it->body, it->len, w->cfg.timeout_ms,
                          it->err, sizeof it->err);
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

static void *worker(void *arg)
{
    fm_webhook *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
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
        int final = ok || due->attempts >= w->cfg.max_attempts;
        if (final)
            report(w, due, ok, ok ? NULL : due->err);
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
}

fm_webhook *fm_webhook_create(const fm_webhook_config *cfg)
{
    if (!cfg || !cfg->n_urls || cfg->n_urls > MAX_URLS || !cfg->urls || !cfg->secret || cfg->secret_len < MIN_SECRET_LEN ||
        cfg->timeout_ms <= 0 || cfg->max_attempts < 1 || cfg->backoff_initial_ms < 1 ||
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
    memcpy(w->secret, cfg->secret, cfg->secret_len);
    w->cfg.urls = NULL;
    w->cfg.secret = NULL;
    w->next_id = 1;
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
        report(w, w->q[i], 0, "shutdown");
        item_free(w->q[i]);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free_parts(w);
    free(w);
}

fm_status fm_webhook_post(fm_webhook *w, const char *json, uint64_t *delivery_id)
{
    if (!w || !json)
        return FM_EINVAL;
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
