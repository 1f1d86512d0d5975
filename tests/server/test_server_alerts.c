/* End-to-end tests of alert delivery by the real `fetalmon serve` (docs/alerts.md 3, docs/api.md):
 * webhooks to a receiver this test runs on 127.0.0.1 (a socket server thread) that is down at
 * first, through a SIGKILL and a restart of the server, then up: every alert transition arrives
 * exactly once per delivery id, each with a valid HMAC signature; an unacknowledged HIGH alert
 * keeps escalating on time across the restart (care team, then on duty, named in the payload
 * and listed by GET /api/alerts for the on-duty clinician, who may acknowledge it); an upload
 * whose audio cannot be decoded raises "analysis failed", stored and delivered like the others;
 * GET /api/alerts filters by state and scope (the alarm bar's one request); fm_alertsvc_technical
 * raises once and clears. The receiver is tests/webhook_rx.h. */
#include <math.h>
#include <pthread.h>

#include "../check.h"
#include "../webhook_rx.h"
#include "alertsvc_tech.h"
#include "srvtest.h"
#include "store.h"
#include "webhook.h"

#define SECRET "alerts-test-secret-0123456789"
#define ESCALATE_S 4

static server_proc srv;
static char tok_drbob[128], tok_drdave[128], dev_alice[128];

static webhook_rx rx; /* down at first: started on rx.port only later */

/* The deliveries received so far, deduplicated on X-Fetalmon-Delivery, as parsed JSON (caller
 * deletes); *n_dup gets the count of repeats of an id already seen (allowed: retries). Checks
 * every signature and that a repeated id always carries the same body. */
static cJSON *rx_deliveries(int *n_dup)
{
    cJSON *out = cJSON_CreateArray();
    *n_dup = 0;
    pthread_mutex_lock(&rx.mu);
    for (int i = 0; i < rx.n; i++) {
        webhook_rx_got *g = &rx.g[i];
        CHECKF(fm_webhook_verify((const unsigned char *)SECRET, strlen(SECRET), g->timestamp,
                                 g->body, strlen(g->body), g->signature),
               "delivery %s: bad signature", g->delivery);
        CHECK(labs(atol(g->timestamp) - (long)time(NULL)) < 300);
        int seen = 0;
        for (int k = 0; k < i; k++)
            if (!strcmp(rx.g[k].delivery, g->delivery)) {
                seen = 1;
                CHECK(!strcmp(rx.g[k].body, g->body));
            }
        if (seen) {
            (*n_dup)++;
            continue;
        }
        cJSON *j = cJSON_Parse(g->body);
        CHECK(j != NULL);
        if (j) {
            cJSON_AddStringToObject(j, "_delivery", g->delivery);
            cJSON_AddItemToArray(out, j);
        }
    }
    pthread_mutex_unlock(&rx.mu);
    return out;
}

/* The delivery of alert `id` of type `type` at `level` (-1: any), or NULL; *count how many
 * distinct deliveries match. */
static const cJSON *find_event(const cJSON *all, long long id, const char *type, int level,
                               int *count)
{
    const cJSON *found = NULL, *j;
    *count = 0;
    cJSON_ArrayForEach(j, all)
    {
        if ((long long)jnum(j, "alert_id") != id || !jstr(j, "type") ||
            strcmp(jstr(j, "type"), type) || (level >= 0 && (int)jnum(j, "level") != level))
            continue;
        (*count)++;
        found = j;
    }
    return found;
}

static int start_server(void)
{
    static char url[96], port_set[32];
    snprintf(url, sizeof url, "webhook_url=http://127.0.0.1:%d/hook", rx.port);
    snprintf(port_set, sizeof port_set, "alert_escalate_s=%d", ESCALATE_S);
    const char *extra[] = {"--set", url,
                           "--set", "webhook_secret=" SECRET,
                           "--set", "webhook_backoff_initial_ms=100",
                           "--set", "webhook_backoff_max_ms=300",
                           "--set", "webhook_timeout_ms=2000",
                           "--set", port_set,
                           NULL};
    return server_start(&srv, extra);
}

/* A 10-minute CSV trace (4 Hz): 140 bpm with variability, a 5-minute plateau at 70 bpm from
 * minute 4 (FHR < 80 bpm for > 3 min: HIGH, CLINICAL 4.1, 5). */
static char *low_fhr_csv(size_t *len)
{
    size_t cap = 64 * 2400 + 64, n = 0;
    char *b = malloc(cap);
    n += (size_t)snprintf(b + n, cap - n, "time_s,fhr_bpm\n");
    for (int k = 0; k < 2400; k++) {
        double t = k / 4.0;
        double f = 140 + 6 * sin(2 * M_PI * t / 37.0) + 3 * sin(2 * M_PI * t / 11.0);
        if (t >= 240 && t < 540)
            f = 70 + 2 * sin(2 * M_PI * t / 23.0);
        n += (size_t)snprintf(b + n, cap - n, "%.2f,%.1f\n", t, f);
    }
    *len = n;
    return b;
}

/* The HIGH fhr_below_80 alert of alice: its id and created_ms, 0 when none yet. */
static long long high_alert(int64_t *created_ms)
{
    http_resp r;
    long long id = 0;
    if (http_get(srv.port, "/api/patients/alice/alerts", tok_drbob, &r) == 0 && r.json) {
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
        {
            if (jstr(a, "rule") && !strcmp(jstr(a, "rule"), "fhr_below_80")) {
                id = (long long)jnum(a, "id");
                *created_ms = (int64_t)jnum(a, "created_ms");
            }
        }
    }
    http_resp_free(&r);
    return id;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void names_are(const cJSON *j, const char *key, const char *a, const char *b)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
    int n = cJSON_GetArraySize(arr);
    CHECKF(n == (b ? 2 : 1), "%s has %d names", key, n);
    const cJSON *x = cJSON_GetArrayItem(arr, 0), *y = cJSON_GetArrayItem(arr, 1);
    CHECK(cJSON_IsString(x) && !strcmp(x->valuestring, a));
    if (b)
        CHECK(cJSON_IsString(y) && !strcmp(y->valuestring, b));
}

/* ---- tests ---- */

/* The receiver is down while a HIGH alert is raised and delivered to the first clinician; the
 * server is killed (SIGKILL) with those deliveries pending, restarted, and only then does the
 * receiver come up. Everything arrives, once per delivery id, signed; the alert escalates on
 * time across the restart: level 1 (next on the care team) at raise + ESCALATE_S, level 2
 * (on duty: a clinician outside the care team) at raise + 2 * ESCALATE_S. */
static void webhooks_and_escalation_survive_a_down_receiver_and_a_restart(void)
{
    size_t len;
    char *csv = low_fhr_csv(&len);
    http_resp r;
    CHECK(http_req(srv.port, "POST", "/api/recordings?name=home.csv", dev_alice, csv, len, &r) ==
              0 &&
          r.status == 201);
    http_resp_free(&r);
    free(csv);
    int64_t t0 = 0;
    long long id = 0;
    for (double t_end = now_s() + 60; !id && now_s() < t_end; usleep(50000))
        id = high_alert(&t0);
    CHECK(id > 0);
    if (!id)
        return;
    /* the loop never waits on the receiver: the API answers at once while it is down */
    double h0 = now_s();
    CHECK(http_get(srv.port, "/health", NULL, &r) == 0 && r.status == 200);
    http_resp_free(&r);
    CHECK(now_s() - h0 < 0.5);
    usleep(300000);                                   /* a few failed attempts */
    CHECK(wall_ms() - t0 < ESCALATE_S * 1000 - 1500); /* killed well before the escalation */
    CHECK(server_stop(&srv, SIGKILL) == 128 + SIGKILL);
    CHECK(start_server() == 0);
    printf("  restarted %.1f s after the raise\n", (double)(wall_ms() - t0) / 1000);
    CHECK(webhook_rx_start(&rx, rx.port) == 0);
    /* level 2 comes at t0 + 2 * ESCALATE_S */
    cJSON *all = NULL;
    int n_dup = 0, c = 0;
    for (double t_end = now_s() + 3 * ESCALATE_S + 20; now_s() < t_end; usleep(200000)) {
        cJSON_Delete(all);
        all = rx_deliveries(&n_dup);
        if (find_event(all, id, "alert.delivered", 2, &c))
            break;
    }
    const cJSON *raised = find_event(all, id, "alert.raised", -1, &c);
    CHECKF(raised && c == 1, "raised %d times", c);
    const cJSON *d0 = find_event(all, id, "alert.delivered", 0, &c);
    CHECKF(d0 && c == 1, "level 0 delivered %d times", c);
    if (d0) {
        names_are(d0, "target_names", "drbob", NULL);
        CHECK(jstr(d0, "audience") && !strcmp(jstr(d0, "audience"), "care_team"));
        CHECK(jstr(d0, "patient") && !strcmp(jstr(d0, "patient"), "alice"));
        CHECK(jstr(d0, "priority") && !strcmp(jstr(d0, "priority"), "high"));
    }
    find_event(all, id, "alert.escalated", -1, &c);
    CHECKF(c == 2, "escalated %d times", c);
    const cJSON *d1 = find_event(all, id, "alert.delivered", 1, &c);
    CHECKF(d1 && c == 1, "level 1 delivered %d times", c);
    if (d1) {
        names_are(d1, "target_names", "drcarol", NULL);
        CHECK(jstr(d1, "audience") && !strcmp(jstr(d1, "audience"), "care_team"));
        double late = jnum(d1, "t_ms") - (double)t0 - ESCALATE_S * 1000;
        printf("  level 1 at raise + %d s %+.0f ms\n", ESCALATE_S, late);
        CHECKF(late > -100 && late < 1600, "level 1 %.0f ms off", late); /* 1-s tick */
    }
    const cJSON *d2 = find_event(all, id, "alert.delivered", 2, &c);
    CHECKF(d2 && c == 1, "level 2 delivered %d times", c);
    if (d2) {
        names_are(d2, "target_names", "drdave", NULL);
        CHECK(jstr(d2, "audience") && !strcmp(jstr(d2, "audience"), "on_duty"));
        double late = jnum(d2, "t_ms") - (double)t0 - 2 * ESCALATE_S * 1000;
        printf("  level 2 at raise + %d s %+.0f ms\n", 2 * ESCALATE_S, late);
        CHECKF(late > -100 && late < 1600, "level 2 %.0f ms off", late);
    }
    /* exactly once: no event under two delivery ids */
    const cJSON *x, *y;
    int twice = 0, n_all = cJSON_GetArraySize(all);
    cJSON_ArrayForEach(x, all)
    {
        cJSON_ArrayForEach(y, all)
        {
            twice += x != y && jnum(x, "alert_id") == jnum(y, "alert_id") &&
                     !strcmp(jstr(x, "type"), jstr(y, "type")) &&
                     jnum(x, "t_ms") == jnum(y, "t_ms") && jnum(x, "level") == jnum(y, "level");
        }
    }
    CHECKF(twice == 0, "%d events under two delivery ids", twice / 2);
    printf("  %d deliveries, %d repeated ids (retries)\n", n_all, n_dup);
    cJSON_Delete(all);

    /* the on-duty clinician outside the care team sees it in her list and may acknowledge */
    CHECK(srv_login(srv.port, "drdave", "drdave-password", tok_drdave, sizeof tok_drdave) == 200);
    CHECK(http_get(srv.port, "/api/alerts", tok_drdave, &r) == 0 && r.status == 200);
    const cJSON *mine = NULL, *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(
                              r.json, "alerts")) if ((long long)jnum(a, "id") == id) mine = a;
    CHECK(mine != NULL);
    if (mine) {
        CHECK(jstr(mine, "patient") && !strcmp(jstr(mine, "patient"), "alice"));
        names_are(mine, "escalated_to", "drcarol", "drdave");
        CHECK((int)jnum(mine, "level") == 2);
    }
    http_resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/api/alerts/%lld/ack", id);
    CHECK(http_post_json(srv.port, path, tok_drdave, "{}", &r) == 0 && r.status == 200);
    http_resp_free(&r);
    int acked = 0;
    for (double t_end = now_s() + 10; !acked && now_s() < t_end; usleep(100000)) {
        all = rx_deliveries(&n_dup);
        const cJSON *ack = find_event(all, id, "alert.acknowledged", -1, &c);
        if (ack) {
            acked = 1;
            CHECK(c == 1);
            CHECK(jstr(ack, "state") && !strcmp(jstr(ack, "state"), "acknowledged"));
        }
        cJSON_Delete(all);
    }
    CHECK(acked);
    /* the care team's list says where it went */
    CHECK(http_get(srv.port, "/api/patients/alice/alerts", tok_drbob, &r) == 0 && r.status == 200);
    mine = NULL;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(
                              r.json, "alerts")) if ((long long)jnum(a, "id") == id) mine = a;
    CHECK(mine != NULL);
    if (mine) {
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(mine, "delivered_to");
        CHECK(cJSON_GetArraySize(dt) == 3);
        const char *want[] = {"drbob", "drcarol", "drdave"};
        for (int i = 0; i < 3; i++) {
            const cJSON *nm = cJSON_GetArrayItem(dt, i);
            CHECK(cJSON_IsString(nm) && !strcmp(nm->valuestring, want[i]));
        }
        names_are(mine, "escalated_to", "drcarol", "drdave");
        CHECK(jstr(mine, "state") && strcmp(jstr(mine, "state"), "raised"));
    }
    http_resp_free(&r);
}

/* A WAV whose header passes the content check but whose audio cannot be decoded: the analysis
 * fails, and "analysis failed" (MEDIUM, technical: the rules are blind) is raised, stored,
 * listed and delivered by webhook like any other alert. */
static void an_undecodable_upload_raises_analysis_failed(void)
{
    unsigned char wav[4096];
    memset(wav, 0x5a, sizeof wav);
    memcpy(wav, "RIFF\x10\x00\x00\x00WAVEjunk", 16);
    http_resp r;
    CHECK(http_req(srv.port, "POST", "/api/recordings?name=broken.wav", dev_alice, wav, sizeof wav,
                   &r) == 0 &&
          r.status == 201);
    char rid[32] = "";
    snprintf(rid, sizeof rid, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_free(&r);
    long long id = 0;
    for (double t_end = now_s() + 30; !id && now_s() < t_end; usleep(100000)) {
        if (http_get(srv.port, "/api/patients/alice/alerts", tok_drbob, &r) == 0 && r.json) {
            const cJSON *a;
            cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
            {
                if (jstr(a, "recording") && !strcmp(jstr(a, "recording"), rid)) {
                    CHECK(jstr(a, "rule") && !strcmp(jstr(a, "rule"), "analysis_failed"));
                    CHECK(jstr(a, "priority") && !strcmp(jstr(a, "priority"), "medium"));
                    id = (long long)jnum(a, "id");
                }
            }
        }
        http_resp_free(&r);
    }
    CHECK(id > 0);
    char path[64];
    snprintf(path, sizeof path, "/api/recordings/%.16s", rid);
    CHECK(http_get(srv.port, path, tok_drbob, &r) == 0 && jstr(r.json, "status") &&
          !strcmp(jstr(r.json, "status"), "failed"));
    http_resp_free(&r);
    const cJSON *d = NULL;
    cJSON *all = NULL;
    int c = 0, n_dup;
    for (double t_end = now_s() + 10; !d && now_s() < t_end; usleep(100000)) {
        cJSON_Delete(all);
        all = rx_deliveries(&n_dup);
        d = find_event(all, id, "alert.delivered", 0, &c);
    }
    CHECK(d && c == 1);
    if (d) {
        CHECK(jstr(d, "kind") && !strcmp(jstr(d, "kind"), "technical"));
        CHECK(jstr(d, "rule") && !strcmp(jstr(d, "rule"), "analysis_failed"));
        CHECK(jstr(d, "message") && strlen(jstr(d, "message")) > 10);
        printf("  %s\n", jstr(d, "message"));
    }
    cJSON_Delete(all);
}

/* The ids (newest first, as listed) of the alerts in an answer, as "id,id,...", keeping those
 * whose state is `state` (NULL: any) or, with not_state, is not; 0 when the answer is bad. */
static int alert_ids(const cJSON *j, const char *state, int not_state, char *out, size_t cap)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "alerts"), *a;
    size_t n = 0;
    out[0] = 0;
    if (!cJSON_IsArray(arr))
        return 0;
    cJSON_ArrayForEach(a, arr)
    {
        const char *st = jstr(a, "state");
        if (!st || (state && (strcmp(st, state) == 0) == not_state))
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%lld,", (long long)jnum(a, "id"));
        if (n >= cap)
            return 0;
    }
    return 1;
}

static int get_alerts(const char *path, const char *token, http_resp *r)
{
    return http_get(srv.port, path, token, r) == 0 ? r->status : -1;
}

/* GET /api/alerts?state=&scope= (the alarm bar's one request): scope=care_team lists every
 * alert of her patients (also those delivered to another clinician), state=raised only those
 * waiting for acknowledgement, state=open those not resolved; scope=all adds what was delivered
 * to her, once each; newest first; bad values 400, patients 403. After the tests above alice
 * has raised (analysis failed, delivered to drbob only) and acknowledged or resolved alerts. */
static void the_alert_list_filters_by_state_and_scope(void)
{
    http_resp all_alice, r;
    char want_raised[2048], want_open[2048], got[2048];
    CHECK(get_alerts("/api/patients/alice/alerts", tok_drbob, &all_alice) == 200);
    CHECK(alert_ids(all_alice.json, "raised", 0, want_raised, sizeof want_raised));
    CHECK(alert_ids(all_alice.json, "resolved", 1, want_open, sizeof want_open));
    CHECK(want_raised[0] != 0); /* analysis failed (MEDIUM) waits for acknowledgement */
    printf("  alice: raised %s open %s\n", want_raised, want_open);
    char tok_drcarol[128];
    CHECK(srv_login(srv.port, "drcarol", "drcarol-password", tok_drcarol, sizeof tok_drcarol) ==
          200);
    const char *const care_team[] = {tok_drbob, tok_drcarol};
    for (int i = 0; i < 2; i++) {
        CHECK(get_alerts("/api/alerts?state=raised&scope=care_team", care_team[i], &r) == 200);
        CHECK(alert_ids(r.json, NULL, 0, got, sizeof got) && !strcmp(got, want_raised));
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
            CHECK(jstr(a, "patient") && !strcmp(jstr(a, "patient"), "alice"));
        http_resp_free(&r);
        CHECK(get_alerts("/api/alerts?scope=care_team&state=open", care_team[i], &r) == 200);
        CHECK(alert_ids(r.json, NULL, 0, got, sizeof got) && !strcmp(got, want_open));
        http_resp_free(&r);
        CHECK(get_alerts("/api/alerts?scope=care_team", care_team[i], &r) == 200);
        CHECK(alert_ids(r.json, NULL, 0, got, sizeof got) && !strcmp(got, want_open));
        http_resp_free(&r);
    }
    /* the default (delivered to her) lists only alerts that name her in delivered_to */
    CHECK(get_alerts("/api/alerts", tok_drcarol, &r) == 200);
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
    {
        int named = 0;
        const cJSON *nm;
        cJSON_ArrayForEach(nm, cJSON_GetObjectItemCaseSensitive(a, "delivered_to"))
            named += cJSON_IsString(nm) && !strcmp(nm->valuestring, "drcarol");
        CHECK(named == 1 && jstr(a, "state") && strcmp(jstr(a, "state"), "resolved"));
    }
    http_resp_free(&r);
    /* scope=all for drbob: his care team's open alerts, each once though also delivered to him */
    CHECK(get_alerts("/api/alerts?scope=all", tok_drbob, &r) == 200);
    CHECK(alert_ids(r.json, NULL, 0, got, sizeof got) && !strcmp(got, want_open));
    http_resp_free(&r);
    /* drdave is on no care team: nothing by scope=care_team, what was delivered to him by all */
    http_resp mine;
    CHECK(get_alerts("/api/alerts?scope=care_team", tok_drdave, &r) == 200);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "alerts")) == 0);
    http_resp_free(&r);
    CHECK(get_alerts("/api/alerts", tok_drdave, &mine) == 200);
    CHECK(get_alerts("/api/alerts?scope=all&state=open", tok_drdave, &r) == 200);
    char want[2048];
    CHECK(alert_ids(mine.json, NULL, 0, want, sizeof want) &&
          alert_ids(r.json, NULL, 0, got, sizeof got) && !strcmp(got, want));
    http_resp_free(&r);
    http_resp_free(&mine);
    const char *bad[] = {"/api/alerts?state=resolved", "/api/alerts?scope=everyone",
                         "/api/alerts?state=", NULL};
    for (int i = 0; bad[i]; i++) {
        int st = get_alerts(bad[i], tok_drbob, &r);
        CHECKF(bad[i][strlen(bad[i]) - 1] == '=' ? st == 200 : st == 400, "%s: %d", bad[i], st);
        http_resp_free(&r);
    }
    char tok_alice[128];
    CHECK(srv_login(srv.port, "alice", "alice-password", tok_alice, sizeof tok_alice) == 200);
    CHECK(get_alerts("/api/alerts?scope=care_team", tok_alice, &r) == 403);
    http_resp_free(&r);
    http_resp_free(&all_alice);
}

static void wake_nothing(void *u)
{
    (void)u;
}

typedef struct alert_rows {
    fm_alert a[16];
    int n;
} alert_rows;

static void keep_alert(void *ctx, const fm_alert *a)
{
    alert_rows *l = ctx;
    if (l->n < 16)
        l->a[l->n++] = *a;
}

/* The entry point the upload code calls for "upload incomplete": once per condition, cleared
 * (LOW: not latched, so resolved at once), and apart from the rule engine's episodes of the
 * same recording. */
static void technical_alerts_raise_once_and_clear(void)
{
    char dir[512];
    CHECK(make_temp_dir(dir, sizeof dir, "alertsvc") == 0);
    fm_store *st = NULL;
    char err[256];
    CHECK(fm_store_open(dir, &st, err, sizeof err) == FM_SVC_OK);
    if (!st)
        return;
    fm_user doc = {.role = FM_ROLE_CLINICIAN}, pat = {.role = FM_ROLE_PATIENT};
    snprintf(doc.name, sizeof doc.name, "drx");
    snprintf(pat.name, sizeof pat.name, "pat");
    int64_t doc_id = 0, pat_id = 0;
    CHECK(fm_store_user_add(st, &doc, "x", &doc_id) == FM_SVC_OK);
    CHECK(fm_store_user_add(st, &pat, "x", &pat_id) == FM_SVC_OK);
    fm_patient p = {.user_id = pat_id};
    CHECK(fm_store_patient_put(st, &p) == FM_SVC_OK);
    CHECK(fm_store_care_link(st, pat_id, doc_id) == FM_SVC_OK);
    fm_bus *bus = fm_bus_create(64, wake_nothing, NULL);
    fm_alertsvc *a = fm_alertsvc_create(dir, bus, 0);
    CHECK(a != NULL);
    if (a) {
        /* the rule engine's 15th episode of this recording (a long live stream): a HIGH
         * alert the technical one must not be mistaken for */
        fm_alert_event ev = {.type = FM_ALERT_OPENED,
                             .episode_id = FM_ALERT_UPLOAD_INCOMPLETE + 1,
                             .rule = FM_ALERT_FHR_BELOW_80,
                             .rule_code = "fhr_below_80",
                             .priority = FM_ALERT_PRIO_HIGH,
                             .start_s = 10,
                             .end_s = 200};
        fm_alertsvc_event(a, pat_id, "00000000000000aa", &ev);
        fm_alertsvc_technical(a, pat_id, "00000000000000aa", FM_ALERT_UPLOAD_INCOMPLETE, 1,
                              "ended at 40 % of its announced length");
        fm_alertsvc_technical(a, pat_id, "00000000000000aa", FM_ALERT_UPLOAD_INCOMPLETE, 1,
                              "again");
        alert_rows l = {.n = 0};
        fm_store_alert_list(st, pat_id, keep_alert, &l);
        CHECKF(l.n == 2, "%d alerts", l.n);
        int tech = -1;
        for (int i = 0; i < l.n; i++)
            if (!strcmp(l.a[i].rule, "upload_incomplete"))
                tech = i;
        CHECK(tech >= 0);
        if (tech >= 0) {
            CHECK(!strcmp(l.a[tech].priority, "low") && !strcmp(l.a[tech].state, "raised"));
            int64_t tid = l.a[tech].id;
            fm_alertsvc_technical(a, pat_id, "00000000000000aa", FM_ALERT_UPLOAD_INCOMPLETE, 0,
                                  "resumed and completed");
            fm_alert row;
            CHECK(fm_store_alert_get(st, tid, &row) == FM_SVC_OK && !strcmp(row.state, "resolved"));
            fm_alert_delivery d;
            CHECK(fm_store_alert_delivery_get(st, tid, &d) == FM_SVC_OK && d.cleared &&
                  strstr(d.notified, ",1,"));
        }
        for (int i = 0; i < l.n; i++) /* the HIGH alert is untouched by the technical one */
            if (!strcmp(l.a[i].rule, "fhr_below_80")) {
                fm_alert row;
                CHECK(fm_store_alert_get(st, l.a[i].id, &row) == FM_SVC_OK &&
                      !strcmp(row.state, "raised"));
            }
    }
    fm_alertsvc_destroy(a);
    /* a second instance (a restart) holds the open HIGH alert again, escalation state and all */
    a = fm_alertsvc_create(dir, bus, 0);
    CHECK(a != NULL);
    alert_rows l = {.n = 0};
    fm_store_alert_list(st, pat_id, keep_alert, &l);
    for (int i = 0; a && i < l.n; i++)
        if (!strcmp(l.a[i].rule, "fhr_below_80")) {
            CHECK(fm_alertsvc_ack(a, l.a[i].id, doc_id) == FM_SVC_OK); /* held by the engine */
            fm_alert row;
            CHECK(fm_store_alert_get(st, l.a[i].id, &row) == FM_SVC_OK &&
                  !strcmp(row.state, "acknowledged"));
        }
    fm_alertsvc_destroy(a);
    fm_bus_destroy(bus);
    fm_store_close(st);
    rm_tree(dir);
}

/* The webhook settings: repeatable / list URLs, http only, a clearing empty value, secrets. */
static void webhook_settings_parse(void)
{
    fm_config c;
    fm_config_defaults(&c);
    char err[256];
    CHECK(fm_config_set(&c, "webhook_url", "http://a.example/x", err, sizeof err) == FM_SVC_OK);
    CHECK(fm_config_set(&c, "webhook_url", "http://b.example:8080/y, http://c.example/z", err,
                        sizeof err) == FM_SVC_OK);
    CHECK(c.n_webhook_urls == 3 && !strcmp(c.webhook_urls[1], "http://b.example:8080/y") &&
          !strcmp(c.webhook_urls[2], "http://c.example/z"));
    CHECK(fm_config_set(&c, "webhook_url", "https://secure.example/", err, sizeof err) ==
          FM_SVC_INVAL);
    CHECK(fm_config_set(&c, "webhook_url", "", err, sizeof err) == FM_SVC_OK &&
          c.n_webhook_urls == 0);
    CHECK(fm_config_set(&c, "webhook_secret", "short", err, sizeof err) == FM_SVC_INVAL);
    CHECK(fm_config_set(&c, "webhook_secret", SECRET, err, sizeof err) == FM_SVC_OK &&
          !strcmp(c.webhook_secret, SECRET));
    CHECK(c.webhook_max_attempts == 0 && c.webhook_timeout_ms == 5000);
    CHECK(fm_config_set(&c, "webhook_max_attempts", "5", err, sizeof err) == FM_SVC_OK &&
          c.webhook_max_attempts == 5);
    /* a bad webhook configuration stops the server at start, with a message */
    server_proc bad;
    memset(&bad, 0, sizeof bad);
    snprintf(bad.data, sizeof bad.data, "%s", srv.data);
    const char *extra[] = {"--set", "webhook_url=http://127.0.0.1:9/x", NULL}; /* no secret */
    CHECK(server_start(&bad, extra) != 0);
    if (bad.pid > 0)
        CHECK(server_stop(&bad, SIGKILL) >= 0);
}

int main(void)
{
    if (make_temp_dir(srv.data, sizeof srv.data, "alerts") != 0)
        return 1;
    const char *care[] = {"--clinician", "drbob", "--clinician", "drcarol", NULL};
    if (srv_user_add(srv.data, "clinician", "drbob", "drbob-password", NULL) ||
        srv_user_add(srv.data, "clinician", "drcarol", "drcarol-password", NULL) ||
        srv_user_add(srv.data, "clinician", "drdave", "drdave-password", NULL) ||
        srv_user_add(srv.data, "patient", "alice", "alice-password", care) ||
        srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice))
        return 1;
    webhook_rx_init(&rx);
    rx.port = webhook_rx_free_port(); /* nobody listens there yet: the receiver is down */
    if (start_server() != 0 ||
        srv_login(srv.port, "drbob", "drbob-password", tok_drbob, sizeof tok_drbob) != 200) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(webhooks_and_escalation_survive_a_down_receiver_and_a_restart);
    RUN(an_undecodable_upload_raises_analysis_failed);
    RUN(the_alert_list_filters_by_state_and_scope);
    RUN(technical_alerts_raise_once_and_clear);
    RUN(webhook_settings_parse);
    CHECK(server_stop(&srv, SIGTERM) == 0);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    webhook_rx_free(&rx);
    rm_tree(srv.data);
    return CHECK_DONE();
}
