/* fm_webhook: delivery of alert JSON to external systems (a hospital's paging gateway) by HTTP
 * POST, from a worker thread with a bounded queue, so the event loop never waits on a network.
 *
 * Each posted body goes to every configured URL, each delivery with its own retries: a timeout
 * per attempt, exponential backoff between attempts (initial, doubling, capped), a bounded number
 * of attempts. Nothing is dropped silently: a delivery that finally fails, a post refused because
 * the queue is full, and deliveries still queued at shutdown are all reported.
 *
 * Request: POST <path> HTTP/1.1, Content-Type: application/json, and
 *   X-Fetalmon-Delivery:  <delivery id> (the same on every retry: receivers deduplicate on it)
 *   X-Fetalmon-Timestamp: <unix seconds when this attempt was signed>
 *   X-Fetalmon-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 * A receiver recomputes the HMAC, compares in constant time, and rejects timestamps older than
 * a few minutes (replay). 2xx is success; anything else, or no answer, is retried.
 *
 * Only http:// is spoken (plain sockets, HTTP/1.1, Connection: close). https:// URLs are refused
 * at create time; the next step is TLS (OpenSSL/mbedTLS, as libwebsockets is built with) in
 * http_post.c, the only file that touches the socket.
 * Not for the alert life cycle (alerting.h) or browser delivery (the server's WebSockets). */
#ifndef FM_WEBHOOK_H
#define FM_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"

#define FM_WEBHOOK_SIG_HEX 64

/* The outcome of one delivery (called on the worker thread; must be thread-safe and quick). */
typedef struct fm_webhook_report {
    uint64_t delivery_id;
    const char *url;
    int ok; /* 1 delivered (2xx), 0 failed for good */
    int attempts;
    int http_status;   /* last status seen, 0 when none */
    const char *error; /* why it failed ("connect: Connection refused", "timeout", "shutdown") */
} fm_webhook_report;

typedef struct fm_webhook_config {
    const char *const *urls; /* http://host[:port]/path */
    size_t n_urls;
    const unsigned char *secret; /* HMAC key (>= 16 bytes) */
    size_t secret_len;
    int timeout_ms;         /* per attempt: connect + send + status line (5000) */
    int max_attempts;       /* then reported as failed (12); 0 = retry until delivered */
    int backoff_initial_ms; /* first retry after this (500), doubling ... */
    int backoff_max_ms;     /* ... up to this (60000) */
    size_t queue_max;       /* deliveries held in memory (1024); beyond, a post is refused,
                               or with a spool stays on disk until there is room */
    /* Durable queue (NULL = memory only): every delivery is written to this directory (one
     * file, fsync'd) before fm_webhook_post returns, deleted once delivered; at create the
     * deliveries found there are retried, under their original delivery ids (ids are never
     * reused: a high-water mark is kept in the directory). A delivery that fails for good is
     * moved to spool_dir/failed/ (dead letters, for an operator), never deleted. */
    const char *spool_dir;
    void (*report)(void *user, const fm_webhook_report *r); /* may be NULL */
    void *user;
} fm_webhook_config;

void fm_webhook_config_default(fm_webhook_config *c);

typedef struct fm_webhook fm_webhook;

/* Starts the worker. NULL on bad config (no URL, an unsupported scheme, short secret). */
fm_webhook *fm_webhook_create(const fm_webhook_config *cfg);
/* Stops the worker (an attempt in flight finishes or times out first); what is still queued is
 * reported as failed ("shutdown"; with a spool it stays there and is retried at the next
 * create: "shutdown (spooled)"). */
void fm_webhook_destroy(fm_webhook *w);

/* Queues json for every URL; never blocks on the network (with a spool it writes and fsyncs
 * one file per URL). *delivery_id (may be NULL) gets the id of the first URL's delivery (the
 * others follow in sequence). FM_ERANGE when the queue has no room for all of them and there is
 * no spool (nothing queued: the caller logs the failure), FM_EIO when the spool cannot be
 * written, FM_ENOMEM. */
fm_status fm_webhook_post(fm_webhook *w, const char *json, uint64_t *delivery_id);

typedef struct fm_webhook_stats {
    size_t queued; /* waiting or in flight (in memory) */
    uint64_t delivered, failed, refused, attempts;
    uint64_t restored; /* deliveries found in the spool at create */
    uint64_t overflow; /* posts kept on disk only because the memory queue was full */
} fm_webhook_stats;
void fm_webhook_stats_get(fm_webhook *w, fm_webhook_stats *s);

/* The signature header value's hex part for (timestamp, body). */
void fm_webhook_sign(const unsigned char *secret, size_t secret_len, const char *timestamp,
                     const char *body, size_t body_len, char hex[FM_WEBHOOK_SIG_HEX + 1]);
/* 1 when sig_header ("v1=<hex>") is the signature of (timestamp, body), in constant time. */
int fm_webhook_verify(const unsigned char *secret, size_t secret_len, const char *timestamp,
                      const char *body, size_t body_len, const char *sig_header);

#endif
