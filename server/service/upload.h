/* Resumable uploads outside a request: putting the part files back in line with the store at
 * start, and the periodic sweep ("upload incomplete" alerts, expiry). The routes themselves
 * are in upload.c too (declared in api_internal.h). Both calls block on the disk and the store:
 * workers or start-up only, never the event loop. */
#ifndef FM_UPLOAD_H
#define FM_UPLOAD_H

#include <stdint.h>

#include "api.h"

/* At start, before any request: every open upload's part file is cut back to its acknowledged
 * offset (what a crash may have left past it was never acknowledged); old finished rows go. */
void fm_uploads_recover(const char *data_dir, fm_store *s);
/* Open uploads without progress for upload_incomplete_s raise the technical alert
 * "upload_incomplete" (once; cleared by progress, cancel or expiry); after upload_expire_s they
 * are deleted (state "expired"). */
void fm_uploads_sweep(fm_api *api, fm_store *s, int64_t now_ms);

#endif
