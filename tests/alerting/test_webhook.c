/* Tests of the webhook worker (server/alerting/webhook.c) against a real HTTP receiver the test
 * runs on 127.0.0.1 (a socket server thread): delivery with a verifiable signature; receiver
 * down -> retries with backoff, nothing lost once it is up, the caller never blocks; a receiver
 * that never answers -> timeouts, failure reported; 5xx retried; a full queue refuses (reported);
 * shutdown reports what was still queued. */
#include <dirent.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "webhook.h"
#include "webhook_rx.h"

static const unsigned char SECRET[] = "test-secret-0123456789abcdef";
#define SECRET_LEN (sizeof SECRET - 1)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- reports ---- */

typedef struct reports {
    pthread_mutex_t mu;
    int ok, failed, max_attempts;
    char last_error[160];
} reports;

static void on_report(void *u, const fm_webhook_report *r)
{
    reports *p = u;
    pthread_mutex_lock(&p->mu);
    if (r->ok)
        p->ok++;
    else
        p->failed++;
    if (r->attempts > p->max_attempts)
        p->max_attempts = r->attempts;
    if (r->error)
        snprintf(p->last_error, sizeof p->last_error, "%s", r->error);
    pthread_mutex_unlock(&p->mu);
}

static int reports_done(reports *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->ok + p->failed;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static fm_webhook *make(const char *url, reports *rep, int timeout_ms, int attempts)
{
    static char u[128];
    static const char *urls[1];
    snprintf(u, sizeof u, "%s", url);
    urls[0] = u;
    fm_webhook_config c;
    fm_webhook_config_default(&c);
    c.urls = urls;
    c.n_urls = 1;
    c.secret = SECRET;
    c.secret_len = SECRET_LEN;
    c.timeout_ms = timeout_ms;
    c.max_attempts = attempts;
    c.backoff_initial_ms = 20;
    c.backoff_max_ms = 160;
    c.queue_max = 8;
    c.report = on_report;
    c.user = rep;
    memset(rep, 0, sizeof *rep);
    pthread_mutex_init(&rep->mu, NULL);
    return fm_webhook_create(&c);
}

static int wait_for(int (*pred)(void *), void *arg, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        if (pred(arg))
            return 1;
        sleep_ms(5);
    }
    return pred(arg);
}

static webhook_rx *g_recv;
static int g_want;
static int have_all(void *arg)
{
    (void)arg;
    return webhook_rx_count(g_recv) >= g_want;
}
static reports *g_rep;
static int reported_all(void *arg)
{
    (void)arg;
    return reports_done(g_rep) >= g_want;
}

/* every one of the 5 queued posts has been tried at least twice */
static int retried_twice(void *arg)
{
    fm_webhook_stats st;
    fm_webhook_stats_get((fm_webhook *)arg, &st);
    return st.attempts >= 10;
}

static void delivers_signed_json(void)
{
    static webhook_rx r;
    webhook_rx_init(&r);
    int port = webhook_rx_free_port();
    CHECK(webhook_rx_start(&r, port) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook/alerts", port);
    reports rep;
    fm_webhook *w = make(url, &rep, 1000, 3);
    CHECK(w != NULL);
    uint64_t id = 0;
    CHECK(fm_webhook_post(w, "{\"type\":\"alert.raised\",\"alert_id\":1}", &id) == FM_OK);
    g_recv = &r, g_want = 1;
    CHECK(wait_for(have_all, NULL, 5000));
    g_rep = &rep;
    CHECK(wait_for(reported_all, NULL, 2000) && rep.ok == 1);
    webhook_rx_got *g = &r.g[0];
    CHECK(!strcmp(g->body, "{\"type\":\"alert.raised\",\"alert_id\":1}"));
    CHECK(strtoull(g->delivery, NULL, 10) == id);
    /* the receiver's check: HMAC over "<timestamp>.<body>", and a fresh timestamp */
    CHECK(fm_webhook_verify(SECRET, SECRET_LEN, g->timestamp, g->body, strlen(g->body),
                            g->signature));
    CHECK(llabs(atoll(g->timestamp) - (long long)time(NULL)) < 60);
    CHECK(
        !fm_webhook_verify(SECRET, SECRET_LEN, g->timestamp, "{\"alert_id\":2}", 14, g->signature));
    CHECK(!fm_webhook_verify((const unsigned char *)"another-secret-0000", 19, g->timestamp,
                             g->body, strlen(g->body), g->signature));
    fm_webhook_destroy(w);
    webhook_rx_free(&r);
}

static void receiver_down_retries_and_nothing_is_lost(void)
{
    int port = webhook_rx_free_port(); /* nobody listens yet: connection refused */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    reports rep;
    fm_webhook *w = make(url, &rep, 1000, 50);
    int64_t worst_us = 0;
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"alert_id\":%d}", i + 1);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        CHECK(fm_webhook_post(w, body, NULL) == FM_OK);
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
        if (us > worst_us)
            worst_us = us;
    }
    /* the caller (the event loop) never waits on the network */
    CHECKF(worst_us < 20000, "post took %lld us", (long long)worst_us);
    printf("     worst fm_webhook_post while the receiver is down: %lld us\n", (long long)worst_us);
    /* retried while down (waited for, not a fixed sleep: a loaded machine runs fewer rounds) */
    CHECK(wait_for(retried_twice, w, 10000));
    fm_webhook_stats st;
    fm_webhook_stats_get(w, &st);
    CHECKF(st.attempts >= 10 && st.queued == 5 && st.delivered == 0, "attempts %llu",
           (unsigned long long)st.attempts);
    static webhook_rx r;
    webhook_rx_init(&r);
    CHECK(webhook_rx_start(&r, port) == 0);
    g_recv = &r, g_want = 5;
    CHECK(wait_for(have_all, NULL, 5000));
    g_rep = &rep;
    CHECK(wait_for(reported_all, NULL, 2000));
    CHECK(rep.ok == 5 && rep.failed == 0 && rep.max_attempts > 1);
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"alert_id\":%d}", i + 1);
        int seen = 0;
        for (int j = 0; j < r.n; j++)
            seen += !strcmp(r.g[j].body, body);
        CHECKF(seen == 1, "alert %d received %d times", i + 1, seen);
    }
    fm_webhook_destroy(w);
    webhook_rx_free(&r);
}

static void server_errors_are_retried(void)
{
    static webhook_rx r;
    webhook_rx_init(&r);
    r.fail_first = 2;
    int port = webhook_rx_free_port();
    CHECK(webhook_rx_start(&r, port) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://localhost:%d/x", port);
    reports rep;
    fm_webhook *w = make(url, &rep, 1000, 5);
    CHECK(fm_webhook_post(w, "{}", NULL) == FM_OK);
    g_rep = &rep, g_want = 1;
    CHECK(wait_for(reported_all, NULL, 5000));
    CHECK(rep.ok == 1 && rep.max_attempts == 3 && r.requests == 3);
    fm_webhook_destroy(w);
    webhook_rx_free(&r);
}

static void silent_receiver_times_out_and_failure_is_reported(void)
{
    static webhook_rx r;
    webhook_rx_init(&r);
    r.silent = 1;
    int port = webhook_rx_free_port();
    CHECK(webhook_rx_start(&r, port) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    reports rep;
    fm_webhook *w = make(url, &rep, 150, 2);
    int64_t t0 = now_ms();
    CHECK(fm_webhook_post(w, "{\"alert_id\":9}", NULL) == FM_OK);
    CHECK(now_ms() - t0 < 20);
    g_rep = &rep, g_want = 1;
    CHECK(wait_for(reported_all, NULL, 5000));
    int64_t took = now_ms() - t0;
    CHECK(rep.failed == 1 && rep.ok == 0 && rep.max_attempts == 2);
    CHECKF(took >= 300 && took < 3000, "took %lld ms", (long long)took);
    CHECK(strstr(rep.last_error, "timeout") != NULL);
    fm_webhook_stats st;
    fm_webhook_stats_get(w, &st);
    CHECK(st.failed == 1 && st.queued == 0);
    fm_webhook_destroy(w);
    webhook_rx_free(&r);
}

static void full_queue_refuses_and_shutdown_reports(void)
{
    int port = webhook_rx_free_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    reports rep;
    fm_webhook *w = make(url, &rep, 500, 1000);
    for (int i = 0; i < 8; i++)
        CHECK(fm_webhook_post(w, "{}", NULL) == FM_OK);
    CHECK(fm_webhook_post(w, "{}", NULL) == FM_ERANGE);
    fm_webhook_stats st;
    fm_webhook_stats_get(w, &st);
    CHECK(st.refused == 1 && st.queued == 8);
    fm_webhook_destroy(w);
    CHECK(rep.failed == 8 && !strcmp(rep.last_error, "shutdown"));
}

static int count_files(const char *dir, const char *ext)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ext) != NULL;
    if (d)
        closedir(d);
    return n;
}

static fm_webhook *make_spooled(const char *url, const char *spool, reports *rep, int attempts,
                                size_t queue_max)
{
    static char u[128];
    static const char *urls[1];
    snprintf(u, sizeof u, "%s", url);
    urls[0] = u;
    fm_webhook_config c;
    fm_webhook_config_default(&c);
    c.urls = urls;
    c.n_urls = 1;
    c.secret = SECRET;
    c.secret_len = SECRET_LEN;
    c.timeout_ms = 1000;
    c.max_attempts = attempts;
    c.backoff_initial_ms = 20;
    c.backoff_max_ms = 80;
    c.queue_max = queue_max;
    c.spool_dir = spool;
    c.report = on_report;
    c.user = rep;
    memset(rep, 0, sizeof *rep);
    pthread_mutex_init(&rep->mu, NULL);
    return fm_webhook_create(&c);
}

/* The durable queue: deliveries posted while the receiver is down (more than the memory queue
 * holds) survive a destroy/create (a restart) under their delivery ids, arrive once each when
 * it is up, leave the spool, and ids are never reused; one that fails for good becomes a dead
 * letter in failed/. */
static void spooled_deliveries_survive_a_restart(void)
{
    char spool[] = "/tmp/fm-wh-spool-XXXXXX";
    CHECK(mkdtemp(spool) != NULL);
    int port = webhook_rx_free_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    reports rep;
    fm_webhook *w = make_spooled(url, spool, &rep, 0, 2);
    CHECK(w != NULL);
    if (!w)
        return;
    uint64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"alert_id\":%d}", i + 1);
        CHECK(fm_webhook_post(w, body, &ids[i]) == FM_OK); /* never refused: on disk */
    }
    fm_webhook_stats st;
    fm_webhook_stats_get(w, &st);
    CHECK(st.queued == 2 && st.overflow == 3);
    sleep_ms(100);
    fm_webhook_destroy(w);
    CHECK(count_files(spool, ".wh") == 5);
    static webhook_rx r;
    webhook_rx_init(&r);
    CHECK(webhook_rx_start(&r, port) == 0);
    w = make_spooled(url, spool, &rep, 0, 2);
    CHECK(w != NULL);
    uint64_t later = 0;
    CHECK(w && fm_webhook_post(w, "{\"alert_id\":6}", &later) == FM_OK);
    CHECK(later > ids[4]);
    g_recv = &r, g_want = 6;
    CHECK(wait_for(have_all, NULL, 5000));
    g_rep = &rep;
    CHECK(wait_for(reported_all, NULL, 2000) && rep.ok == 6);
    for (int i = 0; i < 6; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"alert_id\":%d}", i + 1);
        int seen = 0;
        for (int j = 0; j < r.n; j++)
            if (!strcmp(r.g[j].body, body)) {
                seen++;
                CHECK(strtoull(r.g[j].delivery, NULL, 10) == (i < 5 ? ids[i] : later));
                CHECK(fm_webhook_verify(SECRET, SECRET_LEN, r.g[j].timestamp, r.g[j].body,
                                        strlen(r.g[j].body), r.g[j].signature));
            }
        CHECKF(seen == 1, "alert %d received %d times", i + 1, seen);
    }
    fm_webhook_stats_get(w, &st);
    CHECK(st.restored == 5);
    fm_webhook_destroy(w);
    webhook_rx_free(&r);
    CHECK(count_files(spool, ".wh") == 0);
    /* a delivery that fails for good is kept as a dead letter */
    w = make_spooled(url, spool, &rep, 1, 2);
    CHECK(w && fm_webhook_post(w, "{\"alert_id\":7}", NULL) == FM_OK);
    g_rep = &rep, g_want = 1;
    CHECK(wait_for(reported_all, NULL, 3000) && rep.failed == 1);
    fm_webhook_destroy(w);
    char failed[64];
    snprintf(failed, sizeof failed, "%s/failed", spool);
    CHECK(count_files(spool, ".wh") == 0 && count_files(failed, ".wh") == 1);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", spool);
    CHECK(system(cmd) == 0);
}

static void bad_configs_are_refused(void)
{
    reports rep;
    CHECK(make("https://example.org/hook", &rep, 1000, 3) == NULL);
    CHECK(make("ftp://x/", &rep, 1000, 3) == NULL);
    CHECK(make("http://:80/", &rep, 1000, 3) == NULL);
    CHECK(make("http://h:99999999/", &rep, 1000, 3) == NULL);
    fm_webhook_config c;
    fm_webhook_config_default(&c);
    const char *urls[1] = {"http://127.0.0.1:9/"};
    c.urls = urls;
    c.n_urls = 1;
    c.secret = (const unsigned char *)"short";
    c.secret_len = 5;
    CHECK(fm_webhook_create(&c) == NULL);
}

int main(void)
{
    RUN(delivers_signed_json);
    RUN(receiver_down_retries_and_nothing_is_lost);
    RUN(server_errors_are_retried);
    RUN(silent_receiver_times_out_and_failure_is_reported);
    RUN(full_queue_refuses_and_shutdown_reports);
    RUN(spooled_deliveries_survive_a_restart);
    RUN(bad_configs_are_refused);
    return CHECK_DONE();
}
