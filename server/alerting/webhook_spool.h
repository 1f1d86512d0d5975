/* Private to fetalmon_alerting: the webhook worker's durable queue (webhook_spool.c), one file
 * per pending delivery in a directory, so that deliveries survive a restart or a crash.
 * Not a general queue; webhook.c decides when files come and go. */
#ifndef FM_WEBHOOK_SPOOL_H
#define FM_WEBHOOK_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_wh_spool fm_wh_spool;

/* Creates dir (and dir/failed) when missing; removes half-written files. NULL on error. */
fm_wh_spool *fm_wh_spool_open(const char *dir);
void fm_wh_spool_close(fm_wh_spool *sp);
/* n new delivery ids, first in *first: never reused, also across restarts (a high-water mark is
 * fsync'd every 1024 ids). Not thread-safe: the caller serialises. 0 or -1. */
int fm_wh_spool_ids(fm_wh_spool *sp, size_t n, uint64_t *first);
/* Writes the delivery durably (temporary file, fdatasync, rename, directory fsync). 0 or -1. */
int fm_wh_spool_write(fm_wh_spool *sp, uint64_t id, const char *url, const char *body, size_t len);
/* Reads a delivery: url (may be NULL) and a malloc'd, NUL-ended body. 0 or -1. */
int fm_wh_spool_read(fm_wh_spool *sp, uint64_t id, char *url, size_t url_cap, char **body,
                     size_t *len);
/* The first id this instance hands out: deliveries below it were spooled before it opened. */
uint64_t fm_wh_spool_first_id(const fm_wh_spool *sp);
/* Delivered: the file goes. */
void fm_wh_spool_remove(fm_wh_spool *sp, uint64_t id);
/* Failed for good: the file moves to failed/ (kept for an operator). */
void fm_wh_spool_dead(fm_wh_spool *sp, uint64_t id);
/* Every pending delivery, by increasing id. */
void fm_wh_spool_scan(fm_wh_spool *sp, void (*cb)(void *user, uint64_t id, const char *url),
                      void *user);

#endif
