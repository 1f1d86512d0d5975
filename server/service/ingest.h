/* The live ingest WebSocket protocol ("fm-ingest", path /ws/ingest). See ingest.c for the
 * design and docs/api.md for the messages. */
#ifndef FM_INGEST_H
#define FM_INGEST_H

#include <libwebsockets.h>
#include <stdint.h>

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
/* Loop, every second: at most every minute, a live stream without a connection whose last
 * frame is older than stream_finish_s is finished by the server as its device would (the WAV,
 * the final analysis; audited as stream.finish_idle): a device that never comes back (battery,
 * lost phone) and a close that failed (storage) still give a recording a clinician can read. A
 * later resume of it answers no_stream: the device opens a new stream for what it still has. */
void fm_ingest_sweep(struct fm_server *srv, int64_t now_ms);

#endif
