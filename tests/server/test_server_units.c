/* Unit tests of the service modules without sockets: the store (SQLite backend through the
 * fm_store interface), auth (password hashes, tokens, resolution, rate limiter), config, the
 * event bus and the worker pool. */
#include <math.h>
#include <pthread.h>

#include "../check.h"
#include "access.h"
#include "api.h"
#include "auth.h"
#include "bus.h"
#include "config.h"
#include "files.h"
#include "srvtest.h"
#include "store.h"
#include "workq.h"

static char dir[512];

static fm_store *open_store(void)
{
    fm_store *s = NULL;
    char err[256];
    if (fm_store_open(dir, &s, err, sizeof err) != FM_SVC_OK)
        fprintf(stderr, "store: %s\n", err);
    return s;
}

static int64_t add(fm_store *s, const char *name, fm_role role)
{
    fm_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    u.role = role;
    int64_t id = 0;
    if (fm_store_user_add(s, &u, "hash", &id) != FM_SVC_OK)
        return 0;
    if (role == FM_ROLE_PATIENT) {
        fm_patient p;
        memset(&p, 0, sizeof p);
        p.user_id = id;
        snprintf(p.due_date, sizeof p.due_date, "2027-01-01");
        fm_store_patient_put(s, &p);
    }
    return id;
}

static void store_users_are_unique_and_found_by_name_and_id(void)
{
    fm_store *s = open_store();
    CHECK(s != NULL);
    if (!s)
        return;
    int64_t id = add(s, "ann", FM_ROLE_CLINICIAN);
    CHECK(id > 0);
    CHECK(add(s, "ann", FM_ROLE_PATIENT) == 0);
    fm_user u;
    char h[FM_PWHASH_MAX];
    CHECK(fm_store_user_by_name(s, "ann", &u, h, sizeof h) == FM_SVC_OK);
    CHECK(u.id == id && u.role == FM_ROLE_CLINICIAN && !strcmp(h, "hash"));
    CHECK(fm_store_user_by_id(s, id, &u) == FM_SVC_OK && !strcmp(u.name, "ann"));
    CHECK(fm_store_user_by_name(s, "nobody", &u, NULL, 0) == FM_SVC_NOTFOUND);
    CHECK(fm_store_user_set_disabled(s, 99999, 1) == FM_SVC_NOTFOUND);
    fm_store_close(s);
}

static void count_patient(void *ctx, const fm_patient *p)
{
    (void)p;
    (*(int *)ctx)++;
}

static void store_care_team_decides_what_a_clinician_sees(void)
{
    fm_store *s = open_store();
    if (!s)
        return;
    int64_t doc = add(s, "doc1", FM_ROLE_CLINICIAN), other = add(s, "doc2", FM_ROLE_CLINICIAN);
    int64_t p1 = add(s, "pat1", FM_ROLE_PATIENT), p2 = add(s, "pat2", FM_ROLE_PATIENT);
    CHECK(fm_store_care_link(s, p1, doc) == FM_SVC_OK);
    CHECK(fm_store_care_link(s, p1, doc) == FM_SVC_OK); /* idempotent */
    CHECK(fm_store_care_link(s, p2, other) == FM_SVC_OK);
    CHECK(fm_store_care_check(s, p1, doc) == FM_SVC_OK);
    CHECK(fm_store_care_check(s, p2, doc) == FM_SVC_NOTFOUND);
    int n = 0;
    CHECK(fm_store_patient_list(s, doc, count_patient, &n) == FM_SVC_OK && n == 1);
    n = 0;
    CHECK(fm_store_patient_list(s, 0, count_patient, &n) == FM_SVC_OK && n == 2);

    fm_principal pr;
    memset(&pr, 0, sizeof pr);
    pr.kind = FM_TOKEN_SESSION;
    pr.user.id = doc;
    pr.user.role = FM_ROLE_CLINICIAN;
    CHECK(fm_access_patient(s, &pr, p1, FM_ACCESS_CLINICAL) == FM_SVC_OK);
    CHECK(fm_access_patient(s, &pr, p2, FM_ACCESS_CLINICAL) == FM_SVC_NOTFOUND);
    pr.user.role = FM_ROLE_ADMIN;
    CHECK(fm_access_patient(s, &pr, p2, FM_ACCESS_DEMOGRAPHICS) == FM_SVC_OK);
    CHECK(fm_access_patient(s, &pr, p2, FM_ACCESS_CLINICAL) == FM_SVC_NOTFOUND);
    pr.kind = FM_TOKEN_DEVICE;
    pr.device_patient_id = p1;
    CHECK(fm_access_patient(s, &pr, p1, FM_ACCESS_INGEST) == FM_SVC_OK);
    CHECK(fm_access_patient(s, &pr, p1, FM_ACCESS_CLINICAL) == FM_SVC_NOTFOUND);
    CHECK(fm_access_patient(s, &pr, p2, FM_ACCESS_INGEST) == FM_SVC_NOTFOUND);
    fm_store_close(s);
}

static void tokens_expire_and_revoke_and_disabled_users_lose_them(void)
{
    fm_store *s = open_store();
    if (!s)
        return;
    int64_t id = add(s, "tok-user", FM_ROLE_PATIENT);
    char tok[FM_TOKEN_MAX];
    uint8_t h[32];
    CHECK(fm_auth_token_new(FM_TOKEN_SESSION, tok, h) == FM_SVC_OK);
    CHECK(strlen(tok) == 47 && !strncmp(tok, "fms_", 4));
    int64_t now = fm_now_ms();
    fm_token_row t = {.user_id = id, .kind = FM_TOKEN_SESSION};
    t.created_ms = now;
    t.expires_ms = now + 1000;
    CHECK(fm_store_token_add(s, h, &t) == FM_SVC_OK);
    fm_principal p;
    char hdr[80];
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    CHECK(fm_auth_resolve(s, hdr, now, &p) == FM_SVC_OK && p.user.id == id);
    CHECK(fm_auth_resolve(s, hdr, now + 1000, &p) == FM_SVC_DENIED); /* expired */
    CHECK(fm_auth_resolve(s, "Bearer fms_short", now, &p) == FM_SVC_DENIED);
    CHECK(fm_auth_resolve(s, NULL, now, &p) == FM_SVC_DENIED);
    CHECK(fm_store_user_set_disabled(s, id, 1) == FM_SVC_OK);
    CHECK(fm_auth_resolve(s, hdr, now, &p) == FM_SVC_DENIED);
    CHECK(fm_store_user_set_disabled(s, id, 0) == FM_SVC_OK);
    CHECK(fm_auth_resolve(s, hdr, now, &p) == FM_SVC_OK);
    CHECK(fm_store_token_revoke(s, h) == FM_SVC_OK);
    CHECK(fm_auth_resolve(s, hdr, now, &p) == FM_SVC_DENIED);
    fm_store_close(s);
}

static void passwords_hash_with_argon2id_and_verify(void)
{
    char h[FM_PWHASH_MAX];
    CHECK(fm_auth_hash_password("correct horse", h) == FM_SVC_OK);
    CHECK(!strncmp(h, "$argon2id$", 10));
    CHECK(fm_auth_verify_password(h, "correct horse") == FM_SVC_OK);
    CHECK(fm_auth_verify_password(h, "correct horsf") == FM_SVC_DENIED);
    CHECK(fm_auth_hash_password("short", h) == FM_SVC_INVAL);
    char h2[FM_PWHASH_MAX];
    CHECK(fm_auth_hash_password("correct horse", h2) == FM_SVC_OK && strcmp(h, h2)); /* salt */
}

static void rate_limiter_locks_a_key_after_max_failures_for_the_window(void)
{
    fm_ratelimit *r = fm_ratelimit_create(60);
    CHECK(r != NULL);
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++) {
        CHECK(fm_ratelimit_check(r, "user:x", 3, t) == FM_SVC_OK);
        fm_ratelimit_fail(r, "user:x", t);
    }
    CHECK(fm_ratelimit_check(r, "user:x", 3, t + 1000) == FM_SVC_LIMIT);
    CHECK(fm_ratelimit_check(r, "user:y", 3, t + 1000) == FM_SVC_OK);
    CHECK(fm_ratelimit_check(r, "user:x", 3, t + 61000) == FM_SVC_OK); /* window passed */
    /* Memory stays bounded under a flood of keys, and a locked key is not forgotten because
     * many others came after it within its probe window... at worst it is recycled. */
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "ip:%d", i);
        fm_ratelimit_fail(r, k, t);
    }
    fm_ratelimit_clear(r, "user:x");
    CHECK(fm_ratelimit_check(r, "user:x", 3, t) == FM_SVC_OK);
    fm_ratelimit_destroy(r);
}

static void recordings_and_samples_round_trip(void)
{
    fm_store *s = open_store();
    if (!s)
        return;
    int64_t pid = add(s, "rec-pat", FM_ROLE_PATIENT);
    fm_recording r;
    memset(&r, 0, sizeof r);
    fm_random_id(r.id);
    r.patient_id = pid;
    r.uploaded_by = pid;
    r.created_ms = fm_now_ms();
    snprintf(r.kind, sizeof r.kind, "stream");
    snprintf(r.file, sizeof r.file, "recordings/%s.wav", r.id);
    CHECK(fm_store_recording_add(s, &r) == FM_SVC_OK);
    CHECK(fm_store_recording_add(s, &r) == FM_SVC_EXISTS);
    CHECK(fm_store_recording_set_status(s, r.id, FM_REC_DONE, 1, "", "analyses/x.json") ==
          FM_SVC_OK);
    fm_recording g;
    CHECK(fm_store_recording_get(s, r.id, &g) == FM_SVC_OK);
    CHECK(g.status == FM_REC_DONE && !strcmp(g.analysis_file, "analyses/x.json"));
    fm_sample_row v[3] = {{0, 140.5f, 0.9f, 0}, {1, NAN, 0.1f, 1}, {2, 70.f, 0.8f, 2}};
    CHECK(fm_store_samples_append(s, r.id, v, 3) == FM_SVC_OK);
    fm_sample_row out[8];
    size_t n;
    CHECK(fm_store_samples_read(s, r.id, 0, 100, out, 8, &n) == FM_SVC_OK && n == 3);
    CHECK(out[0].fhr_bpm == 140.5f && isnan(out[1].fhr_bpm) && out[2].state == 2);
    CHECK(fm_store_samples_read(s, r.id, 1, 2, out, 8, &n) == FM_SVC_OK && n == 1);
    fm_audit_entry e = {.actor_id = pid, .status = 200};
    snprintf(e.action, sizeof e.action, "recording.read");
    CHECK(fm_store_audit_add(s, &e) == FM_SVC_OK);
    fm_store_close(s);
}

static void the_schema_migrates_once_and_reopens(void)
{
    fm_store *a = open_store(), *b = open_store();
    CHECK(a && b);
    fm_user u;
    CHECK(b && fm_store_user_by_name(b, "ann", &u, NULL, 0) == FM_SVC_OK);
    fm_store_close(a);
    fm_store_close(b);
}

static void config_reads_files_and_flags(void)
{
    fm_config c;
    fm_config_defaults(&c);
    CHECK(!strcmp(c.listen_host, "127.0.0.1") && c.port == 8080);
    CHECK(!strcmp(c.data_dir, "./fetalmon-data"));
    char err[256];
    CHECK(fm_config_set_listen(&c, "0.0.0.0:9000", err, sizeof err) == FM_SVC_OK);
    CHECK(!strcmp(c.listen_host, "0.0.0.0") && c.port == 9000);
    CHECK(fm_config_set_listen(&c, ":9001", err, sizeof err) == FM_SVC_OK && c.port == 9001);
    CHECK(fm_config_set_listen(&c, "host:99999", err, sizeof err) == FM_SVC_INVAL);
    CHECK(fm_config_set(&c, "max_upload_bytes", "2M", err, sizeof err) == FM_SVC_OK);
    CHECK(c.max_upload_bytes == 2 * 1024 * 1024);
    CHECK(fm_config_set(&c, "api_workers", "0", err, sizeof err) == FM_SVC_INVAL);
    CHECK(fm_config_set(&c, "no_such_key", "1", err, sizeof err) == FM_SVC_INVAL);
    char path[600];
    snprintf(path, sizeof path, "%s/test.conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\nlisten = 127.0.0.1:7000  # trailing\n\nsession_ttl_s = 60\n");
    fclose(f);
    CHECK(fm_config_load(&c, path, err, sizeof err) == FM_SVC_OK);
    CHECK(c.port == 7000 && c.session_ttl_s == 60);
    f = fopen(path, "w");
    fprintf(f, "listen 127.0.0.1\n");
    fclose(f);
    CHECK(fm_config_load(&c, path, err, sizeof err) == FM_SVC_INVAL && strstr(err, ":1:"));
    CHECK(fm_config_load(&c, "/nonexistent/x.conf", err, sizeof err) == FM_SVC_NOTFOUND);
}

typedef struct got {
    int n, resync;
    char last[64];
} got;

static void on_event(void *user, const char *topic, const char *json)
{
    got *g = user;
    if (!json) {
        g->resync++;
        return;
    }
    g->n++;
    snprintf(g->last, sizeof g->last, "%s", json);
    (void)topic;
}

static void bus_delivers_by_topic_prefix_and_drops_oldest_when_full(void)
{
    fm_bus *b = fm_bus_create(4, NULL, NULL);
    got g1 = {0}, g2 = {0};
    fm_bus_sub *s1 = fm_bus_subscribe(b, "patient/1", on_event, &g1);
    fm_bus_subscribe(b, "patient/", on_event, &g2);
    fm_bus_publish(b, "patient/1", "{\"a\":1}");
    fm_bus_publish(b, "patient/2", "{\"a\":2}");
    CHECK(fm_bus_dispatch(b) == 2);
    CHECK(g1.n == 1 && g2.n == 2 && !strcmp(g2.last, "{\"a\":2}"));
    /* An exact topic never matches a longer one: patient 1 must not see patient 10. */
    fm_bus_publish(b, "patient/10", "{\"a\":10}");
    fm_bus_dispatch(b);
    CHECK(g1.n == 1 && g2.n == 3);
    for (int i = 0; i < 6; i++)
        fm_bus_publish(b, "patient/1", "{}");
    CHECK(fm_bus_dropped(b) == 2 && fm_bus_depth(b) == 4);
    fm_bus_dispatch(b);
    CHECK(g1.resync == 1 && g1.n == 5 && g2.resync == 1);
    fm_bus_unsubscribe(b, s1);
    fm_bus_publish(b, "patient/1", "{}");
    fm_bus_dispatch(b);
    CHECK(g1.n == 5 && g2.n == 8);
    fm_bus_destroy(b);
}

typedef struct count_job {
    fm_job job;
    int ran;
    int *done_count;
} count_job;

static void cj_run(fm_job *j, void *ctx)
{
    (void)ctx;
    ((count_job *)j)->ran = 1;
}

static void cj_done(fm_job *j)
{
    (*((count_job *)j)->done_count)++;
}

static void workq_runs_every_job_and_returns_it_to_the_loop(void)
{
    fm_workq_config c = {.threads = 3, .max_pending = 1000};
    fm_workq *q = fm_workq_create(&c);
    CHECK(q != NULL);
    enum { N = 500 };
    static count_job jobs[N];
    int done = 0;
    for (int i = 0; i < N; i++) {
        jobs[i] = (count_job){{cj_run, cj_done, NULL}, 0, &done};
        CHECK(fm_workq_submit(q, &jobs[i].job) == FM_SVC_OK);
    }
    double t0 = now_s();
    while (done < N && now_s() - t0 < 10) {
        fm_workq_drain(q);
        usleep(1000);
    }
    CHECK(done == N);
    int ran = 0;
    for (int i = 0; i < N; i++)
        ran += jobs[i].ran;
    CHECK(ran == N);
    fm_workq_stop(q, 0);
    count_job late = {{cj_run, cj_done, NULL}, 0, &done};
    CHECK(fm_workq_submit(q, &late.job) == FM_SVC_BUSY);
    fm_workq_destroy(q);
}

static void safe_names_cannot_escape_the_data_directory(void)
{
    char out[64];
    fm_safe_name("../../etc/passwd", out, sizeof out);
    CHECK(!strcmp(out, "passwd"));
    fm_safe_name("..hidden.wav", out, sizeof out);
    CHECK(out[0] != '.' && strstr(out, "hidden.wav"));
    fm_safe_name("a b\\c;$(rm).fhr", out, sizeof out);
    CHECK(!strcmp(out, "crm.fhr"));
    CHECK(fm_user_name_valid("alice") && fm_user_name_valid("dr.bob-2"));
    CHECK(!fm_user_name_valid("") && !fm_user_name_valid("../x") && !fm_user_name_valid("-x"));
    CHECK(!fm_user_name_valid("a b"));
}

/* The worklist's audit gate (docs/api.md "Worklist"): a (clinician, patient) pair is due the
 * first time, then not again until the interval has passed; pairs are independent; a clock set
 * back is due (a row too many, never a gap); many pairs (the table grows and purges) keep the
 * rule; a NULL gate audits every read. */
static void worklist_audit_writes_a_pair_at_most_once_per_interval(void)
{
    const int64_t t0 = 1700000000000, iv = 900000;
    fm_worklist_audit *a = fm_worklist_audit_create(iv);
    CHECK(a != NULL);
    if (!a)
        return;
    CHECK(fm_worklist_audit_due(a, 1, 10, t0) == 1);
    CHECK(fm_worklist_audit_due(a, 1, 10, t0 + 15000) == 0);
    CHECK(fm_worklist_audit_due(a, 1, 10, t0 + iv - 1) == 0);
    CHECK(fm_worklist_audit_due(a, 2, 10, t0 + 15000) == 1); /* another clinician */
    CHECK(fm_worklist_audit_due(a, 1, 11, t0 + 15000) == 1); /* another patient */
    CHECK(fm_worklist_audit_due(a, 1, 10, t0 + iv) == 1);
    CHECK(fm_worklist_audit_due(a, 1, 10, t0 + iv + 15000) == 0);
    CHECK(fm_worklist_audit_due(a, 1, 10, t0) == 1); /* the clock went back */
    /* 5000 pairs at once, refreshed every 15 s for a minute: each due once, then again after
     * the interval (the table grows; expired pairs are purged as it fills) */
    int first = 0, again = 0, later = 0;
    for (int64_t t = t0 + 2 * iv; t < t0 + 2 * iv + 60000; t += 15000)
        for (int64_t c = 100; c < 150; c++)
            for (int64_t p = 1000; p < 1100; p++)
                *(t == t0 + 2 * iv ? &first : &again) += fm_worklist_audit_due(a, c, p, t);
    for (int64_t c = 100; c < 150; c++)
        for (int64_t p = 1000; p < 1100; p++)
            later += fm_worklist_audit_due(a, c, p, t0 + 3 * iv + 60000);
    CHECKF(first == 5000 && again == 0 && later == 5000, "first %d again %d later %d", first,
           again, later);
    fm_worklist_audit_destroy(a);
    CHECK(fm_worklist_audit_due(NULL, 1, 10, t0) == 1 && fm_worklist_audit_due(NULL, 1, 10, t0));
}

int main(void)
{
    if (make_temp_dir(dir, sizeof dir, "units") != 0 || fm_auth_init() != FM_SVC_OK)
        return 1;
    RUN(store_users_are_unique_and_found_by_name_and_id);
    RUN(store_care_team_decides_what_a_clinician_sees);
    RUN(tokens_expire_and_revoke_and_disabled_users_lose_them);
    RUN(passwords_hash_with_argon2id_and_verify);
    RUN(rate_limiter_locks_a_key_after_max_failures_for_the_window);
    RUN(recordings_and_samples_round_trip);
    RUN(the_schema_migrates_once_and_reopens);
    RUN(config_reads_files_and_flags);
    RUN(bus_delivers_by_topic_prefix_and_drops_oldest_when_full);
    RUN(workq_runs_every_job_and_returns_it_to_the_loop);
    RUN(safe_names_cannot_escape_the_data_directory);
    RUN(worklist_audit_writes_a_pair_at_most_once_per_interval);
    rm_tree(dir);
    return CHECK_DONE();
}
