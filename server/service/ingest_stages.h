/* fm_stage: where the time of a live frame goes, stage by stage (arrival on the loop -> durable
 * -> the stream's engine job -> samples published -> written to a viewer's socket), as latency
 * histograms. For measuring the live path under load (bench/bench_alert_latency.c), not a
 * metric: off (one branch per call) unless the server runs with FM_STAGE_TIMES=FILE in its
 * environment; then the histograms are written to FILE when the server stops, and SIGUSR1
 * clears them (the bench sends it when its streams start, so the set-up does not count).
 * Any thread. */
#ifndef FM_INGEST_STAGES_H
#define FM_INGEST_STAGES_H

#include <stdint.h>

typedef enum fm_stage {
    FM_STAGE_FLUSH_WAIT,     /* oldest frame of a flush received -> its flush starts (worker) */
    FM_STAGE_FLUSH_RUN,      /* write + fdatasync of one flush (or a commit round) */
    FM_STAGE_FLUSH_BACK,     /* flush done on the worker -> answered on the loop */
    FM_STAGE_ACK,            /* oldest frame of a flush received -> its ack queued */
    FM_STAGE_PIPE_WAIT,      /* frames handed to the stream's pipe -> its job starts (worker) */
    FM_STAGE_PIPE_RUN,       /* one pipe job (every queued operation of one stream) */
    FM_STAGE_STORE_SAMPLES,  /* one store write of trace samples */
    FM_STAGE_ALERT_EVENT,    /* one alert event through the life cycle (store, audit, bus) */
    FM_STAGE_PUBLISHED,      /* frame received -> the samples it completed published */
    FM_STAGE_BUS_WAIT,       /* published -> dispatched to the viewers' queues (loop) */
    FM_STAGE_VIEWER_WAIT,    /* in a viewer's queue -> written to its socket */
    FM_STAGE_WRITTEN,        /* frame received -> its samples written to a viewer's socket */
    FM_STAGE_N
} fm_stage;

/* Monotonic microseconds. */
int64_t fm_stage_now_us(void);
/* 1 when FM_STAGE_TIMES is set (read once). */
int fm_stage_on(void);
/* Records one latency, from t0_us (fm_stage_now_us) to now. No-op when off or t0_us <= 0. */
void fm_stage_since(fm_stage s, int64_t t0_us);
void fm_stage_add(fm_stage s, int64_t us);
void fm_stage_reset(void);
/* Writes the table to the FM_STAGE_TIMES file (appends). */
void fm_stage_dump(const char *title);

#endif
