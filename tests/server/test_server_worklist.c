/* End-to-end test of GET /api/worklist on a real `fetalmon serve`: a clinician gets exactly her
 * patients with gestational age from the due date, the newest recordings, the unread count (an
 * analysed recording without a reading) that drops when she signs one, open alerts counted by
 * priority (acknowledged ones are not open), and the live stream with the age of its last data;
 * a patient, an administrator and a device token get 403, no token 401; the read is audited per
 * view and per patient, and re-reads do not add a row per patient each time. */
#include <math.h>

#include "../check.h"
#include "srvtest.h"
#include "store.h"

static server_proc srv;
static char fixture[1024];

/* alice and ann are drbob's patients, beth is drcarol's; root is the administrator. */
static srv_account acc[] = {
    {"drbob", "clinician", "drbob-password", NULL, ""},
    {"drcarol", "clinician", "drcarol-password", NULL, ""},
    {"root", "admin", "root-password", NULL, ""},
    {"alice", "patient", "alice-password", "drbob", ""},
    {"ann", "patient", "ann-password", "drbob", ""},
    {"beth", "patient", "beth-password", "drcarol", ""},
};
enum { DRBOB, DRCAROL, ROOT, ALICE, ANN, BETH, N_ACC };
/* gestational age today, for patients (0: no due date) */
static const int weeks_of[N_ACC] = {[ALICE] = 30, [BETH] = 36};
static char dev_alice[128];
static char rec_alice[32];

static int add_user(const srv_account *a, int weeks)
{
    char due[16];
    const char *more[8] = {NULL};
    int n = 0;
    if (a->clinician) {
        more[n++] = "--clinician";
        more[n++] = a->clinician;
    }
    if (weeks) { /* the due date that makes her weeks + 3 days pregnant today */
        time_t t = time(NULL) + (time_t)(280 - weeks * 7 - 3) * 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(due, sizeof due, "%Y-%m-%d", &tm);
        more[n++] = "--due-date";
        more[n++] = due;
    }
    return srv_user_add(srv.data, a->role, a->name, a->password, more);
}

static const cJSON *entry_of(const cJSON *wl, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(wl, "patients"))
    {
        const char *n = jstr(e, "name");
        if (n && !strcmp(n, name))
            return e;
    }
    return NULL;
}

static int get_worklist(const char *token, http_resp *r)
{
    return http_get(srv.port, "/api/worklist", token, r) == 0 ? r->status : -1;
}

static void only_clinicians_get_a_worklist(void)
{
    http_resp r;
    CHECK(get_worklist(acc[ALICE].token, &r) == 403);
    CHECK(jstr(r.json, "error") && !strcmp(jstr(r.json, "error"), "forbidden"));
    CHECK(r.body && !strstr(r.body, "alice\""));
    http_resp_free(&r);
    CHECK(get_worklist(acc[ROOT].token, &r) == 403);
    http_resp_free(&r);
    CHECK(get_worklist(dev_alice, &r) == 403);
    http_resp_free(&r);
    CHECK(get_worklist(NULL, &r) == 401);
    http_resp_free(&r);
    CHECK(http_post_json(srv.port, "/api/worklist", acc[DRBOB].token, "{}", &r) == 0 &&
          r.status == 405);
    http_resp_free(&r);
}

static void the_worklist_holds_her_patients_only(void)
{
    http_resp r;
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(r.json, "patients");
    CHECK(cJSON_GetArraySize(pts) == 2);
    const cJSON *alice = entry_of(r.json, "alice"), *ann = entry_of(r.json, "ann");
    CHECK(alice && ann && !entry_of(r.json, "beth"));
    /* 30 weeks + 3 days from the due date */
    CHECKF(fabs(jnum(alice, "gestation_weeks") - (30 + 3 / 7.0)) < 0.11, "alice GA %.2f",
           jnum(alice, "gestation_weeks"));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ann, "gestation_weeks")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ann, "live")));
    CHECK(jnum(ann, "recordings_total") == 0 && jnum(ann, "unread") == 0);
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(ann, "open_alerts");
    CHECK(al && jnum(al, "high") == 0 && cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(al, "top")));
    http_resp_free(&r);
    CHECK(get_worklist(acc[DRCAROL].token, &r) == 200);
    CHECK(entry_of(r.json, "beth") && !entry_of(r.json, "alice"));
    CHECK(r.body && !strstr(r.body, "\"alice\""));
    http_resp_free(&r);
}

static void an_analysed_recording_is_unread_until_signed(void)
{
    size_t len = 0;
    char *body = read_whole(fixture, &len);
    CHECK(body != NULL);
    if (!body)
        return;
    http_resp r;
    CHECK(http_req(srv.port, "POST", "/api/recordings?name=trace.fhr", acc[ALICE].token, body, len,
                   &r) == 0 &&
          r.status == 201);
    snprintf(rec_alice, sizeof rec_alice, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
    http_resp_free(&r);
    free(body);
    char path[96];
    snprintf(path, sizeof path, "/api/recordings/%s", rec_alice);
    double t0 = now_s();
    const char *st = NULL;
    while (now_s() - t0 < 60) {
        CHECK(http_get(srv.port, path, acc[ALICE].token, &r) == 0);
        st = jstr(r.json, "status");
        int finished = st && (!strcmp(st, "done") || !strcmp(st, "failed"));
        int done = st && !strcmp(st, "done");
        http_resp_free(&r);
        if (finished) {
            st = done ? "done" : "failed";
            break;
        }
        usleep(50000);
    }
    CHECKF(st && !strcmp(st, "done"), "analysis %s", st ? st : "timed out");

    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    const cJSON *alice = entry_of(r.json, "alice");
    CHECK(jnum(alice, "recordings_total") == 1 && jnum(alice, "unread") == 1);
    const cJSON *recent = cJSON_GetObjectItemCaseSensitive(alice, "recordings");
    const cJSON *r0 = cJSON_GetArrayItem(recent, 0);
    CHECK(cJSON_GetArraySize(recent) == 1 && r0 && !strcmp(jstr(r0, "id"), rec_alice));
    CHECK(r0 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r0, "read")));
    CHECK(r0 && !cJSON_GetObjectItemCaseSensitive(r0, "analysis")); /* no trace in the list */
    CHECK(jnum(alice, "last_recording_ms") == jnum(r0, "created_ms"));
    http_resp_free(&r);

    snprintf(path, sizeof path, "/api/recordings/%s/readings", rec_alice);
    CHECK(http_post_json(srv.port, path, acc[DRBOB].token,
                         "{\"category\":\"normal\",\"text\":\"Reassuring.\"}", &r) == 0 &&
          r.status == 201);
    http_resp_free(&r);
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    alice = entry_of(r.json, "alice");
    r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(alice, "recordings"), 0);
    CHECK(jnum(alice, "unread") == 0 && r0 &&
          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r0, "read")));
    http_resp_free(&r);
}

static void open_alerts_are_counted_by_priority(void)
{
    /* The alerting engine raises alerts; here the test plays it through the store. */
    /* The upload's own alerts (the engine ran the rules on it) are counted too: compare. */
    http_resp r;
    double before[3] = {0};
    const char *level[3] = {"high", "medium", "low"};
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(entry_of(r.json, "alice"), "open_alerts");
    for (int i = 0; i < 3; i++)
        before[i] = jnum(al, level[i]);
    http_resp_free(&r);
    fm_store *s = NULL;
    char err[256];
    CHECK(fm_store_open(srv.data, &s, err, sizeof err) == FM_SVC_OK);
    if (!s)
        return;
    fm_user alice;
    CHECK(fm_store_user_by_name(s, "alice", &alice, NULL, 0) == FM_SVC_OK);
    const char *prio[] = {"high", "medium", "medium", "low"};
    int64_t ids[4] = {0};
    for (int i = 0; i < 4; i++) {
        fm_alert a = {.patient_id = alice.id, .t_from_s = 60.0 * i, .t_to_s = 60.0 * i + 30};
        snprintf(a.recording_id, sizeof a.recording_id, "%.16s", rec_alice);
        snprintf(a.rule, sizeof a.rule, "test_rule_%d", i);
        snprintf(a.priority, sizeof a.priority, "%s", prio[i]);
        a.created_ms = fm_now_ms();
        CHECK(fm_store_alert_add(s, &a) == FM_SVC_OK);
        ids[i] = a.id;
    }
    fm_store_close(s);
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    al = cJSON_GetObjectItemCaseSensitive(entry_of(r.json, "alice"), "open_alerts");
    CHECKF(al && jnum(al, "high") == before[0] + 1 && jnum(al, "medium") == before[1] + 2 &&
               jnum(al, "low") == before[2] + 1,
           "open alerts %g/%g/%g, before %g/%g/%g", jnum(al, "high"), jnum(al, "medium"),
           jnum(al, "low"), before[0], before[1], before[2]);
    CHECK(al && jstr(al, "top") && !strcmp(jstr(al, "top"), "high"));
    http_resp_free(&r);
    /* Acknowledged alerts are no longer open: acknowledge every raised high one. */
    char path[64];
    CHECK(http_get(srv.port, "/api/patients/alice/alerts", acc[DRBOB].token, &r) == 0);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
    {
        if (strcmp(jstr(e, "state"), "raised") || strcmp(jstr(e, "priority"), "high") ||
            (int64_t)jnum(e, "id") == ids[0])
            continue;
        http_resp a;
        snprintf(path, sizeof path, "/api/alerts/%lld/ack", (long long)jnum(e, "id"));
        CHECK(http_post_json(srv.port, path, acc[DRBOB].token, "", &a) == 0 && a.status == 200);
        http_resp_free(&a);
    }
    http_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/api/alerts/%lld/ack", (long long)ids[i]);
        CHECK(http_post_json(srv.port, path, acc[DRBOB].token, "", &r) == 0 && r.status == 200);
        http_resp_free(&r);
    }
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    al = cJSON_GetObjectItemCaseSensitive(entry_of(r.json, "alice"), "open_alerts");
    CHECKF(al && jnum(al, "high") == 0 && jnum(al, "medium") == before[1] + 1 &&
               jnum(al, "low") == before[2] + 1,
           "after ack %g/%g/%g", jnum(al, "high"), jnum(al, "medium"), jnum(al, "low"));
    CHECK(al && jstr(al, "top") && !strcmp(jstr(al, "top"), "medium"));
    http_resp_free(&r);
}

static int send_frame(int fd, uint32_t seq)
{
    static const int16_t silence[4000]; /* 0.5 s of 8 kHz */
    return ingest_send(fd, seq, silence, 4000);
}

static void a_live_stream_shows_its_data_age(void)
{
    char stream[32] = "";
    int next = -1;
    int fd = ingest_open_stream(srv.port, dev_alice, 8000, NULL, stream, &next);
    CHECK(fd >= 0 && stream[0] && next == 0);
    if (fd < 0)
        return;
    for (uint32_t seq = 0; seq < 4; seq++)
        send_frame(fd, seq);
    CHECK(ingest_wait_ack(fd, 3, 10000) == 0); /* acks may cover several frames */

    http_resp r;
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    const cJSON *alice = entry_of(r.json, "alice");
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(alice, "live");
    CHECK(cJSON_IsObject(live) && jstr(live, "recording") &&
          !strcmp(jstr(live, "recording"), stream));
    double age = jnum(live, "last_data_age_s");
    CHECKF(age >= 0 && age < 5, "fresh data, age %.1f s", age);
    CHECK(jnum(live, "last_data_ms") <= jnum(r.json, "generated_ms"));
    CHECK(jnum(alice, "recordings_total") == 2);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(alice, "recordings"), 0);
    CHECK(r0 && !strcmp(jstr(r0, "status"), "receiving")); /* newest first */
    http_resp_free(&r);

    /* The data age grows while no frame arrives (the stream is still open). */
    sleep(2);
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    live = cJSON_GetObjectItemCaseSensitive(entry_of(r.json, "alice"), "live");
    CHECKF(jnum(live, "last_data_age_s") >= age + 1.5, "age grew to %.1f s",
           jnum(live, "last_data_age_s"));
    http_resp_free(&r);

    CHECK(ingest_close(fd, 10000) == 0);
    close(fd);
    CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(entry_of(r.json, "alice"), "live")));
    http_resp_free(&r);
}

typedef struct wl_audit {
    int alice, ann, beth_by_bob, views_by_bob, denied;
} wl_audit;

static int count_audit(wl_audit *c)
{
    memset(c, 0, sizeof *c);
    http_resp r;
    if (http_get(srv.port, "/api/audit?limit=1000", acc[ROOT].token, &r) != 0 || r.status != 200) {
        http_resp_free(&r);
        return -1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.json, "entries"))
    {
        const char *action = jstr(e, "action"), *object = jstr(e, "object"),
                   *actor = jstr(e, "actor");
        if (!action || !object || !actor)
            continue;
        if (!strcmp(action, "worklist.read") && !strcmp(actor, "drbob")) {
            c->alice += !strcmp(object, "patient:alice");
            c->ann += !strcmp(object, "patient:ann");
            c->beth_by_bob += !strcmp(object, "patient:beth");
        }
        c->views_by_bob += !strcmp(action, "worklist.view") && !strcmp(actor, "drbob") &&
                           !strcmp(object, "patients:2");
        c->denied += !strcmp(action, "worklist.denied");
    }
    http_resp_free(&r);
    return 0;
}

/* Who saw which patient's data, when, bounded (docs/api.md "Worklist"): every answer is one
 * worklist.view row, each patient one worklist.read row when she first appears and then at most
 * every 15 min, however often the page re-reads the worklist (every 15 s). The tests above read
 * drbob's worklist many times within a minute. */
static void the_read_is_audited_per_patient_not_per_refresh(void)
{
    wl_audit a, b;
    CHECK(count_audit(&a) == 0);
    CHECKF(a.alice == 1 && a.ann == 1 && a.beth_by_bob == 0, "audit alice %d ann %d beth %d",
           a.alice, a.ann, a.beth_by_bob);
    CHECK(a.views_by_bob >= 5);
    CHECK(a.denied >= 2); /* the patient and the administrator (a device is refused earlier) */
    for (int i = 0; i < 6; i++) { /* a minute and a half of refreshes */
        http_resp r;
        CHECK(get_worklist(acc[DRBOB].token, &r) == 200);
        http_resp_free(&r);
    }
    CHECK(count_audit(&b) == 0);
    CHECKF(b.alice == 1 && b.ann == 1 && b.beth_by_bob == 0, "audit alice %d ann %d beth %d",
           b.alice, b.ann, b.beth_by_bob);
    CHECKF(b.views_by_bob == a.views_by_bob + 6, "views %d then %d", a.views_by_bob,
           b.views_by_bob);
    /* drcarol's reads of beth: her first view (above) and this one, audited once */
    http_resp r;
    CHECK(get_worklist(acc[DRCAROL].token, &r) == 200);
    http_resp_free(&r);
    CHECK(http_get(srv.port, "/api/audit?limit=1000", acc[ROOT].token, &r) == 0 &&
          r.status == 200);
    int beth_by_carol = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r.json, "entries"))
    {
        beth_by_carol += jstr(e, "actor") && !strcmp(jstr(e, "actor"), "drcarol") &&
                         jstr(e, "action") && !strcmp(jstr(e, "action"), "worklist.read") &&
                         jstr(e, "object") && !strcmp(jstr(e, "object"), "patient:beth");
    }
    CHECK(beth_by_carol == 1);
    http_resp_free(&r);
}

int main(void)
{
    srv_fixture_path(fixture, sizeof fixture);
    if (make_temp_dir(srv.data, sizeof srv.data, "worklist") != 0) {
        fprintf(stderr, "cannot make a temp dir\n");
        return 1;
    }
    for (int i = 0; i < N_ACC; i++) /* clinicians first: patients name them */
        if (add_user(&acc[i], weeks_of[i]) != 0) {
            fprintf(stderr, "fetalmon user add %s failed\n", acc[i].name);
            return 1;
        }
    srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice);
    snprintf(srv.log, sizeof srv.log, "%s/server.log", srv.data);
    if (server_start(&srv, NULL) != 0) {
        fprintf(stderr, "fetalmon serve did not start\n");
        server_stop(&srv, SIGKILL);
        return 1;
    }
    if (srv_login_all(srv.port, acc, N_ACC) != 0) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(only_clinicians_get_a_worklist);
    RUN(the_worklist_holds_her_patients_only);
    RUN(an_analysed_recording_is_unread_until_signed);
    RUN(open_alerts_are_counted_by_priority);
    RUN(a_live_stream_shows_its_data_age);
    RUN(the_read_is_audited_per_patient_not_per_refresh);
    server_stop(&srv, SIGTERM);
    rm_tree(srv.data);
    return CHECK_DONE();
}
