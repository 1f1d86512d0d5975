/* The contract between fm_store (store.c) and a storage backend (store_sqlite.c today; a libpq
 * backend later). A backend fills one fm_store_backend table; store.c dispatches every public
 * call through it. Only store*.c include this file. */
#ifndef FM_STORE_BACKEND_H
#define FM_STORE_BACKEND_H

#include "store.h"

typedef struct fm_store_backend {
    const char *name;
    void (*close)(fm_store *s);
    const char *(*errmsg)(fm_store *s);
    fm_svc_status (*user_add)(fm_store *, const fm_user *, const char *, int64_t *);
    fm_svc_status (*user_by_name)(fm_store *, const char *, fm_user *, char *, size_t);
    fm_svc_status (*user_by_id)(fm_store *, int64_t, fm_user *);
    fm_svc_status (*user_set_password)(fm_store *, int64_t, const char *);
    fm_svc_status (*user_set_disabled)(fm_store *, int64_t, int);
    fm_svc_status (*user_list)(fm_store *, fm_user_cb, void *);
    fm_svc_status (*patient_put)(fm_store *, const fm_patient *);
    fm_svc_status (*patient_get)(fm_store *, int64_t, fm_patient *);
    fm_svc_status (*care_link)(fm_store *, int64_t, int64_t);
    fm_svc_status (*care_check)(fm_store *, int64_t, int64_t);
    fm_svc_status (*patient_list)(fm_store *, int64_t, fm_patient_cb, void *);
    fm_svc_status (*care_team)(fm_store *, int64_t, fm_user_cb, void *);
    fm_svc_status (*token_add)(fm_store *, const uint8_t *, const fm_token_row *);
    fm_svc_status (*token_get)(fm_store *, const uint8_t *, int64_t, fm_token_row *);
    fm_svc_status (*token_revoke)(fm_store *, const uint8_t *);
    fm_svc_status (*token_revoke_user)(fm_store *, int64_t);
    fm_svc_status (*token_purge)(fm_store *, int64_t);
    fm_svc_status (*recording_add)(fm_store *, const fm_recording *);
    fm_svc_status (*recording_get)(fm_store *, const char *, fm_recording *);
    fm_svc_status (*recording_set_status)(fm_store *, const char *, fm_rec_status, double,
                                          const char *, const char *);
    fm_svc_status (*recording_set_file)(fm_store *, const char *, const char *, int64_t);
    fm_svc_status (*recording_list)(fm_store *, int64_t, fm_recording_cb, void *);
    fm_svc_status (*recording_unfinished)(fm_store *, fm_recording_cb, void *);
    fm_svc_status (*recording_receiving)(fm_store *, fm_recording_cb, void *);
    fm_svc_status (*samples_append)(fm_store *, const char *, const fm_sample_row *, size_t);
    fm_svc_status (*samples_read)(fm_store *, const char *, int64_t, int64_t, fm_sample_row *,
                                  size_t, size_t *);
    fm_svc_status (*reading_add)(fm_store *, fm_reading *);
    fm_svc_status (*reading_list)(fm_store *, const char *, fm_reading_cb, void *);
    fm_svc_status (*alert_add)(fm_store *, fm_alert *);
    fm_svc_status (*alert_get)(fm_store *, int64_t, fm_alert *);
    fm_svc_status (*alert_ack)(fm_store *, int64_t, int64_t, int64_t);
    fm_svc_status (*alert_list)(fm_store *, int64_t, fm_alert_cb, void *);
    fm_svc_status (*alert_update)(fm_store *, int64_t, const char *, const char *, double);
    fm_svc_status (*alert_max_id)(fm_store *, int64_t *);
    fm_svc_status (*upload_add)(fm_store *, const fm_upload *);
    fm_svc_status (*upload_get)(fm_store *, const char *, fm_upload *);
    fm_svc_status (*upload_advance)(fm_store *, const char *, int64_t, int64_t, int64_t);
    fm_svc_status (*upload_set_state)(fm_store *, const char *, fm_upload_state);
    fm_svc_status (*upload_set_incomplete)(fm_store *, const char *, int);
    fm_svc_status (*upload_complete)(fm_store *, const char *, const fm_recording *);
    fm_svc_status (*upload_delete)(fm_store *, const char *);
    fm_svc_status (*upload_open_list)(fm_store *, fm_upload_cb, void *);
    fm_svc_status (*upload_purge)(fm_store *, int64_t);
    fm_svc_status (*alert_delivery_put)(fm_store *, const fm_alert_delivery *);
    fm_svc_status (*alert_delivery_get)(fm_store *, int64_t, fm_alert_delivery *);
    fm_svc_status (*alert_open)(fm_store *, fm_alert_open_cb, void *);
    fm_svc_status (*alert_list_notified)(fm_store *, int64_t, fm_alert_cb, void *);
    fm_svc_status (*audit_add)(fm_store *, const fm_audit_entry *);
    fm_svc_status (*audit_list)(fm_store *, int, fm_audit_cb, void *);
} fm_store_backend;

struct fm_store {
    const fm_store_backend *be;
    void *impl; /* the backend's connection state */
};

/* Backends: open the store of a data directory and fill s->be / s->impl. */
fm_svc_status fm_store_sqlite_open(fm_store *s, const char *data_dir, char *err, size_t err_len);

#endif
