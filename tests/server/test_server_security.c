/* Security checks against a real `fetalmon serve`, for what test_server_http.c does not cover:
 * logged-out and expired tokens on every entry point (HTTP, cookie, /ws/live, /ws/ingest),
 * privilege escalation patient -> clinician -> admin (routes, path tricks, WebSocket roles),
 * path traversal in every file name the client controls (?name= of uploads, recording ids of
 * audio downloads, patient names, stream ids, static files), oversized headers, slow-loris
 * connections that must neither live on nor block others, login brute force from one address,
 * security headers on every kind of answer, and a log free of secrets and patient data. */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "../check.h"
#include "srvtest.h"

static server_proc srv;
static char parent[400]; /* the data directory's parent: nothing may appear there */
static int parent_entries;

typedef struct account {
    const char *name, *role, *password, *clinician, *hospital;
    char token[128];
} account;

static account acc[] = {
    {"alice", "patient", "alice-secret-pw", "drbob", "HOSP-ALICE-4711", ""},
    {"beth", "patient", "beth-secret-pw", "drcarol", "HOSP-BETH-0815", ""},
    {"drbob", "clinician", "drbob-secret-pw", NULL, NULL, ""},
    {"drcarol", "clinician", "drcarol-secret-pw", NULL, NULL, ""},
    {"root", "admin", "root-secret-pw", NULL, NULL, ""},
};
enum { ALICE, BETH, DRBOB, DRCAROL, ROOT, N_ACC };
static char dev_alice[128];
static char rec_alice[32];
/* Every token handed out during the test: none may ever appear in the log. */
static char seen_tokens[64][128];
static int n_seen;

/* srv_login, remembering the token handed out. */
static int login(const char *name, const char *pw, char *token, size_t cap)
{
    char t[128] = "";
    int st = srv_login(srv.port, name, pw, t, sizeof t);
    if (st == 200) {
        if (token)
            snprintf(token, cap, "%s", t);
        if (n_seen < 64)
            snprintf(seen_tokens[n_seen++], sizeof seen_tokens[0], "%s", t);
    }
    return st;
}

static int get_status(const char *path, const char *token)
{
    http_resp r;
    int st = http_get(srv.port, path, token, &r) == 0 ? r.status : -1;
    http_resp_free(&r);
    return st;
}

static int post_status(const char *path, const char *token, const char *json)
{
    http_resp r;
    int st = http_post_json(srv.port, path, token, json, &r) == 0 ? r.status : -1;
    http_resp_free(&r);
    return st;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Sends a raw request (Connection: close) and returns the status, -1 when closed without one;
 * the response goes to *out when out is not NULL. */
static int raw_status(const char *req, size_t len, http_resp *out)
{
    http_resp r;
    int st = http_raw(srv.port, req, len, &r) == 0 ? r.status : -1;
    if (out)
        *out = r;
    else
        http_resp_free(&r);
    return st;
}

/* /ws/live: 1 when the token is accepted ("hello"), 0 when refused. */
static int live_auth(const char *token)
{
    int fd = live_connect(srv.port, token, 5000);
    if (fd >= 0)
        close(fd);
    return fd >= 0 ? 1 : fd == -2 ? 0 : -1;
}

/* /ws/ingest: 1 when a stream opens, 0 when refused (code in err). */
static int ingest_open(const char *token, const char *extra, char *err, size_t cap)
{
    int st;
    int fd = ws_connect(srv.port, "/ws/ingest", "fm-ingest", &st);
    if (fd < 0)
        return -1;
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":8000%s}", token,
             extra ? extra : "");
    ws_send_text(fd, msg);
    int ok = -1;
    for (int i = 0; i < 5 && ok < 0; i++) {
        char *m;
        size_t len;
        int op = ws_recv(fd, &m, &len, 10000);
        if (op != 1) {
            free(m);
            break;
        }
        cJSON *j = cJSON_Parse(m);
        free(m);
        const char *type = jstr(j, "type");
        if (type && !strcmp(type, "opened"))
            ok = 1;
        else if (type && !strcmp(type, "error")) {
            snprintf(err, cap, "%s", jstr(j, "error") ? jstr(j, "error") : "");
            ok = 0;
        }
        cJSON_Delete(j);
    }
    close(fd);
    return ok;
}

static int with_cookie(const char *path, const char *token)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: fm_session=%s\r\n\r\n",
                     path, token);
    return raw_status(req, (size_t)n, NULL);
}

/* ---- tests ---- */

static void a_logged_out_token_is_dead_everywhere(void)
{
    char tok[128], err[32] = "";
    CHECK(login("alice", acc[ALICE].password, tok, sizeof tok) == 200);
    CHECK(live_auth(tok) == 1);
    /* A feed opened before the logout: it must stop too, not go on streaming her data. */
    int st;
    int feed = ws_connect(srv.port, "/ws/live", "fm-live", &st);
    CHECK(feed >= 0);
    char msg[256];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"token\":\"%s\"}", tok);
    ws_send_text(feed, msg);
    cJSON *h = ws_wait_type(feed, "hello", NULL, 5000);
    CHECK(h != NULL);
    cJSON_Delete(h);
    ws_send_text(feed, "{\"type\":\"subscribe\",\"patient\":\"alice\"}");
    h = ws_wait_type(feed, "subscribed", NULL, 5000);
    CHECK(h != NULL);
    cJSON_Delete(h);
    CHECK(post_status("/api/logout", tok, "") == 200);
    double t0 = now_s();
    cJSON *e = ws_wait_type(feed, "error", "unauthorized", 15000);
    CHECKF(e != NULL, "the live feed of a signed-out session went on");
    cJSON_Delete(e);
    printf("     the feed of the signed-out session stopped after %.1f s\n", now_s() - t0);
    char *rest;
    size_t rest_len;
    int op;
    while ((op = ws_recv(feed, &rest, &rest_len, 3000)) == 1) /* then only the close */
        free(rest);
    free(rest);
    CHECK(op == 8 || op == -1);
    close(feed);
    CHECK(get_status("/api/me", tok) == 401);
    CHECK(with_cookie("/api/me", tok) == 401);
    CHECK(get_status("/api/patients/alice/recordings", tok) == 401);
    CHECK(live_auth(tok) == 0);
    CHECK(ingest_open(tok, NULL, err, sizeof err) == 0 && !strcmp(err, "unauthorized"));
    /* Re-presenting it with other spellings of the header does not revive it. */
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "authorization: bearer %s\r\n\r\n",
                     tok);
    CHECK(raw_status(req, (size_t)n, NULL) == 401);
    n = snprintf(req, sizeof req,
                 "GET /api/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Authorization: Bearer  %s \r\n\r\n",
                 tok);
    CHECK(raw_status(req, (size_t)n, NULL) == 401);
}

static void privilege_escalation_is_refused(void)
{
    const char *alice = acc[ALICE].token, *bob = acc[DRBOB].token, *carol = acc[DRCAROL].token;
    const char *root = acc[ROOT].token;
    char path[128], err[32];
    /* patient -> clinician: sign readings, list or acknowledge alerts, upload for another. */
    snprintf(path, sizeof path, "/api/recordings/%s/readings", rec_alice);
    CHECK(post_status(path, alice, "{\"category\":\"normal\",\"text\":\"self-signed\"}") == 403);
    CHECK(post_status(path, alice,
                      "{\"category\":\"normal\",\"text\":\"x\",\"role\":\"clinician\"}") == 403);
    CHECK(get_status("/api/patients/alice/alerts", alice) == 403);
    CHECK(post_status("/api/alerts/1/ack", alice, "{}") == 404);
    CHECK(get_status("/api/patients/beth", alice) == 404);
    /* A clinician off the care team is a stranger: readings, alerts, audio. */
    CHECK(post_status(path, carol, "{\"category\":\"normal\",\"text\":\"not mine\"}") == 404);
    CHECK(get_status("/api/patients/alice/alerts", carol) == 404);
    snprintf(path, sizeof path, "/api/recordings/%s/audio", rec_alice);
    CHECK(get_status(path, carol) == 404);
    /* clinician -> admin: the audit log under every spelling of its path. */
    const char *audit[] = {"/api/audit",          "/api/audit/",          "/api//audit",
                           "/api/./audit",        "/api/patients/../audit", "/API/audit",
                           "/api/audit?limit=1000", "/api/%61udit",        "/api/audit%00"};
    for (size_t i = 0; i < sizeof audit / sizeof audit[0]; i++) {
        http_resp r;
        /* lws drops a request with %00 in it without an answer: refused too */
        int st = http_get(srv.port, audit[i], bob, &r) == 0 ? r.status : -1;
        CHECKF(st == 403 || st == 404 || st == 400 || (st == -1 && strstr(audit[i], "%00")),
               "%s as clinician: %d", audit[i], st);
        CHECKF(!r.body || !strstr(r.body, "\"entries\""), "%s leaks the audit log", audit[i]);
        http_resp_free(&r);
    }
    /* admin -> clinical data: none, by any path. */
    CHECK(get_status("/api/patients/alice/recordings", root) == 404);
    snprintf(path, sizeof path, "/api/recordings/%s/audio", rec_alice);
    CHECK(get_status(path, root) == 404);
    snprintf(path, sizeof path, "/api/recordings/%s/readings", rec_alice);
    CHECK(get_status(path, root) == 404);
    /* WebSockets: an admin or a device may not watch, a patient may not watch another nor
     * stream for her, a device may not stream for another patient. */
    CHECK(live_auth(root) == 0);
    CHECK(live_auth(dev_alice) == 0);
    CHECK(ingest_open(alice, ",\"patient\":\"beth\"", err, sizeof err) == 0 &&
          !strcmp(err, "not_found"));
    CHECK(ingest_open(dev_alice, ",\"patient\":\"beth\"", err, sizeof err) == 0 &&
          !strcmp(err, "not_found"));
    CHECK(ingest_open(carol, ",\"patient\":\"alice\"", err, sizeof err) == 0 &&
          !strcmp(err, "not_found"));
    CHECK(ingest_open(root, ",\"patient\":\"alice\"", err, sizeof err) == 0);
}

static void no_file_name_escapes_the_data_directory(void)
{
    const char *tok = acc[ALICE].token;
    const char *csv = "time_s,fhr_bpm\n0,140\n0.25,141\n";
    /* Upload names: kept as a sanitised source name, stored under a random id. */
    const char *names[] = {"../../../../tmp/fm-evil.csv", "..%2F..%2F..%2Ffm-evil.csv",
                           "%2e%2e%2f%2e%2e%2ffm-evil.csv", "..\\..\\fm-evil.csv",
                           "/etc/cron.d/fm-evil.csv", "fm-evil.csv%00.wav", "....//....//fm-evil.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/recordings?name=%s", names[i]);
        http_resp r;
        int st = http_req(srv.port, "POST", path, tok, csv, strlen(csv), &r) == 0 ? r.status : -1;
        CHECKF(st == 201 || st == 415 || st == 400 || (st == -1 && strstr(names[i], "%00")),
               "%s -> %d", names[i], st);
        if (r.status == 201 && jstr(r.json, "id")) {
            char rp[64];
            snprintf(rp, sizeof rp, "/api/recordings/%s", jstr(r.json, "id"));
            http_resp d;
            CHECK(http_get(srv.port, rp, tok, &d) == 0 && d.status == 200);
            const char *src = jstr(d.json, "source_name");
            CHECKF(src && !strchr(src, '/') && !strchr(src, '\\') && strncmp(src, "..", 2),
                   "source_name %s", src ? src : "(null)");
            http_resp_free(&d);
        }
        http_resp_free(&r);
    }
    CHECK(access("/tmp/fm-evil.csv", F_OK) != 0);
    CHECK(count_entries(parent) == parent_entries);
    /* Audio downloads and readings by a crafted recording id. */
    const char *ids[] = {"../fetalmon.db", "..%2Ffetalmon.db", "%2e%2e%2ffetalmon.db",
                         "..%2F..%2F..%2Fetc%2Fpasswd", "0123456789abcdef%2F..%2F..%2Ffetalmon.db",
                         "....//fetalmon.db", "%00", "0123456789ABCDEF"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const char *tails[] = {"/audio", "/readings", ""};
        for (int t = 0; t < 3; t++) {
            char path[256];
            snprintf(path, sizeof path, "/api/recordings/%s%s", ids[i], tails[t]);
            http_resp r;
            int st = http_get(srv.port, path, tok, &r) == 0 ? r.status : -1;
            CHECKF(st == 404 || st == 400 || (st == -1 && strstr(path, "%00")), "%s -> %d", path,
                   st);
            CHECKF(!r.body || (!strstr(r.body, "SQLite") && !strstr(r.body, "root:")),
                   "%s returned a file", path);
            http_resp_free(&r);
        }
    }
    /* Patient names and stream ids. */
    CHECK(get_status("/api/patients/..%2Fbeth", tok) == 404);
    CHECK(get_status("/api/patients/../patients/beth", tok) == 404);
    CHECK(get_status("/api/patients/.alice", tok) == 404);
    char err[32] = "";
    CHECK(ingest_open(dev_alice, ",\"stream\":\"../../fetalmon\"", err, sizeof err) == 0 &&
          !strcmp(err, "no_stream"));
    CHECK(ingest_open(dev_alice, ",\"stream\":\"../recordings/x\"", err, sizeof err) == 0);
    /* Static files of the web app. */
    const char *stat_paths[] = {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                                "/js/../../../../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
                                "/../fetalmon.db", "/index.html/../../CMakeLists.txt"};
    for (size_t i = 0; i < sizeof stat_paths / sizeof stat_paths[0]; i++) {
        char req[512];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         stat_paths[i]);
        http_resp r;
        int st = raw_status(req, (size_t)n, &r);
        CHECKF(st != 200 || (r.body && !strstr(r.body, "root:") && !strstr(r.body, "SQLite") &&
                             !strstr(r.body, "cmake_minimum_required")),
               "%s -> %d with a file outside the web directory", stat_paths[i], st);
        http_resp_free(&r);
    }
    CHECK(count_entries(parent) == parent_entries);
}

static void oversized_headers_are_refused_and_the_server_goes_on(void)
{
    size_t big = 64 * 1024;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256, "GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: fm_session=");
    memset(req + n, 'A', big);
    n += (int)big;
    n += snprintf(req + n, 64, "\r\n\r\n");
    int st = raw_status(req, (size_t)n, NULL);
    CHECKF(st == -1 || (st >= 400 && st < 500), "64 KiB cookie -> %d", st);
    /* 2000 small headers. */
    n = snprintf(req, 256, "GET /api/me HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 2000; i++)
        n += snprintf(req + n, 32, "X-H%d: v\r\n", i);
    n += snprintf(req + n, 8, "\r\n");
    st = raw_status(req, (size_t)n, NULL);
    CHECKF(st == -1 || (st >= 400 && st < 500), "2000 headers -> %d", st);
    /* A 64 KiB request line, and an Authorization header of 8 KiB. */
    n = snprintf(req, 32, "GET /api/");
    memset(req + n, 'p', big);
    n += (int)big;
    n += snprintf(req + n, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
    st = raw_status(req, (size_t)n, NULL);
    CHECKF(st == -1 || st == 414 || (st >= 400 && st < 500), "64 KiB path -> %d", st);
    n = snprintf(req, 128, "GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ");
    memset(req + n, 'B', 8192);
    n += 8192;
    n += snprintf(req + n, 64, "\r\n\r\n");
    st = raw_status(req, (size_t)n, NULL);
    CHECKF(st == -1 || st == 401 || (st >= 400 && st < 500), "8 KiB token -> %d", st);
    free(req);
    CHECK(get_status("/api/me", acc[ALICE].token) == 200);
}

typedef struct loris {
    int fd;
    double closed_after; /* seconds until the server closed it, -1 if never */
} loris;

/* Sends a request one byte every 300 ms (faster than http_timeout_s between bytes, so only a
 * deadline for the whole header block stops it) until the server closes the connection. */
static void *slow_client(void *arg)
{
    loris *l = arg;
    static const char req[] = "GET /api/me HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    double t0 = now_s();
    l->closed_after = -1;
    for (size_t i = 0; i < sizeof req - 1 && now_s() - t0 < 20; i++) {
        if (send(l->fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            l->closed_after = now_s() - t0;
            return NULL;
        }
        char b[64];
        struct timeval tv = {0, 300000};
        setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t k = recv(l->fd, b, sizeof b, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            l->closed_after = now_s() - t0;
            return NULL;
        }
    }
    return NULL;
}

static void slow_loris_clients_are_cut_off_and_block_nobody(void)
{
    enum { N = 40 };
    loris l[N];
    pthread_t t[N];
    int started = 0;
    for (int i = 0; i < N; i++) {
        l[i].fd = tcp_connect(srv.port, 10);
        if (l[i].fd < 0 || pthread_create(&t[i], NULL, slow_client, &l[i]) != 0)
            break;
        started++;
    }
    CHECK(started == N);
    /* Meanwhile others are served at once. */
    double worst = 0;
    for (int i = 0; i < 10; i++) {
        double t0 = now_s();
        CHECK(get_status("/api/me", acc[DRBOB].token) == 200);
        if (now_s() - t0 > worst)
            worst = now_s() - t0;
        usleep(100000);
    }
    printf("     %d slow-loris connections open: slowest of 10 requests %.0f ms\n", started,
           worst * 1e3);
    CHECK(worst < 2.0);
    double last = 0;
    int cut = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        close(l[i].fd);
        cut += l[i].closed_after > 0;
        if (l[i].closed_after > last)
            last = l[i].closed_after;
    }
    printf("     %d of %d cut off, the last after %.1f s (http_timeout_s = 2)\n", cut, started,
           last);
    CHECK(cut == started && last < 8);
}

static void every_answer_carries_the_security_headers(void)
{
    char p_audio[96], p_rec[96];
    snprintf(p_audio, sizeof p_audio, "/api/recordings/%s/audio", rec_alice);
    snprintf(p_rec, sizeof p_rec, "/api/recordings/%s", rec_alice);
    struct {
        const char *what, *req_fmt;
    } cases[] = {
        {"patient data", "GET /api/patients/alice HTTP/1.1\r\nHost: x\r\n%s\r\n"},
        {"recording", "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"},
        {"audio", "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"},
        {"audio range", "GET %s HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n%s\r\n"},
        {"401", "GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"404", "GET /api/nothing HTTP/1.1\r\nHost: x\r\n%s\r\n"},
        {"413", "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"},
        {"411", "POST /api/login HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"login", "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"},
        {"health", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"},
    };
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\nConnection: close\r\n",
             acc[ALICE].token);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[1024];
        const char *path = !strcmp(cases[i].what, "recording") ? p_rec : p_audio;
        if (!strncmp(cases[i].req_fmt, "GET %s", 6))
            snprintf(req, sizeof req, cases[i].req_fmt, path, auth);
        else if (strstr(cases[i].req_fmt, "%s"))
            snprintf(req, sizeof req, cases[i].req_fmt, auth);
        else
            snprintf(req, sizeof req, "%s", cases[i].req_fmt);
        http_resp r;
        int st = raw_status(req, strlen(req), &r);
        CHECKF(st > 0, "%s: no answer", cases[i].what);
        if (st > 0) {
            CHECKF(strcasestr(r.headers, "\ncache-control: no-store"), "%s (%d): no no-store",
                   cases[i].what, st);
            CHECKF(strcasestr(r.headers, "\nx-content-type-options: nosniff"),
                   "%s (%d): no nosniff", cases[i].what, st);
            CHECKF(strcasestr(r.headers, "\ncontent-security-policy:"), "%s (%d): no CSP",
                   cases[i].what, st);
        }
        http_resp_free(&r);
    }
    /* The web app's page: a CSP that forbids framing and foreign scripts. */
    http_resp r;
    const char *idx = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int st = raw_status(idx, strlen(idx), &r);
    if (st == 200) {
        CHECK(strcasestr(r.headers, "\ncontent-security-policy:") &&
              strcasestr(r.headers, "frame-ancestors 'none'") &&
              strcasestr(r.headers, "\nx-content-type-options: nosniff"));
    } else {
        printf("     (no web directory found: the page headers are not checked)\n");
    }
    http_resp_free(&r);
}

/* A second server on the same data: sessions of 2 s, 6 failed logins per address in 5 min
 * (the window's expiry is test_server_units' rate limiter test). */
static const char *const args_short[] = {"--set", "session_ttl_s=2",   "--set",
                                         "login_ip_max_failures=6", "--set",
                                         "login_window_s=300", "--set", "http_timeout_s=2", NULL};

static void an_expired_token_is_refused_everywhere(void)
{
    CHECK(server_stop(&srv, SIGTERM) == 0);
    CHECK(server_start(&srv, args_short) == 0);
    char tok[128], err[32] = "";
    http_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"username\":\"drbob\",\"password\":\"%s\"}",
             acc[DRBOB].password);
    CHECK(http_post_json(srv.port, "/api/login", NULL, body, &r) == 0 && r.status == 200);
    snprintf(tok, sizeof tok, "%s", jstr(r.json, "token") ? jstr(r.json, "token") : "");
    if (n_seen < 64)
        snprintf(seen_tokens[n_seen++], sizeof seen_tokens[0], "%s", tok);
    CHECK(strcasestr(r.headers, "Max-Age=2") != NULL); /* the cookie dies with the session */
    http_resp_free(&r);
    CHECK(get_status("/api/me", tok) == 200);
    sleep(3);
    CHECK(get_status("/api/me", tok) == 401);
    CHECK(with_cookie("/api/me", tok) == 401);
    CHECK(post_status("/api/alerts/1/ack", tok, "{}") == 401);
    CHECK(live_auth(tok) == 0);
    CHECK(ingest_open(tok, ",\"patient\":\"alice\"", err, sizeof err) == 0 &&
          !strcmp(err, "unauthorized"));
    /* Device tokens keep their own (long) lifetime. */
    CHECK(ingest_open(dev_alice, NULL, err, sizeof err) == 1);
}

static void login_brute_force_from_one_address_is_rate_limited(void)
{
    /* Guessing many user names (each fails once: under the per-user limit) from one address. */
    int st = 0, tries = 0;
    for (; tries < 10; tries++) {
        char name[32];
        snprintf(name, sizeof name, "guess%d", tries);
        if ((st = login(name, "guess-password", NULL, 0)) != 401)
            break;
    }
    printf("     %d failed logins from one address, then %d\n", tries, st);
    CHECK(tries == 6 && st == 429);
    /* Even the right password is refused while the address is locked (no oracle). */
    CHECK(login("drcarol", acc[DRCAROL].password, NULL, 0) == 429);
    http_resp r;
    char body[128];
    snprintf(body, sizeof body, "{\"username\":\"drcarol\",\"password\":\"x\"}");
    CHECK(http_post_json(srv.port, "/api/login", NULL, body, &r) == 0 && r.status == 429);
    CHECK(strcasestr(r.headers, "\nretry-after: 300") != NULL);
    http_resp_free(&r);
    /* Signed-in users are not affected: the limit is on logins only. */
    CHECK(get_status("/api/me", acc[DRBOB].token) == 200);
}

/* The server's log (stderr, both runs) holds no password, token, patient name, hospital id,
 * upload file name or message content. */
static void the_log_holds_no_secret_and_no_patient_data(void)
{
    CHECK(server_stop(&srv, SIGTERM) == 0);
    size_t len;
    char *log = read_whole(srv.log, &len);
    CHECK(log && strstr(log, "\"event\":\"http\""));
    if (!log)
        return;
    for (int i = 0; i < N_ACC; i++) {
        CHECKF(!strstr(log, acc[i].password), "the log holds %s's password", acc[i].name);
        CHECKF(!strstr(log, acc[i].token), "the log holds %s's token", acc[i].name);
        if (acc[i].hospital)
            CHECKF(!strstr(log, acc[i].hospital), "the log holds a hospital id");
        if (!strcmp(acc[i].role, "patient"))
            CHECKF(!strstr(log, acc[i].name), "the log holds the patient name %s", acc[i].name);
    }
    for (int i = 0; i < n_seen; i++)
        CHECKF(!strstr(log, seen_tokens[i]), "the log holds a token handed out");
    CHECK(!strstr(log, dev_alice));
    const char *words[] = {"fms_", "fmd_", "Bearer", "fm-evil", "guess-password", "self-signed",
                           "not mine", "HOSP-"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECKF(!strstr(log, words[i]), "the log holds '%s'", words[i]);
    free(log);
}

static int add_user(const account *a)
{
    const char *more[5] = {NULL};
    int n = 0;
    if (a->clinician) {
        more[n++] = "--clinician";
        more[n++] = a->clinician;
    }
    if (a->hospital) {
        more[n++] = "--hospital-id";
        more[n++] = a->hospital;
    }
    return srv_user_add(srv.data, a->role, a->name, a->password, more);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (make_temp_dir(parent, sizeof parent, "sec") != 0)
        return 1;
    snprintf(srv.data, sizeof srv.data, "%s/data", parent);
    if (mkdir(srv.data, 0700) != 0)
        return 1;
    const int order[N_ACC] = {DRBOB, DRCAROL, ROOT, ALICE, BETH};
    for (int i = 0; i < N_ACC; i++)
        if (add_user(&acc[order[i]]) != 0) {
            fprintf(stderr, "fetalmon user add %s failed\n", acc[order[i]].name);
            return 1;
        }
    srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice);
    snprintf(srv.log, sizeof srv.log, "%s/server.log", parent);
    const char *extra[] = {"--set", "http_timeout_s=2", NULL};
    if (server_start(&srv, extra) != 0) {
        fprintf(stderr, "fetalmon serve did not start\n");
        server_stop(&srv, SIGKILL);
        return 1;
    }
    for (int i = 0; i < N_ACC; i++)
        if (login(acc[i].name, acc[i].password, acc[i].token, sizeof acc[i].token) != 200) {
            fprintf(stderr, "login %s failed\n", acc[i].name);
            server_stop(&srv, SIGKILL);
            return 1;
        }
    /* One recording of alice's (the 'upload' route is the one a patient may use). */
    const char *csv = "time_s,fhr_bpm\n0,140\n0.25,141\n0.5,140\n";
    http_resp r;
    if (http_req(srv.port, "POST", "/api/recordings?name=alice-home.csv", acc[ALICE].token, csv,
                 strlen(csv), &r) != 0 ||
        r.status != 201 || !jstr(r.json, "id")) {
        fprintf(stderr, "upload failed\n");
        server_stop(&srv, SIGKILL);
        return 1;
    }
    snprintf(rec_alice, sizeof rec_alice, "%s", jstr(r.json, "id"));
    http_resp_free(&r);
    parent_entries = count_entries(parent);

    RUN(a_logged_out_token_is_dead_everywhere);
    RUN(privilege_escalation_is_refused);
    RUN(no_file_name_escapes_the_data_directory);
    RUN(oversized_headers_are_refused_and_the_server_goes_on);
    RUN(slow_loris_clients_are_cut_off_and_block_nobody);
    RUN(every_answer_carries_the_security_headers);
    RUN(an_expired_token_is_refused_everywhere);
    RUN(login_brute_force_from_one_address_is_rate_limited);
    RUN(the_log_holds_no_secret_and_no_patient_data);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    rm_tree(parent);
    return CHECK_DONE();
}
