/* The SQLite backend's append-mostly tables: live trace samples, readings, alerts and the audit
 * log. See store_sqlite.c for the schema and the statements; store.h for the contract. */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "store_sqlite_int.h"

/* Appends a block of samples in one transaction: one fsync per block, not per sample. */
fm_svc_status sq_samples_append(fm_store *s, const char *rid, const fm_sample_row *v, size_t n)
{
    fm_svc_status r = sq_run(sq_stmt(s, S_BEGIN));
    if (r != FM_SVC_OK)
        return r;
    for (size_t i = 0; i < n && r == FM_SVC_OK; i++) {
        sqlite3_stmt *st = sq_stmt(s, S_SAMPLE_ADD);
        if (!st) {
            r = FM_SVC_IO;
            break;
        }
        sq_bind_str(st, 1, rid);
        sqlite3_bind_int64(st, 2, v[i].k);
        if (isfinite(v[i].fhr_bpm))
            sqlite3_bind_double(st, 3, v[i].fhr_bpm);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_double(st, 4, v[i].quality);
        sqlite3_bind_int(st, 5, v[i].state);
        r = sq_run(st);
    }
    if (r == FM_SVC_OK)
        r = sq_run(sq_stmt(s, S_COMMIT));
    if (r != FM_SVC_OK)
        sq_run(sq_stmt(s, S_ROLLBACK));
    return r;
}

fm_svc_status sq_samples_read(fm_store *s, const char *rid, int64_t k0, int64_t k1,
                              fm_sample_row *out, size_t cap, size_t *n)
{
    *n = 0;
    sqlite3_stmt *st = sq_stmt(s, S_SAMPLE_READ);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, rid);
    sqlite3_bind_int64(st, 2, k0);
    sqlite3_bind_int64(st, 3, k1);
    int rc;
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_sample_row *o = &out[(*n)++];
        o->k = sqlite3_column_int64(st, 0);
        o->fhr_bpm =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(st, 1);
        o->quality = (float)sqlite3_column_double(st, 2);
        o->state = sqlite3_column_int(st, 3);
    }
    sqlite3_reset(st);
    return FM_SVC_OK;
}

/* ---- readings, alerts, audit ---- */

fm_svc_status sq_reading_add(fm_store *s, fm_reading *r)
{
    sqlite3_stmt *st = sq_stmt(s, S_READING_ADD);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, r->recording_id);
    sqlite3_bind_int64(st, 2, r->clinician_id);
    sq_bind_str(st, 3, r->category);
    sq_bind_str(st, 4, r->text);
    sqlite3_bind_int64(st, 5, r->signed_ms);
    fm_svc_status rc = sq_run(st);
    if (rc == FM_SVC_OK)
        r->id = sqlite3_last_insert_rowid(DB(s));
    return rc;
}

static void each_reading(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_reading r;
    memset(&r, 0, sizeof r);
    r.id = sqlite3_column_int64(st, 0);
    sq_col_text(st, 1, r.recording_id, sizeof r.recording_id);
    r.clinician_id = sqlite3_column_int64(st, 2);
    sq_col_text(st, 3, r.category, sizeof r.category);
    sq_col_text(st, 4, r.text, sizeof r.text);
    r.signed_ms = sqlite3_column_int64(st, 5);
    ((fm_reading_cb)p->cb)(p->ctx, &r);
}

fm_svc_status sq_reading_list(fm_store *s, const char *rid, fm_reading_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, S_READING_LIST);
    if (st)
        sq_bind_str(st, 1, rid);
    return sq_each_row(st, each_reading, &p);
}

fm_svc_status sq_alert_add(fm_store *s, fm_alert *a)
{
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_ADD);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, a->patient_id);
    sq_bind_str(st, 2, a->recording_id);
    sq_bind_str(st, 3, a->rule);
    sq_bind_str(st, 4, a->priority);
    sq_bind_str(st, 5, a->state[0] ? a->state : "raised");
    sqlite3_bind_double(st, 6, a->t_from_s);
    sqlite3_bind_double(st, 7, a->t_to_s);
    sqlite3_bind_int64(st, 8, a->created_ms);
    if (a->id > 0) /* the alerting engine numbers its alerts */
        sqlite3_bind_int64(st, 9, a->id);
    else
        sqlite3_bind_null(st, 9);
    fm_svc_status rc = sq_run(st);
    if (rc == FM_SVC_OK)
        a->id = sqlite3_last_insert_rowid(DB(s));
    return rc;
}

fm_svc_status sq_alert_update(fm_store *s, int64_t id, const char *priority, const char *state,
                              double t_to_s)
{
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_UPDATE);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    if (priority)
        sq_bind_str(st, 2, priority);
    if (state)
        sq_bind_str(st, 3, state);
    if (isfinite(t_to_s))
        sqlite3_bind_double(st, 4, t_to_s);
    return sq_update_one(s, st);
}

fm_svc_status sq_alert_max_id(fm_store *s, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_MAX);
    if (!st)
        return FM_SVC_IO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? FM_SVC_OK : FM_SVC_IO;
}

fm_svc_status sq_alert_ack(fm_store *s, int64_t id, int64_t by, int64_t t_ms)
{
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_ACK);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, by);
    sqlite3_bind_int64(st, 3, t_ms);
    return sq_update_one(s, st);
}

void sq_read_alert(sqlite3_stmt *st, fm_alert *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->patient_id = sqlite3_column_int64(st, 1);
    sq_col_text(st, 2, a->recording_id, sizeof a->recording_id);
    sq_col_text(st, 3, a->rule, sizeof a->rule);
    sq_col_text(st, 4, a->priority, sizeof a->priority);
    sq_col_text(st, 5, a->state, sizeof a->state);
    a->t_from_s = sqlite3_column_double(st, 6);
    a->t_to_s = sqlite3_column_double(st, 7);
    a->created_ms = sqlite3_column_int64(st, 8);
    a->ack_by = sqlite3_column_int64(st, 9);
    a->ack_ms = sqlite3_column_int64(st, 10);
}

static void each_alert(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_alert a;
    sq_read_alert(st, &a);
    ((fm_alert_cb)p->cb)(p->ctx, &a);
}

fm_svc_status sq_alert_list(fm_store *s, int64_t patient_id, fm_alert_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_LIST);
    if (st)
        sqlite3_bind_int64(st, 1, patient_id);
    return sq_each_row(st, each_alert, &p);
}

static fm_svc_status audit_insert(fm_store *s, const fm_audit_entry *e)
{
    sqlite3_stmt *st = sq_stmt(s, S_AUDIT_ADD);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, e->t_ms);
    sqlite3_bind_int64(st, 2, e->actor_id);
    sq_bind_str(st, 3, e->actor);
    sq_bind_str(st, 4, e->action);
    sq_bind_str(st, 5, e->object);
    sq_bind_str(st, 6, e->peer);
    sqlite3_bind_int(st, 7, e->status);
    return sq_run(st);
}

/* ---- audit rows the database refused ----
 * An audit row is never dropped: when the INSERT fails (the database locked or busy past the
 * busy timeout, an I/O error) the row goes, as one line, to DB-audit-pending beside the database
 * (appended and fdatasync'd before the call returns), and the next audit write that succeeds
 * (on any worker, or after a restart) moves the pending rows into the table, oldest first, with
 * their own times. A crash between that INSERT and the file's removal can write a row twice
 * (at least once, never lost). Counted for /metrics (fm_store_audit_counts). */

static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ullong audit_deferred, audit_replayed, audit_lost;

void fm_store_audit_counts(unsigned long long *deferred, unsigned long long *replayed,
                           unsigned long long *lost)
{
    *deferred = atomic_load(&audit_deferred);
    *replayed = atomic_load(&audit_replayed);
    *lost = atomic_load(&audit_lost);
}

static int pending_path(fm_store *s, char *buf, size_t cap)
{
    const char *db = sqlite3_db_filename(DB(s), "main");
    return db && *db && (size_t)snprintf(buf, cap, "%s-audit-pending", db) < cap ? 0 : -1;
}

/* Tab-separated fields; backslash, tab and newline escaped in the strings. */
static size_t put_field(char *o, size_t n, size_t cap, const char *t)
{
    if (n < cap)
        o[n++] = '\t';
    for (; *t && n + 2 < cap; t++) {
        char c = *t == '\t' ? 't' : *t == '\n' ? 'n' : *t == '\\' ? '\\' : 0;
        if (c) {
            o[n++] = '\\';
            o[n++] = c;
        } else {
            o[n++] = *t;
        }
    }
    return n;
}

static const char *get_field(const char *p, char *dst, size_t cap)
{
    size_t n = 0;
    if (*p == '\t')
        p++;
    for (; *p && *p != '\t' && *p != '\n'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p;
        }
        if (n + 1 < cap)
            dst[n++] = c;
    }
    dst[n] = 0;
    return p;
}

static int defer_row(fm_store *s, const fm_audit_entry *e)
{
    char path[4200], line[1400];
    if (pending_path(s, path, sizeof path))
        return -1;
    size_t n = (size_t)snprintf(line, sizeof line, "%lld\t%lld\t%d", (long long)e->t_ms,
                                (long long)e->actor_id, e->status);
    n = put_field(line, n, sizeof line - 1, e->actor);
    n = put_field(line, n, sizeof line - 1, e->action);
    n = put_field(line, n, sizeof line - 1, e->object);
    n = put_field(line, n, sizeof line - 1, e->peer);
    line[n++] = '\n';
    pthread_mutex_lock(&audit_mu);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, line, n) == (ssize_t)n && !fm_fault_hit("fsync") &&
             fdatasync(fd) == 0;
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&audit_mu);
    return ok ? 0 : -1;
}

/* The pending rows into the table; those the database refuses again stay in the file. */
static void replay_pending(fm_store *s, const char *path)
{
    pthread_mutex_lock(&audit_mu);
    FILE *f = fopen(path, "r");
    char line[1400], tmp[4300];
    FILE *rest = NULL;
    int failed = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!failed) {
            fm_audit_entry e;
            memset(&e, 0, sizeof e);
            long long t_ms = 0, actor_id = 0;
            int status = 0, used = 0;
            if (sscanf(line, "%lld\t%lld\t%d%n", &t_ms, &actor_id, &status, &used) != 3)
                continue; /* a torn last line (crash mid-append): its request was answered
                           * without the row being durable, so it was never acknowledged */
            e.t_ms = t_ms;
            e.actor_id = actor_id;
            e.status = status;
            const char *p = get_field(line + used, e.actor, sizeof e.actor);
            p = get_field(p, e.action, sizeof e.action);
            p = get_field(p, e.object, sizeof e.object);
            get_field(p, e.peer, sizeof e.peer);
            if (audit_insert(s, &e) == FM_SVC_OK) {
                atomic_fetch_add(&audit_replayed, 1);
                continue;
            }
            failed = 1;
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            rest = fopen(tmp, "w");
        }
        if (rest)
            fputs(line, rest);
    }
    if (f)
        fclose(f);
    if (!failed) {
        unlink(path);
    } else if (rest) { /* the remaining rows replace the file, durably */
        int ok = fflush(rest) == 0 && fdatasync(fileno(rest)) == 0;
        if (fclose(rest) == 0 && ok)
            rename(tmp, path);
        else
            unlink(tmp);
    }
    pthread_mutex_unlock(&audit_mu);
}

fm_svc_status sq_audit_add(fm_store *s, const fm_audit_entry *e)
{
    fm_audit_entry row = *e;
    if (!row.t_ms)
        row.t_ms = fm_now_ms();
    fm_svc_status r = audit_insert(s, &row);
    char path[4200];
    if (r == FM_SVC_OK) {
        if (!pending_path(s, path, sizeof path) && access(path, F_OK) == 0)
            replay_pending(s, path);
        return FM_SVC_OK;
    }
    if (defer_row(s, &row) == 0) {
        atomic_fetch_add(&audit_deferred, 1);
        return FM_SVC_OK; /* durable: it reaches the table later */
    }
    atomic_fetch_add(&audit_lost, 1);
    return r;
}

static void each_audit(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_audit_entry e;
    memset(&e, 0, sizeof e);
    e.t_ms = sqlite3_column_int64(st, 0);
    e.actor_id = sqlite3_column_int64(st, 1);
    sq_col_text(st, 2, e.actor, sizeof e.actor);
    sq_col_text(st, 3, e.action, sizeof e.action);
    sq_col_text(st, 4, e.object, sizeof e.object);
    sq_col_text(st, 5, e.peer, sizeof e.peer);
    e.status = sqlite3_column_int(st, 6);
    ((fm_audit_cb)p->cb)(p->ctx, &e);
}

fm_svc_status sq_audit_list(fm_store *s, int limit, fm_audit_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, S_AUDIT_LIST);
    if (st)
        sqlite3_bind_int(st, 1, limit);
    return sq_each_row(st, each_audit, &p);
}

typedef struct alert_out {
    fm_alert *a;
    int found;
} alert_out;

static void copy_alert(void *ctx, const fm_alert *a)
{
    alert_out *o = ctx;
    *o->a = *a;
    o->found = 1;
}

fm_svc_status sq_alert_get(fm_store *s, int64_t id, fm_alert *a)
{
    alert_out o = {a, 0};
    cbpair p = {(void *)copy_alert, &o};
    sqlite3_stmt *st = sq_stmt(s, S_ALERT_GET);
    if (st)
        sqlite3_bind_int64(st, 1, id);
    fm_svc_status rc = sq_each_row(st, each_alert, &p);
    return rc == FM_SVC_OK && !o.found ? FM_SVC_NOTFOUND : rc;
}
