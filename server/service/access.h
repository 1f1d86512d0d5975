/* fm_access: who may see which patient's data. The single place for these decisions, so
 * every route asks the same question the same way:
 *   patient   -> only herself;
 *   clinician -> the patients whose care team she is on;
 *   admin     -> patient demographics (to manage accounts and care teams), never clinical data;
 *   device    -> nothing to read; may ingest for its one patient only.
 * Not for authentication (auth.c). */
#ifndef FM_ACCESS_H
#define FM_ACCESS_H

#include "auth.h"
#include "store.h"

typedef enum fm_access_kind {
    FM_ACCESS_DEMOGRAPHICS, /* name, hospital id, due date, care team */
    FM_ACCESS_CLINICAL,     /* recordings, traces, analyses, readings, alerts */
    FM_ACCESS_INGEST        /* adding a recording or stream */
} fm_access_kind;

/* FM_SVC_OK when allowed, FM_SVC_NOTFOUND when not (callers answer 404: the patient's
 * existence is not revealed), or a store error. */
fm_svc_status fm_access_patient(fm_store *s, const fm_principal *p, int64_t patient_id,
                                fm_access_kind kind);

#endif
