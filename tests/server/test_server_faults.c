/* Fault injection against a real `fetalmon serve` over real sockets: a full disk while a
 * recording is written (a real 4 MiB tmpfs as the data directory; needs root, else skipped), an
 * fsync that fails and worker threads that cannot start (the FM_FAULT hook of test builds,
 * server/service/fault.h; skipped when the build has no hook), SQLite busy (a second real
 * connection holding the write lock), and clients vanishing mid-frame / mid-body.
 *
 * Each time: the server keeps serving (or stops and restarts cleanly), PRAGMA integrity_check is
 * ok, nothing acknowledged is lost (every acked upload is listed with its bytes, every acked
 * frame is in the finished WAV), and what was not accepted got a clear error. */
#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "../check.h"
#include "srvtest.h"

static server_proc srv;
static const char *const args_fast[] = {"--set", "http_timeout_s=5", NULL};
static const char *const *args_now = args_fast;
static char fixture[1024];
static char tok_alice[128], tok_drbob[128];

enum { FRAME_SAMPLES = 2000 };
static int add_users(const char *data)
{
    const char *care[] = {"--clinician", "drbob", NULL};
    return srv_user_add(data, "clinician", "drbob", "drbob-password", NULL) ||
           srv_user_add(data, "patient", "alice", "alice-password", care);
}

static int login_both(void)
{
    int a = srv_login(srv.port, "alice", "alice-password", tok_alice, sizeof tok_alice);
    int b = srv_login(srv.port, "drbob", "drbob-password", tok_drbob, sizeof tok_drbob);
    return a == 200 && b == 200 ? 0 : -1;
}

/* Creates a data directory with the two users and starts the server on it. */
static int start_fresh(const char *tag, const char *fault)
{
    if (make_temp_dir(srv.data, sizeof srv.data, tag) != 0 || add_users(srv.data) != 0)
        return -1;
    if (fault)
        setenv("FM_FAULT", fault, 1);
    int rc = server_start(&srv, args_now);
    unsetenv("FM_FAULT");
    return rc == 0 ? login_both() : -1;
}

static int upload(const char *token, const char *name, const void *body, size_t len, char *id,
                  http_resp *out)
{
    char query[256];
    snprintf(query, sizeof query, "?name=%s", name);
    return srv_upload(srv.port, token, query, body, len, id, id ? 32 : 0, out);
}

/* The status an upload ends in ("done", "failed"; "" when none within 60 s). */
static const char *wait_done(const char *id)
{
    static char st[32];
    http_resp r;
    st[0] = 0;
    if (srv_wait_analysed(srv.port, tok_alice, id, &r) == 0)
        snprintf(st, sizeof st, "%s", jstr(r.json, "status"));
    http_resp_free(&r);
    return st;
}

static int count_files(const char *sub, const char *suffix)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", srv.data, sub);
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name), s = strlen(suffix);
        n += e->d_name[0] != '.' && l >= s && !strcmp(e->d_name + l - s, suffix);
    }
    if (d)
        closedir(d);
    return n;
}

static int n_recordings(void)
{
    http_resp r;
    int n = -1;
    if (http_get(srv.port, "/api/patients/alice/recordings", tok_alice, &r) == 0 && r.status == 200)
        n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "recordings"));
    http_resp_free(&r);
    return n;
}

/* PRAGMA integrity_check through a second real connection: 1 when "ok". */
static int integrity_ok(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/fetalmon.db", srv.data);
    sqlite3 *db = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            ok = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

static int healthy(void)
{
    http_resp r;
    int ok = http_get(srv.port, "/health", NULL, &r) == 0 && r.status == 200;
    http_resp_free(&r);
    return ok;
}

/* Stops the server with SIGTERM (must exit 0) and checks the database. */
static void stop_and_check(void)
{
    CHECK(server_stop(&srv, SIGTERM) == 0);
    CHECK(integrity_ok());
}

/* Frame seq of the test pattern (srvtest.h). */
static int send_frame(int fd, uint32_t seq)
{
    return pattern_send(fd, seq, FRAME_SAMPLES);
}

static int open_stream(const char *resume, char *id, int *next_seq)
{
    char extra[64] = "";
    if (resume)
        snprintf(extra, sizeof extra, ",\"stream\":\"%s\"", resume);
    return ingest_open_stream(srv.port, tok_alice, 8000, extra, id, next_seq);
}

/* Sends one frame and waits for its ack (1), or for an error (0; its code in err), or -1. */
static int frame_acked(int fd, uint32_t seq, char *err, size_t cap)
{
    if (send_frame(fd, seq) != 0)
        return -1;
    return ingest_ack_or_error(fd, seq, err, cap);
}

/* Resumes stream `id`, sends frames next_seq..n-1 and closes it: 0 when "closed" came. */
static int resume_and_finish(const char *id, int n, int *next_seq)
{
    char id2[32];
    int fd = open_stream(id, id2, next_seq);
    if (fd < 0)
        return -1;
    for (int s = *next_seq; s < n; s++)
        send_frame(fd, (uint32_t)s);
    int ok = ingest_close(fd, 20000) == 0 && !strcmp(id, id2);
    close(fd);
    return ok ? 0 : -1;
}

/* The WAV of a finished stream holds exactly frames 0..n-1. */
static int wav_holds_frames(const char *id, int n)
{
    return wav_holds_pattern(srv.data, id, n, FRAME_SAMPLES);
}

/* With FM_FAULT="fsync_frames:2": frame 0 is acked, frame 1's flush fails -> "storage" and the
 * connection closes; the device resumes from next_seq and the WAV holds every frame. */
#ifdef FM_FAULT_INJECTION
static void the_second_frame_flush_fails_and_the_stream_resumes_whole(void)
{
    char id[32], err[32] = "";
    int next = -1;
    int fd = open_stream(NULL, id, &next);
    CHECK(fd >= 0 && next == 0);
    if (fd >= 0) {
        CHECK(frame_acked(fd, 0, err, sizeof err) == 1);
        CHECK(frame_acked(fd, 1, err, sizeof err) == 0 && !strcmp(err, "storage"));
        close(fd);
    }
    CHECK(healthy());
    CHECK(resume_and_finish(id, 12, &next) == 0);
    /* frame 0 acked: never asked again; frame 1 was written but its sync failed: it was cut
     * off, never counted as held (a failed fsync may have dropped it) */
    CHECKF(next == 1, "next_seq %d", next);
    CHECK(wav_holds_frames(id, 12));
}
#endif

/* ---- the faults ---- */

/* FM_FAULT="fsync_recording:2,fsync_frames:2": the fsync committing the 2nd upload and the
 * fdatasync of the stream's 2nd flush fail with EIO. */
static void a_failed_fsync_is_refused_clearly_and_loses_nothing_acknowledged(void)
{
#ifndef FM_FAULT_INJECTION
    printf("     skipped: this build has no fault hook (configure with -DFM_FAULT_INJECTION=ON)\n");
    return;
#else
    CHECK(start_fresh("fsync", "fsync_recording:2,fsync_frames:2") == 0);
    size_t len;
    char *fhr = read_whole(fixture, &len);
    CHECK(fhr != NULL);
    if (!fhr)
        return;
    char id1[32], id3[32];
    CHECK(upload(tok_alice, "one.fhr", fhr, len, id1, NULL) == 201);
    CHECK(!strcmp(wait_done(id1), "done"));
    http_resp r;
    CHECK(upload(tok_alice, "two.fhr", fhr, len, NULL, &r) == 507);
    CHECK(jstr(r.json, "error") && !strcmp(jstr(r.json, "error"), "storage_full"));
    http_resp_free(&r);
    CHECK(upload(tok_alice, "three.fhr", fhr, len, id3, NULL) == 201);
    CHECK(!strcmp(wait_done(id3), "done"));
    CHECK(n_recordings() == 2);                    /* the refused one left no row ... */
    CHECK(count_files("recordings", ".fhr") == 2); /* ... no file */
    CHECK(count_files("incoming", ".part") == 0);

    /* the stream: its second flush fails */
    the_second_frame_flush_fails_and_the_stream_resumes_whole();
    free(fhr);
    stop_and_check();
    rm_tree(srv.data);
#endif
}

/* The same for the group commit (ingest_group_commit = 1): the commit round's log sync fails
 * (FM_FAULT="fsync_frames:2"): the stream gets "storage", the round's records are cut off the
 * log and its frames off the stream file, and the resumed stream is whole. */
static void a_failed_group_commit_sync_is_refused_and_cut_back(void)
{
#ifndef FM_FAULT_INJECTION
    printf("     skipped: this build has no fault hook (configure with -DFM_FAULT_INJECTION=ON)\n");
    return;
#else
    static const char *const args_group[] = {"--set", "http_timeout_s=5", "--set",
                                             "ingest_group_commit=1", NULL};
    args_now = args_group;
    CHECK(start_fresh("fsyncgc", "fsync_frames:2") == 0);
    args_now = args_fast;
    the_second_frame_flush_fails_and_the_stream_resumes_whole();
    stop_and_check();
    rm_tree(srv.data);
#endif
}

/* FM_FAULT="worker_init:1+": no worker can open its store. The loop still answers; every
 * request needing the store gets a clear 503, uploads leave nothing, a stream open is refused;
 * SIGTERM is clean and a restart without the fault serves normally. */
static void workers_without_a_store_answer_503_and_restart_cleanly(void)
{
#ifndef FM_FAULT_INJECTION
    printf("     skipped: this build has no fault hook (configure with -DFM_FAULT_INJECTION=ON)\n");
    return;
#else
    CHECK(make_temp_dir(srv.data, sizeof srv.data, "worker") == 0 && add_users(srv.data) == 0);
    setenv("FM_FAULT", "worker_init:1+", 1);
    CHECK(server_start(&srv, args_fast) == 0);
    unsetenv("FM_FAULT");
    CHECK(healthy());
    http_resp r;
    CHECK(http_post_json(srv.port, "/api/login", NULL,
                         "{\"username\":\"alice\",\"password\":\"alice-password\"}", &r) == 0);
    CHECK(r.status == 503 && jstr(r.json, "error") &&
          !strcmp(jstr(r.json, "error"), "unavailable"));
    http_resp_free(&r);
    const char *csv = "time_s,fhr_bpm\n0,140\n0.25,141\n";
    CHECK(http_req(srv.port, "POST", "/api/recordings?name=a.csv", "fms_nottoken", csv, strlen(csv),
                   &r) == 0 &&
          r.status == 503);
    http_resp_free(&r);
    CHECK(count_files("incoming", ".part") == 0);
    CHECK(count_files("recordings", ".csv") == 0);
    int st;
    int fd = ws_connect(srv.port, "/ws/ingest", "fm-ingest", &st);
    CHECK(fd >= 0);
    if (fd >= 0) {
        ws_send_text(fd, "{\"type\":\"open\",\"token\":\"fms_x\",\"format\":\"s16le\","
                         "\"rate_hz\":8000}");
        cJSON *e = ws_wait_type(fd, "error", NULL, 10000);
        CHECK(e && jstr(e, "error") && !strcmp(jstr(e, "error"), "storage"));
        cJSON_Delete(e);
        close(fd);
    }
    CHECK(healthy());
    stop_and_check();
    CHECK(server_start(&srv, args_fast) == 0 && login_both() == 0);
    CHECK(upload(tok_alice, "a.csv", csv, strlen(csv), NULL, NULL) == 201);
    stop_and_check();
    rm_tree(srv.data);
#endif
}

typedef struct locker {
    char path[700];
    double hold_s;
    volatile int locked;
} locker;

static void *hold_lock(void *arg)
{
    locker *l = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(l->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 10000) == SQLITE_OK && /* the server may be writing right now */
        sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK) {
        l->locked = 1;
        usleep((useconds_t)(l->hold_s * 1e6));
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    } else {
        l->locked = -1;
    }
    sqlite3_close(db);
    return NULL;
}

static int start_locker(locker *l, pthread_t *t, double hold_s)
{
    snprintf(l->path, sizeof l->path, "%s/fetalmon.db", srv.data);
    l->hold_s = hold_s;
    l->locked = 0;
    if (pthread_create(t, NULL, hold_lock, l) != 0)
        return -1;
    while (!l->locked)
        usleep(1000);
    return l->locked == 1 ? 0 : -1;
}

typedef struct poster {
    const char *path, *json;
    int status;
} poster;

static void *post_thread(void *arg)
{
    poster *p = arg;
    http_resp r;
    p->status = http_post_json(srv.port, p->path, tok_drbob, p->json, &r) == 0 ? r.status : -1;
    http_resp_free(&r);
    return NULL;
}

/* A second connection holds the write lock: shorter than the busy timeout (5 s) the request
 * waits and succeeds; longer, writes answer 503 "busy" (retry) and leave nothing, reads go on
 * (WAL), and once the lock is gone everything is accepted again. */
static void a_locked_database_gives_503_busy_and_nothing_half_done(void)
{
    CHECK(start_fresh("busy", NULL) == 0);
    size_t len;
    char *fhr = read_whole(fixture, &len);
    char id[32], rpath[128];
    CHECK(fhr && upload(tok_alice, "one.fhr", fhr, len, id, NULL) == 201);
    CHECK(!strcmp(wait_done(id), "done"));
    snprintf(rpath, sizeof rpath, "/api/recordings/%s/readings", id);
    const char *reading = "{\"category\":\"normal\",\"text\":\"reactive\"}";
    locker l;
    pthread_t t;
    http_resp r;

    CHECK(start_locker(&l, &t, 1.5) == 0);
    CHECK(http_post_json(srv.port, rpath, tok_drbob, reading, &r) == 0 && r.status == 201);
    http_resp_free(&r);
    pthread_join(t, NULL);

    CHECK(start_locker(&l, &t, 9) == 0); /* writes wait 5 s (busy_timeout), then give up */
    double t0 = now_s();
    poster rp_job = {.path = rpath, .json = reading, .status = 0};
    pthread_t rt;
    CHECK(pthread_create(&rt, NULL, post_thread, &rp_job) == 0); /* a reading, at the same time */
    CHECK(upload(tok_alice, "two.fhr", fhr, len, NULL, &r) == 503);
    printf("     an upload under the lock answered 503 busy after %.1f s\n", now_s() - t0);
    CHECK(jstr(r.json, "error") && !strcmp(jstr(r.json, "error"), "busy"));
    http_resp_free(&r);
    pthread_join(rt, NULL);
    CHECKF(rp_job.status == 503, "reading under the lock: %d", rp_job.status);
    CHECK(now_s() - t0 < 9); /* both answered while the lock was still held */
    CHECK(http_get(srv.port, "/api/me", tok_alice, &r) == 0 && r.status == 200); /* reads go on */
    http_resp_free(&r);
    pthread_join(t, NULL);

    CHECK(upload(tok_alice, "three.fhr", fhr, len, NULL, NULL) == 201);
    CHECK(n_recordings() == 2);
    CHECK(count_files("recordings", ".fhr") == 2); /* the refused upload's file is gone */
    CHECK(count_files("incoming", ".part") == 0);
    CHECK(http_get(srv.port, rpath, tok_alice, &r) == 0 &&
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "readings")) == 1);
    http_resp_free(&r);
    free(fhr);
    stop_and_check();
    rm_tree(srv.data);
}

static long long metric(const char *name)
{
    http_resp r;
    long long v = -1;
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    if (http_get(srv.port, "/metrics", NULL, &r) == 0 && r.status == 200 && r.body) {
        const char *p = strstr(r.body, key);
        v = p ? atoll(p + strlen(key)) : -1;
    }
    http_resp_free(&r);
    return v;
}

/* The audit row of a request answered while the database is locked past the busy timeout is
 * not dropped: it is queued durably beside the database (fetalmon_audit_deferred_total) and
 * written into the audit table, with its own time, by the next audit write that succeeds. */
static void an_audit_row_refused_by_a_locked_database_is_written_later(void)
{
    static const char *const args_slow[] = {"--set", "http_timeout_s=30", NULL};
    args_now = args_slow; /* the read waits out the busy timeout (5 s) before it answers */
    CHECK(start_fresh("audit-busy", NULL) == 0);
    args_now = args_fast;
    size_t len;
    char *fhr = read_whole(fixture, &len);
    char id[32], rpath[128], pending[760], dbp[700];
    CHECK(fhr && upload(tok_alice, "one.fhr", fhr, len, id, NULL) == 201);
    CHECK(!strcmp(wait_done(id), "done"));
    snprintf(rpath, sizeof rpath, "/api/recordings/%s/readings", id);
    snprintf(pending, sizeof pending, "%s/fetalmon.db-audit-pending", srv.data);
    locker l;
    pthread_t t;
    http_resp r;
    CHECK(metric("fetalmon_audit_deferred_total") == 0);
    CHECK(start_locker(&l, &t, 7) == 0); /* longer than the busy timeout (5 s) */
    int got = http_get(srv.port, rpath, tok_alice, &r) == 0 ? r.status : -1;
    CHECKF(got == 200, "a read under the lock: %d", got); /* a read: served */
    http_resp_free(&r);
    CHECK(access(pending, F_OK) == 0); /* its audit row waits on disk */
    CHECK(metric("fetalmon_audit_deferred_total") == 1);
    pthread_join(t, NULL);
    CHECK(http_get(srv.port, rpath, tok_alice, &r) == 0 && r.status == 200);
    http_resp_free(&r);
    CHECK(access(pending, F_OK) != 0);
    CHECK(metric("fetalmon_audit_replayed_total") == 1);
    CHECK(metric("fetalmon_audit_lost_total") == 0);
    stop_and_check();
    /* both rows in the table; the later insert is the earlier request, with its own time */
    snprintf(dbp, sizeof dbp, "%s/fetalmon.db", srv.data);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long t_ms[2] = {0, 0};
    int n = 0;
    if (sqlite3_open_v2(dbp, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT t_ms FROM audit WHERE action = 'reading.list' AND status = 200"
                           " ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW && n < 2)
            t_ms[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECKF(n == 2 && t_ms[1] < t_ms[0] - 1000, "%d rows, t %lld %lld", n, t_ms[0], t_ms[1]);
    free(fhr);
    rm_tree(srv.data);
}

/* Sends an upload of len bytes in chunks, tolerating the server closing early; returns the
 * status of the answer, or -1 when the connection was dropped without one. */
static int upload_tolerant(const char *token, const char *name, size_t len)
{
    int fd = tcp_connect(srv.port, 30);
    if (fd < 0)
        return -1;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /api/recordings?name=%s HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                     name, token, len);
    send_all(fd, head, (size_t)n);
    char chunk[16384];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = "0.25,140\n"[i % 9];
    for (size_t sent = 0; sent < len;) {
        size_t k = len - sent < sizeof chunk ? len - sent : sizeof chunk;
        if (send_all(fd, chunk, k) != 0)
            break;
        sent += k;
    }
    http_resp r;
    int st = http_read(fd, &r) == 0 ? r.status : -1;
    http_resp_free(&r);
    close(fd);
    return st;
}

/* The data directory is a real 4 MiB tmpfs, filled up to its last 256 KiB. An upload that does
 * not fit answers 507 and leaves nothing; a live stream gets "storage" once a flush does not
 * fit, keeps every acked frame, and resumes when space is back; the server keeps serving. */
static void a_full_disk_refuses_what_does_not_fit_and_keeps_the_rest(void)
{
    if (geteuid() != 0) {
        printf("     skipped: needs root to mount a small tmpfs as the data directory\n");
        return;
    }
    CHECK(make_temp_dir(srv.data, sizeof srv.data, "full") == 0);
    if (mount("tmpfs", srv.data, "tmpfs", 0, "size=4m,mode=0700") != 0) {
        printf("     skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        rmdir(srv.data);
        return;
    }
    CHECK(add_users(srv.data) == 0);
    CHECK(server_start(&srv, args_fast) == 0 && login_both() == 0);
    /* Fill the disk up to its last 256 KiB. */
    struct statvfs vs;
    char filler[700];
    snprintf(filler, sizeof filler, "%s/filler", srv.data);
    CHECK(statvfs(srv.data, &vs) == 0);
    long long room = (long long)vs.f_bavail * (long long)vs.f_bsize - 256 * 1024;
    FILE *f = fopen(filler, "wb");
    CHECK(f && room > 0);
    static char zeros[65536];
    for (long long w = 0; f && w < room; w += (long long)sizeof zeros)
        if (fwrite(zeros, 1, sizeof zeros, f) != sizeof zeros)
            break;
    if (f)
        fclose(f);

    int st = upload_tolerant(tok_alice, "big.csv", 1 << 20);
    CHECKF(st == 507 || st == -1, "upload on a full disk answered %d", st);
    printf("     1 MiB upload on a full disk: %d\n", st);
    CHECK(healthy());
    usleep(200000);
    CHECK(count_files("incoming", ".part") == 0);
    CHECK(n_recordings() == 0);

    char id[32], err[32] = "";
    int next = -1, acked = -1;
    int fd = open_stream(NULL, id, &next);
    CHECK(fd >= 0);
    int refused = 0;
    for (uint32_t s = 0; fd >= 0 && s < 400; s++) {
        int a = frame_acked(fd, s, err, sizeof err);
        if (a == 1)
            acked = (int)s;
        else {
            refused = a == 0;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    printf("     stream on a full disk: frames 0..%d acked, then \"%s\"\n", acked, err);
    CHECKF(refused && !strcmp(err, "storage"), "error %s", err);
    CHECK(healthy());
    http_resp me;
    CHECK(http_get(srv.port, "/api/me", tok_alice, &me) == 0 && me.status == 200);
    http_resp_free(&me);
    unlink(filler); /* space is back */
    int total = acked + 20;
    CHECK(resume_and_finish(id, total, &next) == 0);
    CHECK(next >= acked + 1);
    CHECK(wav_holds_frames(id, total));
    const char *csv = "time_s,fhr_bpm\n0,140\n0.25,141\n";
    CHECK(upload(tok_alice, "after.csv", csv, strlen(csv), NULL, NULL) == 201);
    stop_and_check();
    umount2(srv.data, MNT_DETACH);
    rm_tree(srv.data);
}

/* Clients that vanish half-way through a WebSocket frame or an HTTP request. */
static void clients_vanishing_mid_frame_leave_the_server_serving(void)
{
    CHECK(start_fresh("vanish", NULL) == 0);
    char id[32];
    int next = -1;
    int fd = open_stream(NULL, id, &next);
    CHECK(fd >= 0);
    char err[32];
    for (uint32_t s = 0; fd >= 0 && s < 5; s++)
        CHECK(frame_acked(fd, s, err, sizeof err) == 1);
    if (fd >= 0) {
        /* Half of frame 5: its header announces 4004 bytes, 2000 come, then the socket closes. */
        unsigned char b[4 + 2 * FRAME_SAMPLES], hdr[8] = {0x82, 0x80 | 126, 0x0f, 0xa4, 1, 2, 3, 4};
        b[0] = 5, b[1] = b[2] = b[3] = 0;
        memset(b + 4, 0x5a, sizeof b - 4);
        send_all(fd, hdr, sizeof hdr);
        send_all(fd, b, 2000);
        close(fd);
    }
    /* Half a frame on the live feed, half of an HTTP header block, half of a JSON body. */
    int st;
    int lf = ws_connect(srv.port, "/ws/live", "fm-live", &st);
    CHECK(lf >= 0);
    if (lf >= 0) {
        unsigned char h[8] = {0x81, 0x80 | 100, 1, 2, 3, 4};
        send_all(lf, h, 6);
        send_all(lf, "{\"type\":\"auth\",", 15);
        close(lf);
    }
    int hf = tcp_connect(srv.port, 5);
    if (hf >= 0) {
        send_all(hf, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Le", 46);
        close(hf);
    }
    hf = tcp_connect(srv.port, 5);
    if (hf >= 0) {
        const char *h = "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"
                        "{\"username\":\"alice\",\"pass";
        send_all(hf, h, strlen(h));
        close(hf);
    }
    usleep(200000);
    CHECK(healthy());
    CHECK(srv_login(srv.port, "alice", "alice-password", NULL, 0) == 200);
    CHECK(resume_and_finish(id, 10, &next) == 0);
    CHECK(next == 5); /* the half frame was never stored */
    CHECK(wav_holds_frames(id, 10));
    stop_and_check();
    rm_tree(srv.data);
}

int main(void)
{
    srv_fixture_path(fixture, sizeof fixture);
    signal(SIGPIPE, SIG_IGN);
    RUN(a_failed_fsync_is_refused_clearly_and_loses_nothing_acknowledged);
    RUN(a_failed_group_commit_sync_is_refused_and_cut_back);
    RUN(workers_without_a_store_answer_503_and_restart_cleanly);
    RUN(a_locked_database_gives_503_busy_and_nothing_half_done);
    RUN(an_audit_row_refused_by_a_locked_database_is_written_later);
    RUN(a_full_disk_refuses_what_does_not_fit_and_keeps_the_rest);
    RUN(clients_vanishing_mid_frame_leave_the_server_serving);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    return CHECK_DONE();
}
