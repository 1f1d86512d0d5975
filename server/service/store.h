/* fm_store: the narrow storage interface of the service.
 *
 * Everything the server keeps durably goes through these functions: users, sessions and device
 * tokens, patients and their care teams, recordings, live trace samples, analyses, readings,
 * alerts and the audit log. No SQL leaves the backend files: request handlers, the CLI and the
 * workers speak only this interface, so a second backend (PostgreSQL through libpq, for several
 * server instances) is one more file implementing fm_store_backend (store_backend.h).
 *
 * Threads: one fm_store per thread (a database connection is not shared). Every write that
 * returns FM_SVC_OK is durable (SQLite: WAL + synchronous=FULL) before the call returns, which is
 * what lets the server acknowledge only what survives a SIGKILL or a power cut.
 *
 * Not for recording bytes or analysis JSON files (they live as files in the data directory; the
 * store keeps their metadata), nor for the live in-memory state of streams. */
#ifndef FM_STORE_H
#define FM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

typedef enum fm_role {
    FM_ROLE_NONE = 0,
    FM_ROLE_PATIENT,
    FM_ROLE_CLINICIAN,
    FM_ROLE_ADMIN
} fm_role;
/* User names: 1..63 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int fm_user_name_valid(const char *name);
const char *fm_role_name(fm_role r);  /* "patient", "clinician", "admin" */
fm_role fm_role_parse(const char *s); /* FM_ROLE_NONE if unknown */

#define FM_NAME_MAX 64 /* user names: [A-Za-z0-9._-], 1..63 chars */
#define FM_TEXT_MAX 256
#define FM_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define FM_REC_ID_MAX 24  /* recording ids: 16 lowercase hex digits */

typedef struct fm_user {
    int64_t id;
    char name[FM_NAME_MAX];
    char display_name[FM_TEXT_MAX];
    fm_role role;
    int disabled;
    int64_t created_ms;
} fm_user;

/* What a patient record adds to her user (CLINICAL: gestational age follows from the due date). */
typedef struct fm_patient {
    int64_t user_id;
    char name[FM_NAME_MAX];
    char display_name[FM_TEXT_MAX];
    char hospital_id[FM_NAME_MAX];
    char due_date[16]; /* YYYY-MM-DD or "" */
    char risk_notes[FM_TEXT_MAX];
} fm_patient;

typedef enum fm_token_kind { FM_TOKEN_SESSION = 1, FM_TOKEN_DEVICE = 2 } fm_token_kind;

/* A live token as the store knows it (found by the hash of the secret, never the secret). */
typedef struct fm_token_row {
    int64_t user_id;
    fm_token_kind kind;
    int64_t patient_id; /* device tokens: the only patient they may ingest for */
    int64_t created_ms, expires_ms;
} fm_token_row;

typedef enum fm_rec_status {
    FM_REC_QUEUED = 0,
    FM_REC_ANALYSING,
    FM_REC_DONE,
    FM_REC_FAILED,
    FM_REC_RECEIVING /* a live stream still open (or waiting for its device to resume) */
} fm_rec_status;
const char *fm_rec_status_name(fm_rec_status s);

typedef struct fm_recording {
    char id[FM_REC_ID_MAX];
    int64_t patient_id;
    int64_t uploaded_by;
    int64_t created_ms;
    char kind[8];                  /* "upload" or "stream" */
    char source_name[FM_NAME_MAX]; /* the sanitised client file name */
    char file[FM_TEXT_MAX];        /* path of the bytes, relative to the data directory */
    int64_t size_bytes;
    fm_rec_status status;
    double progress; /* 0..1 */
    char error[FM_TEXT_MAX];
    char analysis_file[FM_TEXT_MAX]; /* relative path of the analysis JSON, "" until done */
    int64_t updated_ms;
} fm_recording;

/* One 4 Hz trace sample of a live stream (k = sample index from the start). */
typedef struct fm_sample_row {
    int64_t k;
    float fhr_bpm; /* NAN = no signal */
    float quality;
    int state; /* fm_fhr_state */
} fm_sample_row;

typedef struct fm_reading {
    int64_t id;
    char recording_id[FM_REC_ID_MAX];
    int64_t clinician_id;
    char category[32];
    char text[1024];
    int64_t signed_ms;
} fm_reading;

typedef struct fm_alert {
    int64_t id;
    int64_t patient_id;
    char recording_id[FM_REC_ID_MAX];
    char rule[48];
    char priority[8]; /* "high" "medium" "low" */
    char state[16];   /* "raised" "acknowledged" "resolved" */
    double t_from_s, t_to_s;
    int64_t created_ms;
    int64_t ack_by;
    int64_t ack_ms;
} fm_alert;

/* One line of the audit log: who did what to which object, when, from where, and the outcome. */
typedef struct fm_audit_entry {
    int64_t t_ms;
    int64_t actor_id; /* 0 = anonymous */
    char actor[FM_NAME_MAX];
    char action[32]; /* "login", "recording.read", ... */
    char object[96]; /* "patient:alice", "recording:0123abcd..." */
    char peer[64];   /* client address, or "cli" */
    int status;      /* HTTP status, or 0 for CLI actions */
} fm_audit_entry;

typedef struct fm_store fm_store;

/* Opens (creating and migrating) the store of a data directory. */
fm_svc_status fm_store_open(const char *data_dir, fm_store **out, char *err, size_t err_len);
void fm_store_close(fm_store *s);
/* The last backend error message (for logs), never NULL. */
const char *fm_store_errmsg(fm_store *s);

/* Users. pw_hash is the crypto_pwhash_str string. */
fm_svc_status fm_store_user_add(fm_store *s, const fm_user *u, const char *pw_hash, int64_t *id);
fm_svc_status fm_store_user_by_name(fm_store *s, const char *name, fm_user *u, char *pw_hash,
                                    size_t pw_hash_len);
fm_svc_status fm_store_user_by_id(fm_store *s, int64_t id, fm_user *u);
fm_svc_status fm_store_user_set_password(fm_store *s, int64_t id, const char *pw_hash);
fm_svc_status fm_store_user_set_disabled(fm_store *s, int64_t id, int disabled);
typedef void (*fm_user_cb)(void *ctx, const fm_user *u);
fm_svc_status fm_store_user_list(fm_store *s, fm_user_cb cb, void *ctx);

/* Patients and care teams. */
fm_svc_status fm_store_patient_put(fm_store *s, const fm_patient *p);
fm_svc_status fm_store_patient_get(fm_store *s, int64_t user_id, fm_patient *p);
fm_svc_status fm_store_care_link(fm_store *s, int64_t patient_id, int64_t clinician_id);
/* FM_SVC_OK when the clinician is on the patient's care team, FM_SVC_NOTFOUND when not. */
fm_svc_status fm_store_care_check(fm_store *s, int64_t patient_id, int64_t clinician_id);
typedef void (*fm_patient_cb)(void *ctx, const fm_patient *p);
/* The patients a clinician is in charge of, or all patients when clinician_id is 0. */
fm_svc_status fm_store_patient_list(fm_store *s, int64_t clinician_id, fm_patient_cb cb, void *ctx);
/* Clinicians in charge of a patient (names), for display. */
fm_svc_status fm_store_care_team(fm_store *s, int64_t patient_id, fm_user_cb cb, void *ctx);

/* Tokens: the store sees only a 32-byte hash of the secret. */
fm_svc_status fm_store_token_add(fm_store *s, const uint8_t hash[32], const fm_token_row *t);
/* FM_SVC_NOTFOUND for unknown, revoked or expired tokens (now_ms decides expiry). */
fm_svc_status fm_store_token_get(fm_store *s, const uint8_t hash[32], int64_t now_ms,
                                 fm_token_row *t);
fm_svc_status fm_store_token_revoke(fm_store *s, const uint8_t hash[32]);
fm_svc_status fm_store_token_revoke_user(fm_store *s, int64_t user_id);
/* Deletes expired and revoked tokens older than before_ms (housekeeping). */
fm_svc_status fm_store_token_purge(fm_store *s, int64_t before_ms);

/* Recordings. */
fm_svc_status fm_store_recording_add(fm_store *s, const fm_recording *r);
fm_svc_status fm_store_recording_get(fm_store *s, const char *id, fm_recording *r);
fm_svc_status fm_store_recording_set_status(fm_store *s, const char *id, fm_rec_status st,
                                            double progress, const char *error,
                                            const char *analysis_file);
/* Where a recording's bytes now are (a finished live stream becomes one audio file). */
fm_svc_status fm_store_recording_set_file(fm_store *s, const char *id, const char *file,
                                          int64_t size_bytes);
typedef void (*fm_recording_cb)(void *ctx, const fm_recording *r);
fm_svc_status fm_store_recording_list(fm_store *s, int64_t patient_id, fm_recording_cb cb,
                                      void *ctx);
/* Recordings still queued or analysing (to resume after a restart). */
fm_svc_status fm_store_recording_unfinished(fm_store *s, fm_recording_cb cb, void *ctx);
/* Live streams still receiving (open, or waiting for their device), least recently updated
 * first (the sweep of streams left without a device, ingest.h). */
fm_svc_status fm_store_recording_receiving(fm_store *s, fm_recording_cb cb, void *ctx);

/* Live trace samples, appended in order; read back by index range [k0, k1). Appending a k that
 * is already stored replaces it (the live pipe re-appends samples the false-signal detector
 * re-marked). */
fm_svc_status fm_store_samples_append(fm_store *s, const char *recording_id, const fm_sample_row *v,
                                      size_t n);
fm_svc_status fm_store_samples_read(fm_store *s, const char *recording_id, int64_t k0, int64_t k1,
                                    fm_sample_row *out, size_t cap, size_t *n);

/* Readings (a clinician's signed interpretation) and alerts. */
fm_svc_status fm_store_reading_add(fm_store *s, fm_reading *r); /* sets r->id */
typedef void (*fm_reading_cb)(void *ctx, const fm_reading *r);
fm_svc_status fm_store_reading_list(fm_store *s, const char *recording_id, fm_reading_cb cb,
                                    void *ctx);
/* a->id > 0: stored under that id (the alerting engine's); else a new id is set in a->id. */
fm_svc_status fm_store_alert_add(fm_store *s, fm_alert *a);
/* Changes what is not NULL / NAN. FM_SVC_NOTFOUND for an unknown id. */
fm_svc_status fm_store_alert_update(fm_store *s, int64_t id, const char *priority,
                                    const char *state, double t_to_s);
/* The largest alert id stored (0 when none): the alerting engine numbers on from it. */
fm_svc_status fm_store_alert_max_id(fm_store *s, int64_t *id);
fm_svc_status fm_store_alert_get(fm_store *s, int64_t id, fm_alert *a);
/* FM_SVC_NOTFOUND when there is no such alert or it is not in state "raised". */
fm_svc_status fm_store_alert_ack(fm_store *s, int64_t id, int64_t by, int64_t t_ms);
typedef void (*fm_alert_cb)(void *ctx, const fm_alert *a);
fm_svc_status fm_store_alert_list(fm_store *s, int64_t patient_id, fm_alert_cb cb, void *ctx);

/* Resumable uploads (docs/api.md "Resumable uploads"): the partial bytes live in
 * DATA/uploads/ID.part; the row holds how many of them were acknowledged (offset), which is
 * what survives a crash (the file is truncated back to it at the next start). */
typedef enum fm_upload_state {
    FM_UPLOAD_OPEN = 0,
    FM_UPLOAD_DONE,      /* every byte received, the recording created */
    FM_UPLOAD_CANCELLED, /* by its owner */
    FM_UPLOAD_EXPIRED    /* no progress for upload_expire_s: the bytes were deleted */
} fm_upload_state;
const char *fm_upload_state_name(fm_upload_state s);

typedef struct fm_upload {
    char id[FM_REC_ID_MAX];           /* 16 lowercase hex digits, random */
    char recording_id[FM_REC_ID_MAX]; /* chosen at open; a recording only once DONE */
    int64_t patient_id;
    int64_t opened_by; /* the user who opened it (the patient for her device token) */
    char source_name[FM_NAME_MAX];
    int64_t size_bytes;
    int64_t offset; /* bytes acknowledged */
    fm_upload_state state;
    int incomplete; /* the "upload incomplete" technical alert is raised */
    int64_t created_ms, updated_ms; /* updated_ms: the last progress */
} fm_upload;

fm_svc_status fm_store_upload_add(fm_store *s, const fm_upload *u);
fm_svc_status fm_store_upload_get(fm_store *s, const char *id, fm_upload *u);
/* Moves an open upload's offset from `from` to `to` and clears `incomplete`; FM_SVC_NOTFOUND
 * when the upload is not open at `from` (someone else moved it). */
fm_svc_status fm_store_upload_advance(fm_store *s, const char *id, int64_t from, int64_t to,
                                      int64_t t_ms);
fm_svc_status fm_store_upload_set_state(fm_store *s, const char *id, fm_upload_state st);
fm_svc_status fm_store_upload_set_incomplete(fm_store *s, const char *id, int incomplete);
/* In one transaction: the recording row r is added and the open upload becomes DONE. */
fm_svc_status fm_store_upload_complete(fm_store *s, const char *id, const fm_recording *r);
fm_svc_status fm_store_upload_delete(fm_store *s, const char *id);
typedef void (*fm_upload_cb)(void *ctx, const fm_upload *u);
/* Every open upload (recovery at start, the incomplete / expiry sweep). */
fm_svc_status fm_store_upload_open_list(fm_store *s, fm_upload_cb cb, void *ctx);
/* Deletes rows of uploads that are no longer open and were last changed before before_ms. */
fm_svc_status fm_store_upload_purge(fm_store *s, int64_t before_ms);
/* Where an alert went: its escalation level and who was told (the alert life cycle's state
 * beyond the alerts row), so that open alerts resume after a restart with their escalation
 * deadline (delivered_ms + the escalation time). notified / escalated are user ids as
 * ",3,7," (every clinician told / those told by escalation, level >= 1). */
typedef struct fm_alert_delivery {
    int64_t alert_id;
    uint64_t episode_id; /* the rule engine's episode within the alert's recording */
    int level;           /* escalation level of the last delivery */
    int cleared;         /* the condition is gone (a latched alert waits for acknowledgement) */
    int64_t delivered_ms; /* time of the last delivery */
    char notified[1024];
    char escalated[1024];
} fm_alert_delivery;
fm_svc_status fm_store_alert_delivery_put(fm_store *s, const fm_alert_delivery *d);
/* FM_SVC_NOTFOUND when none was stored (alerts from before this table, or never delivered). */
fm_svc_status fm_store_alert_delivery_get(fm_store *s, int64_t id, fm_alert_delivery *d);
/* Every alert not resolved, oldest first, with its delivery (d NULL when none stored). */
typedef void (*fm_alert_open_cb)(void *ctx, const fm_alert *a, const fm_alert_delivery *d);
fm_svc_status fm_store_alert_open(fm_store *s, fm_alert_open_cb cb, void *ctx);
/* Alerts not resolved that were delivered to this clinician (any patient), newest first. */
fm_svc_status fm_store_alert_list_notified(fm_store *s, int64_t clinician_id, fm_alert_cb cb,
                                           void *ctx);

/* Audit log (append-only). */
fm_svc_status fm_store_audit_add(fm_store *s, const fm_audit_entry *e);
typedef void (*fm_audit_cb)(void *ctx, const fm_audit_entry *e);
/* The newest `limit` entries, newest first. */
fm_svc_status fm_store_audit_list(fm_store *s, int limit, fm_audit_cb cb, void *ctx);
/* Audit rows the database refused and that were queued durably beside it (written into the
 * table by a later audit write), rows so written, and rows lost (not even queued); process-wide,
 * for /metrics. fm_store_audit_add returns FM_SVC_OK for a queued row. */
void fm_store_audit_counts(unsigned long long *deferred, unsigned long long *replayed,
                           unsigned long long *lost);

#endif
