/* fm_store: dispatch of the storage interface to its backend, plus the enum names shared by all
 * backends. See store.h for the contract; no SQL here. */
#include "store_backend.h"

#include <stdlib.h>
#include <string.h>

int fm_user_name_valid(const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || ((c == '.' || c == '-') && n > 0);
        if (!ok)
            return 0;
    }
    return n >= 1 && n < FM_NAME_MAX;
}

const char *fm_role_name(fm_role r)
{
    switch (r) {
    case FM_ROLE_PATIENT: return "patient";
    case FM_ROLE_CLINICIAN: return "clinician";
    case FM_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

fm_role fm_role_parse(const char *s)
{
    if (!s)
        return FM_ROLE_NONE;
    if (!strcmp(s, "patient"))
        return FM_ROLE_PATIENT;
    if (!strcmp(s, "clinician"))
        return FM_ROLE_CLINICIAN;
    if (!strcmp(s, "admin"))
        return FM_ROLE_ADMIN;
    return FM_ROLE_NONE;
}

const char *fm_rec_status_name(fm_rec_status s)
{
    switch (s) {
    case FM_REC_QUEUED: return "queued";
    case FM_REC_ANALYSING: return "analysing";
    case FM_REC_DONE: return "done";
    case FM_REC_FAILED: return "failed";
    case FM_REC_RECEIVING: return "receiving";
    }
    return "unknown";
}

const char *fm_upload_state_name(fm_upload_state s)
{
    switch (s) {
    case FM_UPLOAD_OPEN: return "open";
    case FM_UPLOAD_DONE: return "done";
    case FM_UPLOAD_CANCELLED: return "cancelled";
    case FM_UPLOAD_EXPIRED: return "expired";
    }
    return "unknown";
}

fm_svc_status fm_store_open(const char *data_dir, fm_store **out, char *err, size_t err_len)
{
    *out = NULL;
    fm_store *s = calloc(1, sizeof *s);
    if (!s)
        return FM_SVC_NOMEM;
    /* One backend today; a "postgres" setting in the config will choose libpq here. */
    fm_svc_status rc = fm_store_sqlite_open(s, data_dir, err, err_len);
    if (rc != FM_SVC_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return FM_SVC_OK;
}

void fm_store_close(fm_store *s)
{
    if (!s)
        return;
    s->be->close(s);
    free(s);
}

const char *fm_store_errmsg(fm_store *s)
{
    return s->be->errmsg(s);
}

fm_svc_status fm_store_user_add(fm_store *s, const fm_user *u, const char *h, int64_t *id)
{
    return s->be->user_add(s, u, h, id);
}
fm_svc_status fm_store_user_by_name(fm_store *s, const char *name, fm_user *u, char *h, size_t n)
{
    return s->be->user_by_name(s, name, u, h, n);
}
fm_svc_status fm_store_user_by_id(fm_store *s, int64_t id, fm_user *u)
{
    return s->be->user_by_id(s, id, u);
}
fm_svc_status fm_store_user_set_password(fm_store *s, int64_t id, const char *h)
{
    return s->be->user_set_password(s, id, h);
}
fm_svc_status fm_store_user_set_disabled(fm_store *s, int64_t id, int disabled)
{
    return s->be->user_set_disabled(s, id, disabled);
}
fm_svc_status fm_store_user_list(fm_store *s, fm_user_cb cb, void *ctx)
{
    return s->be->user_list(s, cb, ctx);
}
fm_svc_status fm_store_patient_put(fm_store *s, const fm_patient *p)
{
    return s->be->patient_put(s, p);
}
fm_svc_status fm_store_patient_get(fm_store *s, int64_t id, fm_patient *p)
{
    return s->be->patient_get(s, id, p);
}
fm_svc_status fm_store_care_link(fm_store *s, int64_t patient_id, int64_t clinician_id)
{
    return s->be->care_link(s, patient_id, clinician_id);
}
fm_svc_status fm_store_care_check(fm_store *s, int64_t patient_id, int64_t clinician_id)
{
    return s->be->care_check(s, patient_id, clinician_id);
}
fm_svc_status fm_store_patient_list(fm_store *s, int64_t clinician_id, fm_patient_cb cb, void *ctx)
{
    return s->be->patient_list(s, clinician_id, cb, ctx);
}
fm_svc_status fm_store_care_team(fm_store *s, int64_t patient_id, fm_user_cb cb, void *ctx)
{
    return s->be->care_team(s, patient_id, cb, ctx);
}
fm_svc_status fm_store_token_add(fm_store *s, const uint8_t hash[32], const fm_token_row *t)
{
    return s->be->token_add(s, hash, t);
}
fm_svc_status fm_store_token_get(fm_store *s, const uint8_t hash[32], int64_t now_ms,
                                 fm_token_row *t)
{
    return s->be->token_get(s, hash, now_ms, t);
}
fm_svc_status fm_store_token_revoke(fm_store *s, const uint8_t hash[32])
{
    return s->be->token_revoke(s, hash);
}
fm_svc_status fm_store_token_revoke_user(fm_store *s, int64_t user_id)
{
    return s->be->token_revoke_user(s, user_id);
}
fm_svc_status fm_store_token_purge(fm_store *s, int64_t before_ms)
{
    return s->be->token_purge(s, before_ms);
}
fm_svc_status fm_store_recording_add(fm_store *s, const fm_recording *r)
{
    return s->be->recording_add(s, r);
}
fm_svc_status fm_store_recording_get(fm_store *s, const char *id, fm_recording *r)
{
    return s->be->recording_get(s, id, r);
}
fm_svc_status fm_store_recording_set_status(fm_store *s, const char *id, fm_rec_status st,
                                            double progress, const char *error,
                                            const char *analysis_file)
{
    return s->be->recording_set_status(s, id, st, progress, error, analysis_file);
}
fm_svc_status fm_store_recording_set_file(fm_store *s, const char *id, const char *file,
                                          int64_t size_bytes)
{
    return s->be->recording_set_file(s, id, file, size_bytes);
}
fm_svc_status fm_store_recording_list(fm_store *s, int64_t patient_id, fm_recording_cb cb,
                                      void *ctx)
{
    return s->be->recording_list(s, patient_id, cb, ctx);
}
fm_svc_status fm_store_recording_unfinished(fm_store *s, fm_recording_cb cb, void *ctx)
{
    return s->be->recording_unfinished(s, cb, ctx);
}
fm_svc_status fm_store_recording_receiving(fm_store *s, fm_recording_cb cb, void *ctx)
{
    return s->be->recording_receiving(s, cb, ctx);
}
fm_svc_status fm_store_samples_append(fm_store *s, const char *rid, const fm_sample_row *v,
                                      size_t n)
{
    return s->be->samples_append(s, rid, v, n);
}
fm_svc_status fm_store_samples_read(fm_store *s, const char *rid, int64_t k0, int64_t k1,
                                    fm_sample_row *out, size_t cap, size_t *n)
{
    return s->be->samples_read(s, rid, k0, k1, out, cap, n);
}
fm_svc_status fm_store_reading_add(fm_store *s, fm_reading *r)
{
    return s->be->reading_add(s, r);
}
fm_svc_status fm_store_reading_list(fm_store *s, const char *rid, fm_reading_cb cb, void *ctx)
{
    return s->be->reading_list(s, rid, cb, ctx);
}
fm_svc_status fm_store_alert_add(fm_store *s, fm_alert *a)
{
    return s->be->alert_add(s, a);
}
fm_svc_status fm_store_alert_get(fm_store *s, int64_t id, fm_alert *a)
{
    return s->be->alert_get(s, id, a);
}
fm_svc_status fm_store_alert_ack(fm_store *s, int64_t id, int64_t by, int64_t t_ms)
{
    return s->be->alert_ack(s, id, by, t_ms);
}
fm_svc_status fm_store_alert_list(fm_store *s, int64_t patient_id, fm_alert_cb cb, void *ctx)
{
    return s->be->alert_list(s, patient_id, cb, ctx);
}
fm_svc_status fm_store_alert_update(fm_store *s, int64_t id, const char *priority,
                                    const char *state, double t_to_s)
{
    return s->be->alert_update(s, id, priority, state, t_to_s);
}
fm_svc_status fm_store_alert_max_id(fm_store *s, int64_t *id)
{
    return s->be->alert_max_id(s, id);
}
fm_svc_status fm_store_alert_delivery_put(fm_store *s, const fm_alert_delivery *d)
{
    return s->be->alert_delivery_put(s, d);
}
fm_svc_status fm_store_alert_delivery_get(fm_store *s, int64_t id, fm_alert_delivery *d)
{
    return s->be->alert_delivery_get(s, id, d);
}
fm_svc_status fm_store_alert_open(fm_store *s, fm_alert_open_cb cb, void *ctx)
{
    return s->be->alert_open(s, cb, ctx);
}
fm_svc_status fm_store_alert_list_notified(fm_store *s, int64_t clinician_id, fm_alert_cb cb,
                                           void *ctx)
{
    return s->be->alert_list_notified(s, clinician_id, cb, ctx);
}
fm_svc_status fm_store_audit_add(fm_store *s, const fm_audit_entry *e)
{
    return s->be->audit_add(s, e);
}
fm_svc_status fm_store_audit_list(fm_store *s, int limit, fm_audit_cb cb, void *ctx)
{
    return s->be->audit_list(s, limit, cb, ctx);
}
fm_svc_status fm_store_upload_add(fm_store *s, const fm_upload *u)
{
    return s->be->upload_add(s, u);
}
fm_svc_status fm_store_upload_get(fm_store *s, const char *id, fm_upload *u)
{
    return s->be->upload_get(s, id, u);
}
fm_svc_status fm_store_upload_advance(fm_store *s, const char *id, int64_t from, int64_t to,
                                      int64_t t_ms)
{
    return s->be->upload_advance(s, id, from, to, t_ms);
}
fm_svc_status fm_store_upload_set_state(fm_store *s, const char *id, fm_upload_state st)
{
    return s->be->upload_set_state(s, id, st);
}
fm_svc_status fm_store_upload_set_incomplete(fm_store *s, const char *id, int incomplete)
{
    return s->be->upload_set_incomplete(s, id, incomplete);
}
fm_svc_status fm_store_upload_complete(fm_store *s, const char *id, const fm_recording *r)
{
    return s->be->upload_complete(s, id, r);
}
fm_svc_status fm_store_upload_delete(fm_store *s, const char *id)
{
    return s->be->upload_delete(s, id);
}
fm_svc_status fm_store_upload_open_list(fm_store *s, fm_upload_cb cb, void *ctx)
{
    return s->be->upload_open_list(s, cb, ctx);
}
fm_svc_status fm_store_upload_purge(fm_store *s, int64_t before_ms)
{
    return s->be->upload_purge(s, before_ms);
}
