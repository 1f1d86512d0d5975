/* Status codes of the service layer (store, auth, config, workers, HTTP glue).
 *
 * The engine's fm_status (common.h) describes signal and file errors; the service needs a few
 * more outcomes that are not failures of the engine ("no such row", "already exists", "refused").
 * Every service function returns one of these and never prints or exits; the server and the CLI
 * turn them into HTTP status codes and messages. Not for the engine (dsp/ keeps fm_status). */
#ifndef FM_SVC_H
#define FM_SVC_H

#include <stdint.h>

typedef enum fm_svc_status {
    FM_SVC_OK = 0,
    FM_SVC_NOTFOUND, /* no such row / file */
    FM_SVC_EXISTS,   /* unique key already taken */
    FM_SVC_INVAL,    /* bad argument or input */
    FM_SVC_DENIED,   /* authenticated but not allowed, or bad credentials */
    FM_SVC_BUSY,     /* database locked past the busy timeout, or a queue is full */
    FM_SVC_IO,       /* disk or database error */
    FM_SVC_NOMEM,    /* out of memory */
    FM_SVC_LIMIT     /* a size or rate limit was hit */
} fm_svc_status;

const char *fm_svc_strerror(fm_svc_status s);

/* Wall clock in milliseconds since the epoch (timestamps stored in the database). */
int64_t fm_now_ms(void);

#endif
