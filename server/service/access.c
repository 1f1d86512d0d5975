/* fm_access: see access.h. */
#include "access.h"

fm_svc_status fm_access_patient(fm_store *s, const fm_principal *p, int64_t patient_id,
                                fm_access_kind kind)
{
    if (p->kind == FM_TOKEN_DEVICE)
        return kind == FM_ACCESS_INGEST && p->device_patient_id == patient_id ? FM_SVC_OK
                                                                              : FM_SVC_NOTFOUND;
    switch (p->user.role) {
    case FM_ROLE_PATIENT: return p->user.id == patient_id ? FM_SVC_OK : FM_SVC_NOTFOUND;
    case FM_ROLE_CLINICIAN: return fm_store_care_check(s, patient_id, p->user.id);
    case FM_ROLE_ADMIN: return kind == FM_ACCESS_DEMOGRAPHICS ? FM_SVC_OK : FM_SVC_NOTFOUND;
    default: return FM_SVC_NOTFOUND;
    }
}
