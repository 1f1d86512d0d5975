/* Internals shared by the live pipeline files (livepipe.c: the operations queue, the engine
 * and the table of pipes; livepipe_out.c: where a pipe's results go). Not an interface for
 * anything else: see livepipe.h. */
#ifndef FM_LIVEPIPE_INT_H
#define FM_LIVEPIPE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/ctg.h"
#include "fetalmon/doppler.h"
#include "fetalmon/falsesig.h"
#include "livepipe.h"
#include "store.h"

#define FM_LIVE_STORE_BATCH 40    /* samples (10 s) per store transaction */
#define FM_LIVE_PUBLISH_MAX 64    /* samples per "samples" message */
#define FM_LIVE_FRAME_MAX 32768   /* PCM bytes per ingest frame */

/* An operation queued for the pipe's next job (livepipe.c). */
typedef struct op op;

struct fm_livepipes {
    fm_livepipes_config c;
    fm_livepipe *head;
    size_t n;
    fm_falsesig_model *fs_model; /* the no-MHR detector's trees, shared by every stream */
    fm_serialq *writer; /* the samples' store writes, in order (NULL: on the engine's worker) */
    fm_serialq *events; /* alert events to fm_alertsvc, in order (NULL: on the engine's worker) */
};

struct fm_livepipe {
    fm_job job; /* first: the job in flight is the pipe itself */
    fm_livepipes *t;
    fm_livepipe *next;
    char id[FM_REC_ID_MAX];
    int64_t patient_id;
    int rate_hz;
    /* loop side */
    op *head, *tail; /* waiting */
    op *running;     /* taken by the job in flight */
    int busy, finishing, finished, stalled;
    int attached; /* ingest connections on this stream */
    int64_t last_data_ms;
    /* worker side */
    fm_store *store;
    fm_doppler *dop;
    fm_ctg *ctg;
    fm_alerts *al;
    fm_falsesig *fs;     /* CLINICAL 2: the trace-level false-signal detector (no MHR channel) */
    fm_sample_row *held; /* samples published but not yet judged: a ring, k order */
    size_t held_cap, held_n, held_head;
    int64_t k_judged;    /* samples given to fm_ctg / fm_alerts (k_judged <= k) */
    int64_t k_live0;     /* first sample sent on the feed (after a replay) */
    int64_t n_marked;    /* samples the detector re-marked */
    int quiet;           /* replaying frames already seen before a restart */
    int analysis_failed; /* the technical alert is on */
    int64_t k;           /* samples emitted */
    double next_analysis_s;
    uint32_t next_seq; /* next frame the engine takes */
    uint32_t cur_seq;
    int64_t cur_t0_us; /* when the frames being pushed arrived (stage timings) */
    fm_sample_row rows[FM_LIVE_STORE_BATCH];
    size_t n_rows;
    fm_sample_row pub[FM_LIVE_PUBLISH_MAX];
    size_t n_pub;
    fm_sample_row marks[FM_LIVE_PUBLISH_MAX]; /* corrections not yet published, one run */
    size_t n_marks;
    float pcm[FM_LIVE_FRAME_MAX / 2];
};

/* livepipe_out.c (worker side, inside the pipe's job, except where said) */
/* The writer (fm_serialq, loop: created by fm_livepipes_create): a batch to the store. */
void livepipe_writer_item(void *user, fm_serial_item *it, void *ctx);
/* The events queue (fm_serialq): an alert event to the life cycle, or a message to publish. */
void livepipe_event_item(void *user, fm_serial_item *it, void *ctx);
/* The engine's alert sink (fm_alerts_config.sink, user = the pipe). */
void livepipe_on_alert(void *user, const fm_alert_event *ev);
void livepipe_publish(fm_livepipe *p, const char *json);
void livepipe_publish_after_events(fm_livepipe *p, const char *json);
void livepipe_store_rows(fm_livepipe *p);
void livepipe_publish_samples(fm_livepipe *p);
void livepipe_publish_marks(fm_livepipe *p);

#endif
