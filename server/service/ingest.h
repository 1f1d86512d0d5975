/* The live ingest WebSocket protocol ("fm-ingest", path /ws/ingest). See ingest.c for the
 * design and docs/api.md for the messages. */
#ifndef FM_INGEST_H
#define FM_INGEST_H

#include <libwebsockets.h>

#include "svc.h"

#define FM_INGEST_PATH "/ws/ingest"

int fm_ingest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
size_t fm_ingest_pss_size(void);

/* The commit rounds of live-stream frames (group commit, ingest_log.h); loop thread. */
struct fm_server;
fm_svc_status fm_ingest_group_create(struct fm_server *srv);
void fm_ingest_group_destroy(struct fm_server *srv);
/* Flushes waiting for the next round (a metric). */
size_t fm_ingest_waiting(const struct fm_server *srv);

#endif
