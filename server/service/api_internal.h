/* Helpers shared by the API route files (api.c, api_recordings.c). Not a public interface. */
#ifndef FM_API_INTERNAL_H
#define FM_API_INTERNAL_H

#include <cjson/cJSON.h>

#include "access.h"
#include "api.h"

/* Sets a JSON response from a cJSON tree (consumed). */
void api_json(fm_http_resp *r, int status, cJSON *j);
/* Appends an audit entry for the request. */
void api_audit(fm_store *s, const fm_principal *p, const fm_http_req *req, const char *action,
               const char *object, int status);
/* Maps a store error to a 503/500 response. */
void api_store_error(fm_http_resp *r, fm_svc_status rc);
/* The answer to a list read: j (consumed) with 200, audited as action on object; or, when the
 * read failed (rc), the store's error, not audited. */
void api_list_reply(fm_store *s, const fm_principal *p, const fm_http_req *req,
                    fm_svc_status rc, cJSON *j, const char *action, const char *object,
                    fm_http_resp *resp);
/* A patient (user + patient row) as JSON; with_team adds the care team. */
cJSON *api_patient_json(fm_store *s, const fm_patient *pt, int with_team);

/* What may be uploaded (api_recordings.c): the kind of a file name (-1 when not accepted), its
 * extension, and the content check of the bytes in path. */
int api_upload_kind(const char *name);
const char *api_upload_kind_ext(int kind);
int api_upload_content_ok(const char *path, int kind);
/* The patient a recording is sent for (the device's, herself, or a clinician's ?patient=); on
 * refusal fills resp and returns -1. */
int api_upload_patient(fm_store *s, const fm_principal *p, const fm_http_req *req,
                       int64_t *patient_id, fm_http_resp *resp);
/* A recording row was committed: audit, queue its analysis, publish it. */
void api_recording_accepted(fm_api *api, fm_store *s, const fm_principal *p,
                            const fm_http_req *req, const fm_recording *r);
/* Resumable uploads (upload.c): POST /api/uploads, and /api/uploads/ID (POST, GET, DELETE). */
void api_uploads_open(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                      fm_http_resp *resp);
void api_uploads_id(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                    const char *id, fm_http_resp *resp);
void api_recordings_upload(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                           fm_http_resp *resp);
void api_recordings_get(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                        const char *id, fm_http_resp *resp);
void api_recordings_list(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                         const fm_patient *pt, fm_http_resp *resp);
cJSON *api_recording_json(fm_store *s, const fm_recording *r);
/* Loads recording id into *r when the principal may see it (clinical access); otherwise a 404
 * (audited as recording.denied) or a store error goes into resp and -1 is returned. */
int api_visible_recording(fm_store *s, const fm_principal *p, const fm_http_req *req,
                          const char *id, fm_recording *r, fm_http_resp *resp);
/* GET /api/recordings/ID/samples: a live stream's stored 4 Hz samples from ?from=. */
void api_recordings_samples(fm_api *api, fm_store *s, const fm_principal *p,
                            const fm_http_req *req, const char *id, fm_http_resp *resp);
void api_recordings_audio(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                          const char *id, fm_http_resp *resp);
void api_readings(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                  const char *id, fm_http_resp *resp);
void api_alerts_list(fm_store *s, const fm_principal *p, const fm_http_req *req,
                     const fm_patient *pt, fm_http_resp *resp);
/* GET /api/alerts: the open alerts delivered to the calling clinician, any patient. */
void api_alerts_mine(fm_store *s, const fm_principal *p, const fm_http_req *req,
                     fm_http_resp *resp);
void api_alert_ack(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                   const char *id, fm_http_resp *resp);
/* GET /api/worklist (api_worklist.c): a clinician's patients with their live state, newest
 * recordings, unread count and open alerts by priority. */
void api_worklist(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                  fm_http_resp *resp);

#endif
