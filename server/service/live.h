/* The clinicians' live feed WebSocket protocol ("fm-live", path /ws/live). See live.c for the
 * design and docs/api.md for the messages. */
#ifndef FM_LIVE_H
#define FM_LIVE_H

#include <libwebsockets.h>

#define FM_LIVE_PATH "/ws/live"

int fm_live_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t fm_live_pss_size(void);

#endif
