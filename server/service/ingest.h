/* The live ingest WebSocket protocol ("fm-ingest", path /ws/ingest). See ingest.c for the
 * design and docs/api.md for the messages. */
#ifndef FM_INGEST_H
#define FM_INGEST_H

#include <libwebsockets.h>

#define FM_INGEST_PATH "/ws/ingest"

int fm_ingest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
size_t fm_ingest_pss_size(void);

#endif
