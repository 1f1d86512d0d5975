/* The SQLite backend of fm_store: one database file (DATA/fetalmon.db) in WAL mode with
 * synchronous=FULL, so a commit that returned is on disk (what the server acknowledges must
 * survive SIGKILL and power loss). Schema migrations run in order at open, keyed by
 * PRAGMA user_version. Every statement is prepared once per connection and reused.
 *
 * All SQL of the service lives here. Not for file bytes (recordings, analysis JSON), which the
 * callers keep as files beside the database. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_int.h"

/* Migrations: entry i takes the schema from version i to i + 1. Never edit a shipped entry;
 * append a new one. */
static const char *const migrations[] = {
    "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " role TEXT NOT NULL CHECK(role IN ('patient','clinician','admin')),"
    " pw_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
    "CREATE TABLE patients(user_id INTEGER PRIMARY KEY REFERENCES users(id),"
    " hospital_id TEXT NOT NULL DEFAULT '', due_date TEXT NOT NULL DEFAULT '',"
    " risk_notes TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE care_team(patient_id INTEGER NOT NULL REFERENCES users(id),"
    " clinician_id INTEGER NOT NULL REFERENCES users(id),"
    " PRIMARY KEY(patient_id, clinician_id)) WITHOUT ROWID;"
    "CREATE INDEX care_by_clinician ON care_team(clinician_id, patient_id);"
    "CREATE TABLE tokens(hash BLOB PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),"
    " kind INTEGER NOT NULL, patient_id INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX tokens_by_user ON tokens(user_id);"
    "CREATE TABLE recordings(id TEXT PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES users(id),"
    " uploaded_by INTEGER NOT NULL, created_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " source_name TEXT NOT NULL, file TEXT NOT NULL, size_bytes INTEGER NOT NULL,"
    " status INTEGER NOT NULL, progress REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',"
    " analysis_file TEXT NOT NULL DEFAULT '', updated_ms INTEGER NOT NULL);"
    "CREATE INDEX recordings_by_patient ON recordings(patient_id, created_ms);"
    "CREATE INDEX recordings_unfinished ON recordings(status) WHERE status < 2;"
    "CREATE TABLE samples(recording_id TEXT NOT NULL, k INTEGER NOT NULL, fhr_bpm REAL,"
    " quality REAL NOT NULL, state INTEGER NOT NULL, PRIMARY KEY(recording_id, k)) WITHOUT ROWID;"
    "CREATE TABLE readings(id INTEGER PRIMARY KEY,"
    " recording_id TEXT NOT NULL REFERENCES recordings(id),"
    " clinician_id INTEGER NOT NULL REFERENCES users(id), category TEXT NOT NULL,"
    " text TEXT NOT NULL, signed_ms INTEGER NOT NULL);"
    "CREATE INDEX readings_by_recording ON readings(recording_id);"
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, patient_id INTEGER NOT NULL REFERENCES users(id),"
    " recording_id TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL, priority TEXT NOT NULL,"
    " state TEXT NOT NULL, t_from_s REAL, t_to_s REAL, created_ms INTEGER NOT NULL,"
    " ack_by INTEGER NOT NULL DEFAULT 0, ack_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX alerts_by_patient ON alerts(patient_id, created_ms);"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL, actor_id INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, peer TEXT NOT NULL,"
    " status INTEGER NOT NULL);",
    /* 2: resumable uploads */
    "CREATE TABLE uploads(id TEXT PRIMARY KEY, recording_id TEXT NOT NULL,"
    " patient_id INTEGER NOT NULL REFERENCES users(id), opened_by INTEGER NOT NULL,"
    " source_name TEXT NOT NULL, size_bytes INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " state INTEGER NOT NULL, incomplete INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE INDEX uploads_open ON uploads(state) WHERE state = 0;",
    /* 3: where each alert went (escalation level, who was told) so that open alerts and their
     * escalation deadlines survive a restart (store_sqlite_alerts.c) */
    "CREATE TABLE alert_delivery(alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),"
    " episode_id INTEGER NOT NULL, level INTEGER NOT NULL, cleared INTEGER NOT NULL,"
    " delivered_ms INTEGER NOT NULL, notified TEXT NOT NULL, escalated TEXT NOT NULL);"
    "CREATE INDEX alerts_open ON alerts(state) WHERE state != 'resolved';",
    /* 4: the live streams still receiving (FM_REC_RECEIVING), for the sweep of streams left
     * without a device (ingest.h) */
    "CREATE INDEX recordings_receiving ON recordings(status) WHERE status = 4;",
};

#define USER_COLS "u.id, u.name, u.display_name, u.role, u.disabled, u.created_ms"
#define PATIENT_COLS "u.id, u.name, u.display_name, p.hospital_id, p.due_date, p.risk_notes"
#define REC_COLS                                                                                   \
    "id, patient_id, uploaded_by, created_ms, kind, source_name, file, size_bytes, status,"        \
    " progress, error, analysis_file, updated_ms"

#define UPLOAD_COLS                                                                                \
    "id, recording_id, patient_id, opened_by, source_name, size_bytes, offset, state,"            \
    " incomplete, created_ms, updated_ms"

static const char *const sql[S_COUNT] = {
    [S_USER_ADD] = "INSERT INTO users(name, display_name, role, pw_hash, disabled, created_ms)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_USER_BY_NAME] = "SELECT " USER_COLS ", u.pw_hash FROM users u WHERE u.name = ?1",
    [S_USER_BY_ID] = "SELECT " USER_COLS ", u.pw_hash FROM users u WHERE u.id = ?1",
    [S_USER_SET_PW] = "UPDATE users SET pw_hash = ?2 WHERE id = ?1",
    [S_USER_SET_DISABLED] = "UPDATE users SET disabled = ?2 WHERE id = ?1",
    [S_USER_LIST] = "SELECT " USER_COLS ", '' FROM users u ORDER BY u.name",
    [S_PATIENT_PUT] = "INSERT INTO patients(user_id, hospital_id, due_date, risk_notes)"
                      " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(user_id) DO UPDATE SET"
                      " hospital_id = ?2, due_date = ?3, risk_notes = ?4",
    [S_PATIENT_GET] = "SELECT " PATIENT_COLS " FROM patients p JOIN users u ON u.id = p.user_id"
                      " WHERE p.user_id = ?1",
    [S_CARE_LINK] = "INSERT OR IGNORE INTO care_team(patient_id, clinician_id) VALUES(?1, ?2)",
    [S_CARE_CHECK] = "SELECT 1 FROM care_team WHERE patient_id = ?1 AND clinician_id = ?2",
    [S_PATIENT_LIST_ALL] = "SELECT " PATIENT_COLS " FROM patients p"
                           " JOIN users u ON u.id = p.user_id ORDER BY u.name",
    [S_PATIENT_LIST_OF] = "SELECT " PATIENT_COLS " FROM care_team c"
                          " JOIN patients p ON p.user_id = c.patient_id"
                          " JOIN users u ON u.id = p.user_id WHERE c.clinician_id = ?1"
                          " ORDER BY u.name",
    [S_CARE_TEAM] = "SELECT " USER_COLS ", '' FROM care_team c JOIN users u"
                    " ON u.id = c.clinician_id WHERE c.patient_id = ?1 ORDER BY u.name",
    [S_TOKEN_ADD] = "INSERT INTO tokens(hash, user_id, kind, patient_id, created_ms, expires_ms)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_TOKEN_GET] = "SELECT t.user_id, t.kind, t.patient_id, t.created_ms, t.expires_ms"
                    " FROM tokens t JOIN users u ON u.id = t.user_id"
                    " WHERE t.hash = ?1 AND t.revoked = 0 AND t.expires_ms > ?2"
                    " AND u.disabled = 0",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE hash = ?1",
    [S_TOKEN_REVOKE_USER] = "UPDATE tokens SET revoked = 1 WHERE user_id = ?1",
    [S_TOKEN_PURGE] = "DELETE FROM tokens WHERE expires_ms < ?1 OR (revoked = 1 AND"
                      " created_ms < ?1)",
    [S_REC_ADD] = "INSERT INTO recordings(" REC_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                  " ?9, ?10, ?11, ?12, ?13)",
    [S_REC_GET] = "SELECT " REC_COLS " FROM recordings WHERE id = ?1",
    [S_REC_SET_STATUS] = "UPDATE recordings SET status = ?2, progress = ?3, error = ?4,"
                         " analysis_file = COALESCE(?5, analysis_file), updated_ms = ?6"
                         " WHERE id = ?1",
    [S_REC_SET_FILE] = "UPDATE recordings SET file = ?2, size_bytes = ?3, updated_ms = ?4"
                       " WHERE id = ?1",
    [S_REC_LIST] = "SELECT " REC_COLS " FROM recordings WHERE patient_id = ?1"
                   " ORDER BY created_ms DESC, id",
    [S_REC_UNFINISHED] = "SELECT " REC_COLS " FROM recordings WHERE status < 2"
                         " ORDER BY created_ms",
    [S_REC_RECEIVING] = "SELECT " REC_COLS " FROM recordings WHERE status = 4"
                        " ORDER BY updated_ms",
    [S_SAMPLE_ADD] = "INSERT OR REPLACE INTO samples(recording_id, k, fhr_bpm, quality, state)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_SAMPLE_READ] = "SELECT k, fhr_bpm, quality, state FROM samples WHERE recording_id = ?1"
                      " AND k >= ?2 AND k < ?3 ORDER BY k",
    [S_READING_ADD] = "INSERT INTO readings(recording_id, clinician_id, category, text,"
                      " signed_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_READING_LIST] = "SELECT id, recording_id, clinician_id, category, text, signed_ms"
                       " FROM readings WHERE recording_id = ?1 ORDER BY signed_ms, id",
    [S_ALERT_ADD] = "INSERT INTO alerts(patient_id, recording_id, rule, priority, state,"
                    " t_from_s, t_to_s, created_ms, id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_ALERT_UPDATE] = "UPDATE alerts SET priority = COALESCE(?2, priority),"
                       " state = COALESCE(?3, state), t_to_s = COALESCE(?4, t_to_s) WHERE id = ?1",
    [S_ALERT_MAX] = "SELECT COALESCE(MAX(id), 0) FROM alerts",
    [S_ALERT_ACK] = "UPDATE alerts SET state = 'acknowledged', ack_by = ?2, ack_ms = ?3"
                    " WHERE id = ?1 AND state = 'raised'",
    [S_ALERT_LIST] = "SELECT id, patient_id, recording_id, rule, priority, state, t_from_s,"
                     " t_to_s, created_ms, ack_by, ack_ms FROM alerts WHERE patient_id = ?1"
                     " ORDER BY created_ms DESC, id DESC",
    [S_ALERT_GET] = "SELECT id, patient_id, recording_id, rule, priority, state, t_from_s,"
                    " t_to_s, created_ms, ack_by, ack_ms FROM alerts WHERE id = ?1",
    [S_AUDIT_ADD] = "INSERT INTO audit(t_ms, actor_id, actor, action, object, peer, status)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_AUDIT_LIST] = "SELECT t_ms, actor_id, actor, action, object, peer, status FROM audit"
                     " ORDER BY id DESC LIMIT ?1",
    [S_UPLOAD_ADD] = "INSERT INTO uploads(" UPLOAD_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                     " ?9, ?10, ?11)",
    [S_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?1",
    [S_UPLOAD_ADVANCE] = "UPDATE uploads SET offset = ?3, updated_ms = ?4, incomplete = 0"
                         " WHERE id = ?1 AND offset = ?2 AND state = 0",
    [S_UPLOAD_SET_STATE] = "UPDATE uploads SET state = ?2, updated_ms = ?3 WHERE id = ?1",
    [S_UPLOAD_SET_INCOMPLETE] = "UPDATE uploads SET incomplete = ?2 WHERE id = ?1",
    [S_UPLOAD_DONE] = "UPDATE uploads SET state = 1, updated_ms = ?2 WHERE id = ?1 AND state = 0",
    [S_UPLOAD_DELETE] = "DELETE FROM uploads WHERE id = ?1",
    [S_UPLOAD_OPEN_LIST] = "SELECT " UPLOAD_COLS " FROM uploads WHERE state = 0 ORDER BY created_ms",
    [S_UPLOAD_PURGE] = "DELETE FROM uploads WHERE state <> 0 AND updated_ms < ?1",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
};

fm_svc_status sq_map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return FM_SVC_OK;
    case SQLITE_CONSTRAINT: return FM_SVC_EXISTS;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return FM_SVC_BUSY;
    case SQLITE_NOMEM: return FM_SVC_NOMEM;
    case SQLITE_TOOBIG:
    case SQLITE_FULL: return FM_SVC_LIMIT;
    default: return FM_SVC_IO;
    }
}

/* The prepared statement `which`, reset and unbound, ready for new bindings; NULL on error. */
sqlite3_stmt *sq_stmt(fm_store *s, int which)
{
    sq *q = s->impl;
    if (!q->st[which]) {
        if (sqlite3_prepare_v3(q->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT, &q->st[which],
                               NULL) != SQLITE_OK)
            return NULL;
    }
    sqlite3_reset(q->st[which]);
    sqlite3_clear_bindings(q->st[which]);
    return q->st[which];
}

/* Runs a statement that returns no rows. */
fm_svc_status sq_run(sqlite3_stmt *st)
{
    if (!st)
        return FM_SVC_IO;
    int rc = sqlite3_step(st);
    fm_svc_status r = rc == SQLITE_DONE ? FM_SVC_OK : sq_map_rc(rc);
    sqlite3_reset(st);
    return r;
}

void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

void sq_bind_str(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void read_user(sqlite3_stmt *st, fm_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    sq_col_text(st, 1, u->name, sizeof u->name);
    sq_col_text(st, 2, u->display_name, sizeof u->display_name);
    u->role = fm_role_parse((const char *)sqlite3_column_text(st, 3));
    u->disabled = sqlite3_column_int(st, 4);
    u->created_ms = sqlite3_column_int64(st, 5);
}

static void read_patient(sqlite3_stmt *st, void *out)
{
    fm_patient *p = out;
    memset(p, 0, sizeof *p);
    p->user_id = sqlite3_column_int64(st, 0);
    sq_col_text(st, 1, p->name, sizeof p->name);
    sq_col_text(st, 2, p->display_name, sizeof p->display_name);
    sq_col_text(st, 3, p->hospital_id, sizeof p->hospital_id);
    sq_col_text(st, 4, p->due_date, sizeof p->due_date);
    sq_col_text(st, 5, p->risk_notes, sizeof p->risk_notes);
}

static void read_recording(sqlite3_stmt *st, void *out)
{
    fm_recording *r = out;
    memset(r, 0, sizeof *r);
    sq_col_text(st, 0, r->id, sizeof r->id);
    r->patient_id = sqlite3_column_int64(st, 1);
    r->uploaded_by = sqlite3_column_int64(st, 2);
    r->created_ms = sqlite3_column_int64(st, 3);
    sq_col_text(st, 4, r->kind, sizeof r->kind);
    sq_col_text(st, 5, r->source_name, sizeof r->source_name);
    sq_col_text(st, 6, r->file, sizeof r->file);
    r->size_bytes = sqlite3_column_int64(st, 7);
    r->status = (fm_rec_status)sqlite3_column_int(st, 8);
    r->progress = sqlite3_column_double(st, 9);
    sq_col_text(st, 10, r->error, sizeof r->error);
    sq_col_text(st, 11, r->analysis_file, sizeof r->analysis_file);
    r->updated_ms = sqlite3_column_int64(st, 12);
}

/* Runs a one-row query: FM_SVC_OK with the row current (caller reads, then resets),
 * FM_SVC_NOTFOUND, or an error. */
fm_svc_status sq_step_row(sqlite3_stmt *st)
{
    if (!st)
        return FM_SVC_IO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return FM_SVC_OK;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FM_SVC_NOTFOUND : sq_map_rc(rc);
}

/* The one row of a bound statement, read into out. */
static fm_svc_status get_row(sqlite3_stmt *st, sq_row_reader read, void *out)
{
    fm_svc_status rc = sq_step_row(st);
    if (rc == FM_SVC_OK) {
        read(st, out);
        sqlite3_reset(st);
    }
    return rc;
}

fm_svc_status sq_get_by_id(fm_store *s, int which, int64_t id, sq_row_reader read, void *out)
{
    sqlite3_stmt *st = sq_stmt(s, which);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    return get_row(st, read, out);
}

fm_svc_status sq_get_by_text(fm_store *s, int which, const char *key, sq_row_reader read,
                             void *out)
{
    sqlite3_stmt *st = sq_stmt(s, which);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, key);
    return get_row(st, read, out);
}

/* ---- users ---- */

static fm_svc_status sq_user_add(fm_store *s, const fm_user *u, const char *h, int64_t *id)
{
    sqlite3_stmt *st = sq_stmt(s, S_USER_ADD);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, u->name);
    sq_bind_str(st, 2, u->display_name);
    sq_bind_str(st, 3, fm_role_name(u->role));
    sq_bind_str(st, 4, h);
    sqlite3_bind_int(st, 5, u->disabled);
    sqlite3_bind_int64(st, 6, u->created_ms ? u->created_ms : fm_now_ms());
    fm_svc_status r = sq_run(st);
    if (r == FM_SVC_OK && id)
        *id = sqlite3_last_insert_rowid(DB(s));
    return r;
}

static fm_svc_status user_row(sqlite3_stmt *st, fm_user *u, char *h, size_t hl)
{
    fm_svc_status r = sq_step_row(st);
    if (r != FM_SVC_OK)
        return r;
    read_user(st, u);
    if (h)
        sq_col_text(st, 6, h, hl);
    sqlite3_reset(st);
    return FM_SVC_OK;
}

static fm_svc_status sq_user_by_name(fm_store *s, const char *name, fm_user *u, char *h, size_t hl)
{
    sqlite3_stmt *st = sq_stmt(s, S_USER_BY_NAME);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, name);
    return user_row(st, u, h, hl);
}

static fm_svc_status sq_user_by_id(fm_store *s, int64_t id, fm_user *u)
{
    sqlite3_stmt *st = sq_stmt(s, S_USER_BY_ID);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    return user_row(st, u, NULL, 0);
}

fm_svc_status sq_update_one(fm_store *s, sqlite3_stmt *st)
{
    fm_svc_status r = sq_run(st);
    if (r == FM_SVC_OK && sqlite3_changes(DB(s)) == 0)
        return FM_SVC_NOTFOUND;
    return r;
}

static fm_svc_status sq_user_set_password(fm_store *s, int64_t id, const char *h)
{
    sqlite3_stmt *st = sq_stmt(s, S_USER_SET_PW);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    sq_bind_str(st, 2, h);
    return sq_update_one(s, st);
}

static fm_svc_status sq_user_set_disabled(fm_store *s, int64_t id, int disabled)
{
    sqlite3_stmt *st = sq_stmt(s, S_USER_SET_DISABLED);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, disabled);
    return sq_update_one(s, st);
}

/* Steps through all rows of a prepared query, calling `each` for every row. */
fm_svc_status sq_each_row(sqlite3_stmt *st, void (*each)(sqlite3_stmt *, void *), void *ctx)
{
    if (!st)
        return FM_SVC_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        each(st, ctx);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FM_SVC_OK : sq_map_rc(rc);
}

static void each_user(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_user u;
    read_user(st, &u);
    ((fm_user_cb)p->cb)(p->ctx, &u);
}

static fm_svc_status sq_user_list(fm_store *s, fm_user_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    return sq_each_row(sq_stmt(s, S_USER_LIST), each_user, &p);
}

/* ---- patients and care teams ---- */

static fm_svc_status sq_patient_put(fm_store *s, const fm_patient *p)
{
    sqlite3_stmt *st = sq_stmt(s, S_PATIENT_PUT);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, p->user_id);
    sq_bind_str(st, 2, p->hospital_id);
    sq_bind_str(st, 3, p->due_date);
    sq_bind_str(st, 4, p->risk_notes);
    return sq_run(st);
}

static fm_svc_status sq_patient_get(fm_store *s, int64_t id, fm_patient *p)
{
    return sq_get_by_id(s, S_PATIENT_GET, id, read_patient, p);
}

static fm_svc_status sq_care_link(fm_store *s, int64_t patient_id, int64_t clinician_id)
{
    sqlite3_stmt *st = sq_stmt(s, S_CARE_LINK);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, patient_id);
    sqlite3_bind_int64(st, 2, clinician_id);
    return sq_run(st);
}

static fm_svc_status sq_care_check(fm_store *s, int64_t patient_id, int64_t clinician_id)
{
    sqlite3_stmt *st = sq_stmt(s, S_CARE_CHECK);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, patient_id);
    sqlite3_bind_int64(st, 2, clinician_id);
    fm_svc_status r = sq_step_row(st);
    if (r == FM_SVC_OK)
        sqlite3_reset(st);
    return r;
}

static void each_patient(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_patient pt;
    read_patient(st, &pt);
    ((fm_patient_cb)p->cb)(p->ctx, &pt);
}

static fm_svc_status sq_patient_list(fm_store *s, int64_t clinician_id, fm_patient_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, clinician_id ? S_PATIENT_LIST_OF : S_PATIENT_LIST_ALL);
    if (st && clinician_id)
        sqlite3_bind_int64(st, 1, clinician_id);
    return sq_each_row(st, each_patient, &p);
}

static fm_svc_status sq_care_team(fm_store *s, int64_t patient_id, fm_user_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, S_CARE_TEAM);
    if (st)
        sqlite3_bind_int64(st, 1, patient_id);
    return sq_each_row(st, each_user, &p);
}

/* ---- tokens ---- */

static fm_svc_status sq_token_add(fm_store *s, const uint8_t *hash, const fm_token_row *t)
{
    sqlite3_stmt *st = sq_stmt(s, S_TOKEN_ADD);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, t->user_id);
    sqlite3_bind_int(st, 3, t->kind);
    sqlite3_bind_int64(st, 4, t->patient_id);
    sqlite3_bind_int64(st, 5, t->created_ms);
    sqlite3_bind_int64(st, 6, t->expires_ms);
    return sq_run(st);
}

static fm_svc_status sq_token_get(fm_store *s, const uint8_t *hash, int64_t now_ms, fm_token_row *t)
{
    sqlite3_stmt *st = sq_stmt(s, S_TOKEN_GET);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_ms);
    fm_svc_status r = sq_step_row(st);
    if (r != FM_SVC_OK)
        return r;
    t->user_id = sqlite3_column_int64(st, 0);
    t->kind = (fm_token_kind)sqlite3_column_int(st, 1);
    t->patient_id = sqlite3_column_int64(st, 2);
    t->created_ms = sqlite3_column_int64(st, 3);
    t->expires_ms = sqlite3_column_int64(st, 4);
    sqlite3_reset(st);
    return FM_SVC_OK;
}

static fm_svc_status sq_token_revoke(fm_store *s, const uint8_t *hash)
{
    sqlite3_stmt *st = sq_stmt(s, S_TOKEN_REVOKE);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    return sq_update_one(s, st);
}

static fm_svc_status sq_token_revoke_user(fm_store *s, int64_t user_id)
{
    sqlite3_stmt *st = sq_stmt(s, S_TOKEN_REVOKE_USER);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, user_id);
    return sq_run(st);
}

static fm_svc_status sq_token_purge(fm_store *s, int64_t before_ms)
{
    sqlite3_stmt *st = sq_stmt(s, S_TOKEN_PURGE);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, before_ms);
    return sq_run(st);
}

/* ---- recordings and samples ---- */

fm_svc_status sq_recording_insert(fm_store *s, const fm_recording *r)
{
    sqlite3_stmt *st = sq_stmt(s, S_REC_ADD);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->patient_id);
    sqlite3_bind_int64(st, 3, r->uploaded_by);
    sqlite3_bind_int64(st, 4, r->created_ms);
    sq_bind_str(st, 5, r->kind);
    sq_bind_str(st, 6, r->source_name);
    sq_bind_str(st, 7, r->file);
    sqlite3_bind_int64(st, 8, r->size_bytes);
    sqlite3_bind_int(st, 9, r->status);
    sqlite3_bind_double(st, 10, r->progress);
    sq_bind_str(st, 11, r->error);
    sq_bind_str(st, 12, r->analysis_file);
    sqlite3_bind_int64(st, 13, r->updated_ms ? r->updated_ms : r->created_ms);
    return sq_run(st);
}

static fm_svc_status sq_recording_add(fm_store *s, const fm_recording *r)
{
    return sq_recording_insert(s, r);
}

static fm_svc_status sq_recording_get(fm_store *s, const char *id, fm_recording *r)
{
    return sq_get_by_text(s, S_REC_GET, id, read_recording, r);
}

static fm_svc_status sq_recording_set_status(fm_store *s, const char *id, fm_rec_status stt,
                                             double progress, const char *error,
                                             const char *analysis_file)
{
    sqlite3_stmt *st = sq_stmt(s, S_REC_SET_STATUS);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    sqlite3_bind_int(st, 2, stt);
    sqlite3_bind_double(st, 3, progress);
    sq_bind_str(st, 4, error);
    if (analysis_file)
        sq_bind_str(st, 5, analysis_file);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, fm_now_ms());
    return sq_update_one(s, st);
}

static fm_svc_status sq_recording_set_file(fm_store *s, const char *id, const char *file,
                                           int64_t size_bytes)
{
    sqlite3_stmt *st = sq_stmt(s, S_REC_SET_FILE);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    sq_bind_str(st, 2, file);
    sqlite3_bind_int64(st, 3, size_bytes);
    sqlite3_bind_int64(st, 4, fm_now_ms());
    return sq_update_one(s, st);
}

static void each_recording(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_recording r;
    read_recording(st, &r);
    ((fm_recording_cb)p->cb)(p->ctx, &r);
}

static fm_svc_status sq_recording_list(fm_store *s, int64_t patient_id, fm_recording_cb cb,
                                       void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    sqlite3_stmt *st = sq_stmt(s, S_REC_LIST);
    if (st)
        sqlite3_bind_int64(st, 1, patient_id);
    return sq_each_row(st, each_recording, &p);
}

static fm_svc_status sq_recording_unfinished(fm_store *s, fm_recording_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    return sq_each_row(sq_stmt(s, S_REC_UNFINISHED), each_recording, &p);
}

static fm_svc_status sq_recording_receiving(fm_store *s, fm_recording_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    return sq_each_row(sq_stmt(s, S_REC_RECEIVING), each_recording, &p);
}

/* ---- life cycle ---- */

static void sq_close(fm_store *s)
{
    sq *q = s->impl;
    if (!q)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close(q->db);
    free(q);
    s->impl = NULL;
}

static const char *sq_errmsg(fm_store *s)
{
    sq *q = s->impl;
    return q && q->db ? sqlite3_errmsg(q->db) : "no database";
}

static const fm_store_backend sqlite_backend = {
    .name = "sqlite",
    .close = sq_close,
    .errmsg = sq_errmsg,
    .user_add = sq_user_add,
    .user_by_name = sq_user_by_name,
    .user_by_id = sq_user_by_id,
    .user_set_password = sq_user_set_password,
    .user_set_disabled = sq_user_set_disabled,
    .user_list = sq_user_list,
    .patient_put = sq_patient_put,
    .patient_get = sq_patient_get,
    .care_link = sq_care_link,
    .care_check = sq_care_check,
    .patient_list = sq_patient_list,
    .care_team = sq_care_team,
    .token_add = sq_token_add,
    .token_get = sq_token_get,
    .token_revoke = sq_token_revoke,
    .token_revoke_user = sq_token_revoke_user,
    .token_purge = sq_token_purge,
    .recording_add = sq_recording_add,
    .recording_get = sq_recording_get,
    .recording_set_status = sq_recording_set_status,
    .recording_set_file = sq_recording_set_file,
    .recording_list = sq_recording_list,
    .recording_unfinished = sq_recording_unfinished,
    .recording_receiving = sq_recording_receiving,
    .samples_append = sq_samples_append,
    .samples_read = sq_samples_read,
    .reading_add = sq_reading_add,
    .reading_list = sq_reading_list,
    .alert_add = sq_alert_add,
    .alert_get = sq_alert_get,
    .alert_ack = sq_alert_ack,
    .alert_list = sq_alert_list,
    .alert_update = sq_alert_update,
    .alert_max_id = sq_alert_max_id,
    .upload_add = sq_upload_add,
    .upload_get = sq_upload_get,
    .upload_advance = sq_upload_advance,
    .upload_set_state = sq_upload_set_state,
    .upload_set_incomplete = sq_upload_set_incomplete,
    .upload_complete = sq_upload_complete,
    .upload_delete = sq_upload_delete,
    .upload_open_list = sq_upload_open_list,
    .upload_purge = sq_upload_purge,
    .alert_delivery_put = sq_alert_delivery_put,
    .alert_delivery_get = sq_alert_delivery_get,
    .alert_open = sq_alert_open,
    .alert_list_notified = sq_alert_list_notified,
    .audit_add = sq_audit_add,
    .audit_list = sq_audit_list,
};

/* Brings the schema up to date inside one IMMEDIATE transaction, so two processes opening a
 * fresh data directory at once (server and CLI) do not both migrate. */
static int migrate(sqlite3 *db, char *err, size_t err_len)
{
    int n_mig = (int)(sizeof migrations / sizeof migrations[0]);
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version > n_mig) {
        snprintf(err, err_len, "database schema %d is newer than this program (%d)", version,
                 n_mig);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    for (int v = version; v < n_mig; v++) {
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, migrations[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    snprintf(err, err_len, "database migration: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

fm_svc_status fm_store_sqlite_open(fm_store *s, const char *data_dir, char *err, size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/fetalmon.db", data_dir);
    sq *q = calloc(1, sizeof *q);
    if (!q)
        return FM_SVC_NOMEM;
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return FM_SVC_IO;
    }
    sqlite3_busy_timeout(q->db, 5000);
    /* WAL: readers never block the writer; synchronous=FULL: a COMMIT is durable when it
     * returns (NORMAL would only protect against application crashes, not power loss). */
    const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=ON;";
    char *msg = NULL;
    if (sqlite3_exec(q->db, pragmas, NULL, NULL, &msg) != SQLITE_OK ||
        migrate(q->db, err, err_len) != 0) {
        if (msg)
            snprintf(err, err_len, "%s: %s", path, msg);
        sqlite3_free(msg);
        sqlite3_close(q->db);
        free(q);
        return FM_SVC_IO;
    }
    s->be = &sqlite_backend;
    s->impl = q;
    return FM_SVC_OK;
}
