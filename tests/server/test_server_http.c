/* End-to-end tests of `fetalmon serve` over real loopback sockets: a real server process on a
 * temporary data directory, accounts made with `fetalmon user`, requests from a plain-socket
 * HTTP client. Login, tokens, logout, upload -> analysis -> result, the access matrix, bad
 * input, the login rate limit, account changes from the CLI, SIGTERM. (Crash durability is in
 * test_server_crash.c.) */
#include "../check.h"
#include "srvtest.h"
#include "store.h"

static server_proc srv;
static char fixture[1024];

typedef srv_account account;

/* alice is drbob's patient, beth is drcarol's; root is the administrator. */
static account acc[] = {
    {"alice", "patient", "alice-password", "drbob", ""},
    {"beth", "patient", "beth-password", "drcarol", ""},
    {"drbob", "clinician", "drbob-password", NULL, ""},
    {"drcarol", "clinician", "drcarol-password", NULL, ""},
    {"root", "admin", "root-password", NULL, ""},
};
enum { ALICE, BETH, DRBOB, DRCAROL, ROOT, N_ACC };
static char dev_alice[128], dev_beth[128];

#define DUE_DATE "2027-03-01" /* of every patient */

static int add_user(const account *a)
{
    return srv_account_add(srv.data, a, DUE_DATE);
}

static char *fixture_bytes(size_t *len)
{
    return read_whole(fixture, len);
}

/* Uploads body as `query` (e.g. "?name=x.fhr"); returns the status, id copied when 201. */
static int upload(const char *token, const char *query, const char *body, size_t len, char *id,
                  size_t id_cap)
{
    return srv_upload(srv.port, token, query, body, len, id, id_cap, NULL);
}

/* Polls a recording until done or failed; returns its final response (caller frees). */
static int wait_analysis(const char *token, const char *id, http_resp *out)
{
    return srv_wait_analysed(srv.port, token, id, out);
}

static void health_answers_ok(void)
{
    http_resp r;
    CHECK(http_get(srv.port, "/health", NULL, &r) == 0);
    CHECK(r.status == 200);
    CHECK(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "ok"));
    CHECK(strcasestr(r.headers, "cache-control: no-store") != NULL);
    http_resp_free(&r);
}

/* Browsers reuse connections: several requests, one after the other, on one socket. */
static void keep_alive_connections_serve_several_requests(void)
{
    int fd = tcp_connect(srv.port, 10);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++) {
        char req[512];
        const char *body = "{\"username\":\"nobody\",\"password\":\"x-password\"}";
        int n = i == 1 ? snprintf(req, sizeof req,
                                  "POST /api/login HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: %zu\r\n\r\n%s",
                                  strlen(body), body)
                       : snprintf(req, sizeof req,
                                  "GET /api/me HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer %s\r\n\r\n",
                                  acc[ALICE].token);
        CHECK(send_all(fd, req, (size_t)n) == 0);
        http_resp r;
        CHECK(http_read(fd, &r) == 0);
        CHECKF(r.status == (i == 1 ? 401 : 200), "request %d -> %d", i, r.status);
        http_resp_free(&r);
    }
    close(fd);
}

/* The value of one sample line NAME VALUE of a Prometheus text body; -1 if absent. */
static double metric_value(const char *body, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = body ? strstr(body, key) : NULL;
    return p ? atof(p + strlen(key)) : -1;
}

static void metrics_are_prometheus_text(void)
{
    http_resp r;
    CHECK(http_get(srv.port, "/metrics", NULL, &r) == 0 && r.status == 200);
    CHECK(strcasestr(r.headers, "content-type: text/plain"));
    CHECK(r.body && strstr(r.body, "\nfetalmon_http_requests_total ") &&
          strstr(r.body, "fetalmon_analysis_queue_depth "));
    http_resp_free(&r);
}

/* After the analyses above (one done, one failed): /metrics counts both and their time, and
 * gives the live stream gauge (no stream in this test). */
static void metrics_count_analyses_and_live_streams(void)
{
    http_resp r;
    CHECK(http_get(srv.port, "/metrics", NULL, &r) == 0 && r.status == 200);
    const char *c = r.body ? strstr(r.body, "\nfetalmon_analysis_seconds_count ") : NULL;
    const char *sum = r.body ? strstr(r.body, "\nfetalmon_analysis_seconds_sum ") : NULL;
    const char *ls = r.body ? strstr(r.body, "\nfetalmon_live_streams ") : NULL;
    CHECK(c && sum && ls);
    if (c && sum && ls) {
        CHECKF(atoll(c + 33) >= 2, "count %lld", atoll(c + 33));
        CHECK(atof(sum + 31) >= 0);
        CHECK(atoll(ls + 23) == 0);
    }
    http_resp_free(&r);
}

/* Memory figures: the resident set is never 0; with memory_trim_s = 1 the housekeeping trim
 * has run within a few seconds and says how long it took (a sanitizer's allocator may leave
 * the heap figures of glibc at 0: not asserted). */
static void metrics_give_memory_and_the_heap_trims(void)
{
    double trims = 0, rss = -1, tmax = -1, heap = -1;
    for (int i = 0; i < 50 && trims < 1; i++) {
        http_resp r;
        CHECK(http_get(srv.port, "/metrics", NULL, &r) == 0 && r.status == 200);
        rss = metric_value(r.body, "fetalmon_resident_bytes");
        trims = metric_value(r.body, "fetalmon_heap_trims_total");
        tmax = metric_value(r.body, "fetalmon_heap_trim_seconds_max");
        heap = metric_value(r.body, "fetalmon_heap_in_use_bytes");
        http_resp_free(&r);
        if (trims < 1)
            usleep(100 * 1000);
    }
    CHECKF(rss > 1e6, "resident %.0f bytes", rss);
    CHECKF(heap >= 0, "heap in use %.0f", heap);
    CHECKF(trims >= 1, "trims %.0f", trims);
    CHECKF(tmax >= 0 && tmax < 5, "trim took %.3f s", tmax);
}

static void login_gives_a_token_and_me_knows_the_user(void)
{
    http_resp r;
    CHECK(http_get(srv.port, "/api/me", acc[ALICE].token, &r) == 0);
    CHECK(r.status == 200);
    CHECK(jstr(r.json, "name") && !strcmp(jstr(r.json, "name"), "alice"));
    CHECK(jstr(r.json, "role") && !strcmp(jstr(r.json, "role"), "patient"));
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(r.json, "patient");
    const cJSON *team = cJSON_GetObjectItemCaseSensitive(p, "care_team");
    CHECK(cJSON_GetArraySize(team) == 1);
    CHECK(!strcmp(jstr(cJSON_GetArrayItem(team, 0), "name"), "drbob"));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p, "gestation_weeks")));
    http_resp_free(&r);
}

static void login_with_a_wrong_password_or_unknown_user_is_401(void)
{
    CHECK(srv_login(srv.port, "alice", "not-her-password", NULL, 0) == 401);
    CHECK(srv_login(srv.port, "nobody", "whatever-password", NULL, 0) == 401);
    CHECK(srv_login(srv.port, "../etc/passwd", "whatever-password", NULL, 0) == 401);
}

static void requests_without_a_valid_token_are_401(void)
{
    http_resp r;
    const char *paths[] = {"/api/me", "/api/patients", "/api/patients/alice",
                           "/api/recordings/0123456789abcdef", "/api/audit"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        CHECK(http_get(srv.port, paths[i], NULL, &r) == 0);
        CHECKF(r.status == 401, "%s -> %d", paths[i], r.status);
        CHECK(jstr(r.json, "error") != NULL);
        CHECK(strcasestr(r.headers, "www-authenticate: Bearer") != NULL);
        http_resp_free(&r);
    }
    const char *bad[] = {"garbage", "fms_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "fmd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(http_get(srv.port, "/api/me", bad[i], &r) == 0);
        CHECKF(r.status == 401, "token '%s' -> %d", bad[i], r.status);
        http_resp_free(&r);
    }
    /* An Authorization header longer than any token. */
    char big[1200];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(http_get(srv.port, "/api/me", big, &r) == 0);
    CHECK(r.status == 401 || r.status == 431 || r.status == 400);
    http_resp_free(&r);
    /* A session token presented as a device token (kind letter changed) is refused. */
    char forged[128];
    snprintf(forged, sizeof forged, "%s", acc[ALICE].token);
    forged[2] = 'd';
    CHECK(http_get(srv.port, "/api/me", forged, &r) == 0);
    CHECK(r.status == 401);
    http_resp_free(&r);
}

static void logout_invalidates_the_token(void)
{
    char tok[128];
    CHECK(srv_login(srv.port, "beth", "beth-password", tok, sizeof tok) == 200);
    http_resp r;
    CHECK(http_get(srv.port, "/api/me", tok, &r) == 0 && r.status == 200);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/logout", tok, "", &r) == 0 && r.status == 200);
    http_resp_free(&r);
    CHECK(http_get(srv.port, "/api/me", tok, &r) == 0 && r.status == 401);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/logout", tok, "", &r) == 0 && r.status == 401);
    http_resp_free(&r);
    /* Beth's other session is untouched. */
    CHECK(http_get(srv.port, "/api/me", acc[BETH].token, &r) == 0 && r.status == 200);
    http_resp_free(&r);
}

/* A request with only the browser's session cookie. */
static int with_cookie(const char *method, const char *path, const char *token)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Cookie: theme=dark; fm_session=%s\r\n%s\r\n",
                     method, path, token, strcmp(method, "POST") ? "" : "Content-Length: 0\r\n");
    http_resp r;
    int st = http_raw(srv.port, req, (size_t)n, &r) == 0 ? r.status : -1;
    http_resp_free(&r);
    return st;
}

static void the_session_cookie_authenticates_reads_only(void)
{
    char body[128];
    snprintf(body, sizeof body, "{\"username\":\"beth\",\"password\":\"beth-password\"}");
    http_resp r;
    CHECK(http_post_json(srv.port, "/api/login", NULL, body, &r) == 0 && r.status == 200);
    CHECK(strcasestr(r.headers, "set-cookie: fm_session=fms_") &&
          strcasestr(r.headers, "HttpOnly") && strcasestr(r.headers, "SameSite=Strict"));
    char tok[128];
    snprintf(tok, sizeof tok, "%s", jstr(r.json, "token") ? jstr(r.json, "token") : "");
    http_resp_free(&r);
    CHECK(with_cookie("GET", "/api/me", tok) == 200);
    CHECK(with_cookie("POST", "/api/logout", tok) == 401); /* no writes by cookie (CSRF) */
    CHECK(with_cookie("GET", "/api/me", "fms_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == 401);
    CHECK(http_post_json(srv.port, "/api/logout", tok, "", &r) == 0 && r.status == 200);
    CHECK(strcasestr(r.headers, "Max-Age=0") != NULL);
    http_resp_free(&r);
    CHECK(with_cookie("GET", "/api/me", tok) == 401);
}

static char rec_alice[32], rec_beth[32];

static void upload_is_analysed_and_the_result_readable(void)
{
    size_t len;
    char *data = fixture_bytes(&len);
    CHECK(data != NULL);
    if (!data)
        return;
    CHECK(upload(acc[ALICE].token, "?name=train01.fhr", data, len, rec_alice, sizeof rec_alice) ==
          201);
    CHECK(strlen(rec_alice) == 16);
    http_resp r;
    CHECK(wait_analysis(acc[ALICE].token, rec_alice, &r) == 0);
    CHECK(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "done"));
    CHECK(jstr(r.json, "patient") && !strcmp(jstr(r.json, "patient"), "alice"));
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(r.json, "analysis");
    CHECK(cJSON_IsObject(an));
    CHECK(jstr(an, "source") && !strcmp(jstr(an, "source"), "train01.fhr"));
    const cJSON *fhr = cJSON_GetObjectItemCaseSensitive(an, "fhr");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(an, "duration_s");
    /* The fixture is 20 minutes at 4 Hz. */
    CHECK(cJSON_GetArraySize(fhr) == 20 * 60 * 4);
    CHECK(cJSON_IsNumber(dur) && dur->valuedouble > 1199 && dur->valuedouble < 1201);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "progress")) == 1);
    http_resp_free(&r);
    /* The same file for beth, uploaded by her clinician. */
    CHECK(upload(acc[DRCAROL].token, "?patient=beth&name=b.fhr", data, len, rec_beth,
                 sizeof rec_beth) == 201);
    CHECK(wait_analysis(acc[BETH].token, rec_beth, &r) == 0);
    CHECK(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "done"));
    http_resp_free(&r);
    /* Listed for the patient. */
    CHECK(http_get(srv.port, "/api/patients/alice/recordings", acc[DRBOB].token, &r) == 0);
    CHECK(r.status == 200 && r.body && strstr(r.body, rec_alice) && !strstr(r.body, rec_beth));
    http_resp_free(&r);
    free(data);
}

static void audio_downloads_support_ranges(void)
{
    size_t len;
    char *data = fixture_bytes(&len);
    char path[96];
    snprintf(path, sizeof path, "/api/recordings/%s/audio", rec_alice);
    http_resp r;
    CHECK(http_get(srv.port, path, acc[DRBOB].token, &r) == 0 && r.status == 200);
    CHECK(data && r.len == len && !memcmp(r.body, data, len));
    CHECK(strcasestr(r.headers, "accept-ranges: bytes"));
    http_resp_free(&r);
    struct {
        const char *range;
        int status;
        size_t off, n;
    } cases[] = {
        {"bytes=100-199", 206, 100, 100},
        {"bytes=-10", 206, len - 10, 10},
        {"bytes=28000-", 206, 28000, len - 28000},
        {"bytes=0-999999", 206, 0, len},
        {"bytes=999999-", 416, 0, 0},
        {"bytes=5-1", 416, 0, 0},
        {"bytes=0-1,5-6", 416, 0, 0},
        {"items=0-1", 416, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Authorization: Bearer %s\r\nRange: %s\r\n\r\n",
                         path, acc[ALICE].token, cases[i].range);
        CHECK(http_raw(srv.port, req, (size_t)n, &r) == 0);
        CHECKF(r.status == cases[i].status, "%s -> %d", cases[i].range, r.status);
        if (r.status == 206) {
            char cr[96];
            snprintf(cr, sizeof cr, "content-range: bytes %zu-%zu/%zu", cases[i].off,
                     cases[i].off + cases[i].n - 1, len);
            CHECKF(strcasestr(r.headers, cr) != NULL, "%s: %s", cases[i].range, r.headers);
            CHECK(r.len == cases[i].n && !memcmp(r.body, data + cases[i].off, cases[i].n));
        }
        http_resp_free(&r);
    }
    CHECK(http_get(srv.port, path, acc[BETH].token, &r) == 0 && r.status == 404);
    CHECK(r.len < 200);
    http_resp_free(&r);
    CHECK(http_get(srv.port, path, acc[ROOT].token, &r) == 0 && r.status == 404);
    http_resp_free(&r);
    free(data);
}

static void a_trace_the_engine_rejects_ends_failed_with_a_reason(void)
{
    const char *csv = "this,is\nnot,a trace\n";
    char id[32];
    CHECK(upload(acc[ALICE].token, "?name=junk.csv", csv, strlen(csv), id, sizeof id) == 201);
    http_resp r;
    CHECK(wait_analysis(acc[ALICE].token, id, &r) == 0);
    CHECK(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "failed"));
    CHECK(jstr(r.json, "error") && strlen(jstr(r.json, "error")) > 0);
    CHECK(!cJSON_GetObjectItemCaseSensitive(r.json, "analysis"));
    http_resp_free(&r);
}

/* Who gets what: expected status of each principal on each route about alice's data. */
static void access_matrix_never_leaks_another_patients_data(void)
{
    const char *who[] = {acc[ALICE].token, acc[BETH].token, acc[DRBOB].token, acc[DRCAROL].token,
                         acc[ROOT].token,  dev_alice,       dev_beth};
    const char *names[] = {"alice", "beth", "drbob", "drcarol", "root", "dev_alice", "dev_beth"};
    char rec_path[64];
    snprintf(rec_path, sizeof rec_path, "/api/recordings/%s", rec_alice);
    struct {
        const char *path;
        int expect[7];
    } gets[] = {
        {"/api/patients/alice", {200, 404, 200, 404, 200, 403, 403}},
        {"/api/patients/alice/recordings", {200, 404, 200, 404, 404, 403, 403}},
        {rec_path, {200, 404, 200, 404, 404, 403, 403}},
        {"/api/audit", {403, 403, 403, 403, 200, 403, 403}},
        {"/api/me", {200, 200, 200, 200, 200, 403, 403}},
    };
    for (size_t g = 0; g < sizeof gets / sizeof gets[0]; g++) {
        for (int w = 0; w < 7; w++) {
            http_resp r;
            CHECK(http_get(srv.port, gets[g].path, who[w], &r) == 0);
            CHECKF(r.status == gets[g].expect[w], "GET %s as %s -> %d, want %d", gets[g].path,
                   names[w], r.status, gets[g].expect[w]);
            if (r.status != 200) {
                CHECK(jstr(r.json, "error") != NULL);
                CHECKF(r.body && !strstr(r.body, rec_alice) && !strstr(r.body, "\"fhr\""),
                       "refused body leaks data: %s", r.body ? r.body : "(none)");
            }
            http_resp_free(&r);
        }
    }
    /* Uploads for alice. */
    const char *csv = "time_s,fhr_bpm\n0,140\n0.25,141\n";
    int expect_up[7] = {201, 404, 201, 404, 403, 201, 404};
    for (int w = 0; w < 7; w++) {
        int st = upload(who[w], "?patient=alice&name=x.csv", csv, strlen(csv), NULL, 0);
        CHECKF(st == expect_up[w], "upload for alice as %s -> %d, want %d", names[w], st,
               expect_up[w]);
    }
    /* Lists: alice appears only for those allowed. */
    int expect_list[5] = {1, 0, 1, 0, 1};
    for (int w = 0; w < 5; w++) {
        http_resp r;
        CHECK(http_get(srv.port, "/api/patients", who[w], &r) == 0 && r.status == 200);
        int has = r.body && strstr(r.body, "\"alice\"") != NULL;
        CHECKF(has == expect_list[w], "patient list of %s: %s", names[w], r.body);
        http_resp_free(&r);
    }
    /* The audit log recorded the refusals and the reads, with the client address. */
    http_resp r;
    CHECK(http_get(srv.port, "/api/audit?limit=1000", acc[ROOT].token, &r) == 0);
    CHECK(r.body && strstr(r.body, "\"recording.denied\"") &&
          strstr(r.body, "\"recording.read\"") && strstr(r.body, "\"login.failed\"") &&
          strstr(r.body, "127.0.0.1"));
    http_resp_free(&r);
}

static void a_clinician_signs_a_reading_the_patient_sees(void)
{
    char path[96];
    snprintf(path, sizeof path, "/api/recordings/%s/readings", rec_alice);
    http_resp r;
    const char *ok = "{\"category\":\"normal\",\"text\":\"Reassuring trace.\"}";
    CHECK(http_post_json(srv.port, path, acc[DRBOB].token, ok, &r) == 0 && r.status == 201);
    http_resp_free(&r);
    struct {
        int who, expect;
        const char *body;
    } posts[] = {
        {DRCAROL, 404, ok},
        {ALICE, 403, ok},
        {ROOT, 404, ok},
        {DRBOB, 400, "{\"category\":\"fine\",\"text\":\"x\"}"},
        {DRBOB, 400, "{\"category\":\"normal\",\"text\":5}"},
        {DRBOB, 400, "{nope"},
    };
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        CHECK(http_post_json(srv.port, path, acc[posts[i].who].token, posts[i].body, &r) == 0);
        CHECKF(r.status == posts[i].expect, "reading %zu -> %d", i, r.status);
        http_resp_free(&r);
    }
    CHECK(http_get(srv.port, path, acc[ALICE].token, &r) == 0 && r.status == 200);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "readings");
    CHECK(cJSON_GetArraySize(list) == 1);
    const cJSON *rd = cJSON_GetArrayItem(list, 0);
    CHECK(rd && !strcmp(jstr(rd, "category"), "normal") &&
          !strcmp(jstr(rd, "text"), "Reassuring trace.") &&
          !strcmp(jstr(rd, "clinician"), "drbob"));
    http_resp_free(&r);
    CHECK(http_get(srv.port, path, acc[BETH].token, &r) == 0 && r.status == 404);
    CHECK(r.body && !strstr(r.body, "Reassuring"));
    http_resp_free(&r);
}

static void alerts_are_listed_and_acknowledged_by_the_care_team(void)
{
    /* The alerting engine raises alerts; here the test plays it through the store. */
    fm_store *s = NULL;
    char err[256];
    CHECK(fm_store_open(srv.data, &s, err, sizeof err) == FM_SVC_OK);
    if (!s)
        return;
    fm_user alice;
    CHECK(fm_store_user_by_name(s, "alice", &alice, NULL, 0) == FM_SVC_OK);
    fm_alert a = {.patient_id = alice.id, .t_from_s = 600, .t_to_s = 800};
    snprintf(a.recording_id, sizeof a.recording_id, "%.16s", rec_alice);
    snprintf(a.rule, sizeof a.rule, "prolonged_deceleration");
    snprintf(a.priority, sizeof a.priority, "high");
    a.created_ms = fm_now_ms();
    CHECK(fm_store_alert_add(s, &a) == FM_SVC_OK && a.id > 0);
    fm_store_close(s);
    http_resp r;
    CHECK(http_get(srv.port, "/api/patients/alice/alerts", acc[DRBOB].token, &r) == 0);
    CHECK(r.status == 200 && r.body && strstr(r.body, "prolonged_deceleration"));
    http_resp_free(&r);
    CHECK(http_get(srv.port, "/api/patients/alice/alerts", acc[DRCAROL].token, &r) == 0);
    CHECK(r.status == 404 && r.body && !strstr(r.body, "prolonged"));
    http_resp_free(&r);
    CHECK(http_get(srv.port, "/api/patients/alice/alerts", acc[ALICE].token, &r) == 0);
    CHECK(r.status == 403);
    http_resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/api/alerts/%lld/ack", (long long)a.id);
    CHECK(http_post_json(srv.port, path, acc[DRCAROL].token, "", &r) == 0 && r.status == 404);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, path, acc[ALICE].token, "", &r) == 0 && r.status == 404);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, path, acc[DRBOB].token, "", &r) == 0 && r.status == 200);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "acknowledged"));
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, path, acc[DRBOB].token, "", &r) == 0 && r.status == 409);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/alerts/99999/ack", acc[DRBOB].token, "", &r) == 0 &&
          r.status == 404);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/alerts/x1/ack", acc[DRBOB].token, "", &r) == 0 &&
          r.status == 404);
    http_resp_free(&r);
}

static void bad_input_gets_a_clear_json_error(void)
{
    struct {
        const char *method, *path, *body;
        int token; /* use alice's token */
        int expect;
    } cases[] = {
        {"POST", "/api/login", "{not json", 0, 400},
        {"POST", "/api/login", "[]", 0, 400},
        {"POST", "/api/login", "{\"username\":1,\"password\":[]}", 0, 400},
        {"POST", "/api/login", "{\"username\":\"alice\"}", 0, 400},
        {"POST", "/api/login", "", 0, 400},
        {"GET", "/api/login", NULL, 0, 405},
        {"POST", "/api/me", "{}", 1, 405},
        {"PUT", "/api/me", "{}", 1, 405},
        {"GET", "/api/nothing-here", NULL, 1, 404},
        {"GET", "/nothing", NULL, 0, 404},
        {"GET", "/api/recordings/..%2F..%2Fetc%2Fpasswd", NULL, 1, 404},
        {"GET", "/api/recordings/0123456789abcdef", NULL, 1, 404},
        {"GET", "/api/recordings/XYZ", NULL, 1, 404},
        {"GET", "/api/patients/../../etc", NULL, 1, 404},
        {"POST", "/api/recordings?name=notes.txt", "hello", 1, 415},
        {"POST", "/api/recordings?name=fake.wav", "this is not a RIFF file", 1, 415},
        {"POST", "/api/recordings?name=a.fhr", "", 1, 400},
        {"GET", "/api/audit?limit=0", NULL, 1, 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp r;
        const char *b = cases[i].body;
        CHECK(http_req(srv.port, cases[i].method, cases[i].path,
                       cases[i].token ? acc[ALICE].token : NULL, b, b ? strlen(b) : 0, &r) == 0);
        CHECKF(r.status == cases[i].expect, "%s %s -> %d, want %d (%s)", cases[i].method,
               cases[i].path, r.status, cases[i].expect, r.body ? r.body : "");
        CHECKF(jstr(r.json, "error") && jstr(r.json, "message"), "not a JSON error: %s",
               r.body ? r.body : "");
        http_resp_free(&r);
    }
    /* A query argument longer than any we use. */
    char path[1200];
    int n = snprintf(path, sizeof path, "/api/patients?patient=");
    memset(path + n, 'x', 600);
    path[n + 600] = 0;
    http_resp r;
    CHECK(http_get(srv.port, path, acc[ALICE].token, &r) == 0);
    CHECK(r.status == 400 || r.status == 414 || r.status == 431);
    http_resp_free(&r);
}

static void huge_or_unbounded_bodies_are_refused_early(void)
{
    http_resp r;
    /* JSON body far over the limit: refused from the headers, before any byte of it. */
    const char *big = "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n"
                      "\r\n{\"username\":";
    CHECK(http_raw(srv.port, big, strlen(big), &r) == 0);
    CHECK(r.status == 413 && jstr(r.json, "error"));
    http_resp_free(&r);
    /* Upload over max_upload_bytes (1 MiB in this test server). */
    char up[512];
    snprintf(up, sizeof up,
             "POST /api/recordings?name=a.wav HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: 2000000\r\n\r\nRIFF",
             acc[ALICE].token);
    CHECK(http_raw(srv.port, up, strlen(up), &r) == 0);
    CHECK(r.status == 413);
    http_resp_free(&r);
    /* No Content-Length on a POST. */
    const char *nolen = "POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n5\r\nhello\r\n0\r\n\r\n";
    CHECK(http_raw(srv.port, nolen, strlen(nolen), &r) == 0);
    CHECK(r.status == 411 || r.status == 400 || r.status == 501);
    http_resp_free(&r);
    /* An upload without a token is refused before the body is read. */
    const char *anon = "POST /api/recordings?name=a.wav HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 900000\r\n\r\nRIFF";
    CHECK(http_raw(srv.port, anon, strlen(anon), &r) == 0);
    CHECK(r.status == 401);
    http_resp_free(&r);
    /* Garbage instead of HTTP. */
    const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n";
    int fd = tcp_connect(srv.port, 5);
    if (fd >= 0) {
        send_all(fd, garbage, sizeof garbage - 1);
        char b[256];
        (void)!recv(fd, b, sizeof b, 0);
        close(fd);
    }
    /* The server is still serving. */
    CHECK(http_get(srv.port, "/health", NULL, &r) == 0 && r.status == 200);
    http_resp_free(&r);
}

static void a_device_token_may_only_upload_for_its_patient(void)
{
    http_resp r;
    CHECK(http_get(srv.port, "/api/patients", dev_alice, &r) == 0 && r.status == 403);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/logout", dev_alice, "", &r) == 0 && r.status == 403);
    http_resp_free(&r);
    const char *csv = "time_s,fhr_bpm\n0,140\n";
    CHECK(upload(dev_alice, "?name=home.csv", csv, strlen(csv), NULL, 0) == 201);
    CHECK(upload(dev_alice, "?patient=beth&name=home.csv", csv, strlen(csv), NULL, 0) == 404);
    /* Device tokens cannot sign in as the patient. */
    CHECK(srv_login(srv.port, "alice", dev_alice, NULL, 0) == 401);
}

static void login_is_rate_limited_per_user(void)
{
    account dana = {"dana", "patient", "dana-password", "drbob", ""};
    CHECK(add_user(&dana) == 0);
    for (int i = 0; i < 3; i++) /* the test server allows 3 failures */
        CHECK(srv_login(srv.port, "dana", "wrong-password", NULL, 0) == 401);
    char body[128];
    snprintf(body, sizeof body, "{\"username\":\"dana\",\"password\":\"dana-password\"}");
    http_resp r;
    CHECK(http_post_json(srv.port, "/api/login", NULL, body, &r) == 0);
    CHECK(r.status == 429 && strcasestr(r.headers, "retry-after:"));
    http_resp_free(&r);
    /* Other users are not locked out by dana's attacker. */
    CHECK(srv_login(srv.port, "alice", "alice-password", NULL, 0) == 200);
}

static void cli_passwd_and_disable_end_sessions(void)
{
    account erin = {"erin", "patient", "erin-password", "drbob", ""};
    CHECK(add_user(&erin) == 0);
    CHECK(add_user(&erin) == 1); /* the name is taken */
    const char *bad_role[] = {"add",    "--data", srv.data,           "--role", "nurse",
                              "--name", "x",      "--password-stdin", NULL};
    CHECK(run_user("some-password", NULL, 0, bad_role) == 2);
    const char *short_pw[] = {"add",    "--data", srv.data,           "--role", "admin",
                              "--name", "shorty", "--password-stdin", NULL};
    CHECK(run_user("short", NULL, 0, short_pw) == 1);
    char tok[128];
    CHECK(srv_login(srv.port, "erin", "erin-password", tok, sizeof tok) == 200);
    const char *pw[] = {"passwd", "--data", srv.data, "--name", "erin", "--password-stdin", NULL};
    CHECK(run_user("erin-new-password", NULL, 0, pw) == 0);
    http_resp r;
    CHECK(http_get(srv.port, "/api/me", tok, &r) == 0 && r.status == 401);
    http_resp_free(&r);
    CHECK(srv_login(srv.port, "erin", "erin-password", NULL, 0) == 401);
    CHECK(srv_login(srv.port, "erin", "erin-new-password", tok, sizeof tok) == 200);
    const char *dis[] = {"disable", "--data", srv.data, "--name", "erin", NULL};
    CHECK(run_user(NULL, NULL, 0, dis) == 0);
    CHECK(http_get(srv.port, "/api/me", tok, &r) == 0 && r.status == 401);
    http_resp_free(&r);
    CHECK(srv_login(srv.port, "erin", "erin-new-password", NULL, 0) == 401);
    char out[4096];
    const char *list[] = {"list", "--data", srv.data, NULL};
    CHECK(run_user(NULL, out, sizeof out, list) == 0);
    CHECK(strstr(out, "erin") && strstr(out, "disabled") && strstr(out, "drbob"));
}

static void sigterm_shuts_down_cleanly(void)
{
    CHECK(server_stop(&srv, SIGTERM) == 0);
}

/* The server's log (stderr) has a JSON line per request and never a patient's name, a password
 * or a token. */
static void logs_hold_no_patient_data_or_secrets(void)
{
    size_t len;
    char *log = read_whole(srv.log, &len);
    CHECK(log != NULL && strstr(log, "\"event\":\"http\"") && strstr(log, "\"stopped\""));
    if (!log)
        return;
    const char *secrets[] = {"alice", "beth", "password", "fms_", "fmd_", "Bearer"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        CHECKF(!strstr(log, secrets[i]), "the log contains '%s'", secrets[i]);
    for (char *line = log; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (*line == '{') {
            cJSON *j = cJSON_Parse(line);
            CHECKF(j != NULL, "not JSON: %s", line);
            cJSON_Delete(j);
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(log);
}

int main(void)
{
    srv_fixture_path(fixture, sizeof fixture);
    if (make_temp_dir(srv.data, sizeof srv.data, "http") != 0) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    if (srv_accounts_add(srv.data, acc, N_ACC, DUE_DATE) != 0)
        return 1;
    srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice);
    srv_device_token(srv.data, "beth", dev_beth, sizeof dev_beth);
    snprintf(srv.log, sizeof srv.log, "%s/server.log", srv.data);
    const char *extra[] = {"--set", "login_max_failures=3", "--set", "max_upload_bytes=1M",
                           "--set", "memory_trim_s=1", "--set", "malloc_arenas=2", NULL};
    if (server_start(&srv, extra) != 0) {
        fprintf(stderr, "fetalmon serve did not start\n");
        server_stop(&srv, SIGKILL);
        return 1;
    }
    if (srv_login_all(srv.port, acc, N_ACC) != 0) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(health_answers_ok);
    RUN(metrics_are_prometheus_text);
    RUN(keep_alive_connections_serve_several_requests);
    RUN(login_gives_a_token_and_me_knows_the_user);
    RUN(login_with_a_wrong_password_or_unknown_user_is_401);
    RUN(requests_without_a_valid_token_are_401);
    RUN(logout_invalidates_the_token);
    RUN(the_session_cookie_authenticates_reads_only);
    RUN(upload_is_analysed_and_the_result_readable);
    RUN(audio_downloads_support_ranges);
    RUN(a_trace_the_engine_rejects_ends_failed_with_a_reason);
    RUN(metrics_count_analyses_and_live_streams);
    RUN(metrics_give_memory_and_the_heap_trims);
    RUN(access_matrix_never_leaks_another_patients_data);
    RUN(a_clinician_signs_a_reading_the_patient_sees);
    RUN(alerts_are_listed_and_acknowledged_by_the_care_team);
    RUN(bad_input_gets_a_clear_json_error);
    RUN(huge_or_unbounded_bodies_are_refused_early);
    RUN(a_device_token_may_only_upload_for_its_patient);
    RUN(login_is_rate_limited_per_user);
    RUN(cli_passwd_and_disable_end_sessions);
    RUN(sigterm_shuts_down_cleanly);
    RUN(logs_hold_no_patient_data_or_secrets);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    rm_tree(srv.data);
    return CHECK_DONE();
}
