/* Internals shared by the SQLite backend files (store_sqlite.c: schema, statements, users,
 * patients, tokens, recordings; store_sqlite_log.c: samples, readings, alerts, audit). Not an
 * interface for anything else. */
#ifndef FM_STORE_SQLITE_INT_H
#define FM_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store_backend.h"

enum {
    S_USER_ADD,
    S_USER_BY_NAME,
    S_USER_BY_ID,
    S_USER_SET_PW,
    S_USER_SET_DISABLED,
    S_USER_LIST,
    S_PATIENT_PUT,
    S_PATIENT_GET,
    S_CARE_LINK,
    S_CARE_CHECK,
    S_PATIENT_LIST_ALL,
    S_PATIENT_LIST_OF,
    S_CARE_TEAM,
    S_TOKEN_ADD,
    S_TOKEN_GET,
    S_TOKEN_REVOKE,
    S_TOKEN_REVOKE_USER,
    S_TOKEN_PURGE,
    S_REC_ADD,
    S_REC_GET,
    S_REC_SET_STATUS,
    S_REC_SET_FILE,
    S_REC_LIST,
    S_REC_UNFINISHED,
    S_REC_RECEIVING,
    S_SAMPLE_ADD,
    S_SAMPLE_READ,
    S_READING_ADD,
    S_READING_LIST,
    S_ALERT_ADD,
    S_ALERT_ACK,
    S_ALERT_LIST,
    S_ALERT_GET,
    S_ALERT_UPDATE,
    S_ALERT_MAX,
    S_AUDIT_ADD,
    S_AUDIT_LIST,
    S_UPLOAD_ADD,
    S_UPLOAD_GET,
    S_UPLOAD_ADVANCE,
    S_UPLOAD_SET_STATE,
    S_UPLOAD_SET_INCOMPLETE,
    S_UPLOAD_DONE,
    S_UPLOAD_DELETE,
    S_UPLOAD_OPEN_LIST,
    S_UPLOAD_PURGE,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_COUNT
};

typedef struct sq {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} sq;

#define DB(s) (((sq *)(s)->impl)->db)

typedef struct cbpair {
    void *cb;
    void *ctx;
} cbpair;

fm_svc_status sq_map_rc(int rc);
/* The prepared statement `which`, reset and unbound; NULL on error. */
sqlite3_stmt *sq_stmt(fm_store *s, int which);
/* Runs a statement that returns no rows. */
fm_svc_status sq_run(sqlite3_stmt *st);
void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);
void sq_bind_str(sqlite3_stmt *st, int i, const char *v);
/* A one-row query: FM_SVC_OK with the row current (read it, then reset), or NOTFOUND/error. */
fm_svc_status sq_step_row(sqlite3_stmt *st);
/* Copies the current row of st into out (an fm_patient, fm_recording, ...). */
typedef void (*sq_row_reader)(sqlite3_stmt *st, void *out);
/* A lookup of one row by its key (the statement's ?1: an integer id, or a text key), read into
 * out: FM_SVC_OK, FM_SVC_NOTFOUND or an error, as sq_step_row. */
fm_svc_status sq_get_by_id(fm_store *s, int which, int64_t id, sq_row_reader read, void *out);
fm_svc_status sq_get_by_text(fm_store *s, int which, const char *key, sq_row_reader read,
                             void *out);
/* Runs an UPDATE; FM_SVC_NOTFOUND when it changed no row. */
fm_svc_status sq_update_one(fm_store *s, sqlite3_stmt *st);
fm_svc_status sq_each_row(sqlite3_stmt *st, void (*each)(sqlite3_stmt *, void *), void *ctx);

/* store_sqlite_log.c */
fm_svc_status sq_samples_append(fm_store *s, const char *rid, const fm_sample_row *v, size_t n);
fm_svc_status sq_samples_read(fm_store *s, const char *rid, int64_t k0, int64_t k1,
                              fm_sample_row *out, size_t cap, size_t *n);
fm_svc_status sq_reading_add(fm_store *s, fm_reading *r);
fm_svc_status sq_reading_list(fm_store *s, const char *rid, fm_reading_cb cb, void *ctx);
fm_svc_status sq_alert_add(fm_store *s, fm_alert *a);
fm_svc_status sq_alert_get(fm_store *s, int64_t id, fm_alert *a);
fm_svc_status sq_alert_ack(fm_store *s, int64_t id, int64_t by, int64_t t_ms);
fm_svc_status sq_alert_list(fm_store *s, int64_t patient_id, fm_alert_cb cb, void *ctx);
fm_svc_status sq_alert_update(fm_store *s, int64_t id, const char *priority, const char *state,
                              double t_to_s);
fm_svc_status sq_alert_max_id(fm_store *s, int64_t *id);
/* One alerts row (columns id, patient_id, recording_id, rule, priority, state, t_from_s,
 * t_to_s, created_ms, ack_by, ack_ms, in that order) into a. */
void sq_read_alert(sqlite3_stmt *st, fm_alert *a);
/* store_sqlite_alerts.c */
fm_svc_status sq_alert_delivery_put(fm_store *s, const fm_alert_delivery *d);
fm_svc_status sq_alert_delivery_get(fm_store *s, int64_t id, fm_alert_delivery *d);
fm_svc_status sq_alert_open(fm_store *s, fm_alert_open_cb cb, void *ctx);
fm_svc_status sq_alert_list_notified(fm_store *s, int64_t clinician_id, fm_alert_cb cb,
                                     void *ctx);
fm_svc_status sq_audit_add(fm_store *s, const fm_audit_entry *e);
fm_svc_status sq_audit_list(fm_store *s, int limit, fm_audit_cb cb, void *ctx);

/* store_sqlite_upload.c */
fm_svc_status sq_upload_add(fm_store *s, const fm_upload *u);
fm_svc_status sq_upload_get(fm_store *s, const char *id, fm_upload *u);
fm_svc_status sq_upload_advance(fm_store *s, const char *id, int64_t from, int64_t to,
                                int64_t t_ms);
fm_svc_status sq_upload_set_state(fm_store *s, const char *id, fm_upload_state st);
fm_svc_status sq_upload_set_incomplete(fm_store *s, const char *id, int incomplete);
fm_svc_status sq_upload_complete(fm_store *s, const char *id, const fm_recording *r);
fm_svc_status sq_upload_delete(fm_store *s, const char *id);
fm_svc_status sq_upload_open_list(fm_store *s, fm_upload_cb cb, void *ctx);
fm_svc_status sq_upload_purge(fm_store *s, int64_t before_ms);
/* store_sqlite.c: binds a recording's columns to S_REC_ADD (for the upload completion). */
fm_svc_status sq_recording_insert(fm_store *s, const fm_recording *r);

#endif
