/* Internals shared by the live ingest files (ingest.c: the protocol and the loop side, stream
 * slots and commit rounds; ingest_worker.c: what an ingest job does on a worker, to a stream's
 * frames file and the store). Not an interface for anything else: see ingest.h. */
#ifndef FM_INGEST_INT_H
#define FM_INGEST_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "ingest_msg.h"
#include "server_internal.h"

enum { J_OPEN, J_SCAN, J_FLUSH, J_FINISH, J_EXPIRE };

/* Streams a sweep finishes at most (the rest wait for the next sweep). */
#define FM_INGEST_EXPIRE_MAX 64

typedef struct ingest_pss ingest_pss;
typedef struct stream_slot stream_slot;

typedef struct ingest_job {
    fm_job job;
    fm_server *srv;
    ingest_pss *owner;
    int kind;
    /* open */
    char token[FM_INGEST_TOKEN_MAX], patient[FM_NAME_MAX], resume[FM_REC_ID_MAX];
    int rate_hz;
    /* flush */
    unsigned char *buf;
    size_t len;
    uint32_t last_seq;
    uint32_t crc; /* of buf, for the group-commit log */
    off_t before; /* the stream file's length before this flush (cut back to it on failure) */
    int64_t t_arrive_us, t_done_us; /* stage timings (ingest_stages.h) */
    /* in/out */
    int fd;
    int close_fd_after; /* loop only: the connection closed during a flush: close fd after */
    char id[FM_REC_ID_MAX];
    int64_t patient_id;
    uint32_t next_seq;
    double gestation_weeks;
    int ok;
    char error[128];
    struct ingest_job *next_round; /* flush jobs waiting for the next commit round */
    stream_slot *slot; /* scan, flush, finish: the stream's slot, busy with this job */
    int expired;       /* finish: by the sweep, the device gone for stream_finish_s */
    char (*ids)[FM_REC_ID_MAX]; /* expire: the streams to finish (out) */
    size_t n_ids;
} ingest_job;

/* One commit round: the flushes of many streams, durable together. */
typedef struct round_job {
    fm_job job;
    fm_server *srv;
    size_t n;
    ingest_job *v[];
} round_job;

static inline void put_u32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ingest_worker.c: an ingest job (open, scan, flush, finish) on a worker (thread context: an
 * fm_store, NULL when the worker has none); and one commit round of many flushes. */
void ingest_job_run(fm_job *job, void *store);
void ingest_round_run(fm_job *job, void *store);

#endif
