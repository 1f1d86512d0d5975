/* fm_livepipe: the live trace of one stream (STYLE "The path of one sample"): durable PCM frames
 * -> fm_doppler -> samples appended to the store in batches and published on the bus at once
 * -> fm_falsesig (20 s look-ahead; re-marked samples stored again and sent as "samples_marked")
 * -> fm_ctg (re-analysed every 2 min of analysed time) and fm_alerts (every judged sample; every
 * analysis), 20 s behind the trace -> alert events through fm_alertsvc.
 *
 * Threads: the pipe belongs to the event loop (feed/movement/finish/stall are loop calls that
 * only queue work); the engine runs in jobs on a worker pool, at most one job per pipe at a time,
 * so a stream's frames are processed in order by one thread at a time and never on the loop.
 * The samples' store writes (a SQLite commit each) go to one writer job on another pool, in
 * order, so that a slow commit never holds an engine worker (and every stream behind it).
 * A pipe outlives its ingest connection (a device that reconnects resumes the same trace, no gap
 * and no duplicate); fm_livepipes is the loop's table of them, and its tick raises the
 * "stream stalled" technical alert when no frame arrived for stall_s.
 *
 * Not for uploaded recordings (analysis_job.c runs the same dsp objects on whole files). */
#ifndef FM_LIVEPIPE_H
#define FM_LIVEPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "alertsvc.h"
#include "bus.h"
#include "workq.h"

typedef struct fm_livepipes fm_livepipes;
typedef struct fm_livepipe fm_livepipe;

typedef struct fm_livepipes_config {
    fm_workq *q; /* the workers that run the engine (thread context: an fm_store) */
    fm_workq *store_q; /* where the trace samples are written to the store, off the engine's
                        * workers (thread context: an fm_store); NULL: by the engine's worker */
    fm_workq *events_q; /* where alert events go through the life cycle (a pool with little
                         * else queued: the alert waits there); NULL: the engine's worker */
    fm_bus *bus;
    fm_alertsvc *alerts; /* may be NULL: no alerting */
    const char *data_dir;
    int stall_s; /* no frame for this long: "stream stalled" (CLINICAL 5: 30 s) */
} fm_livepipes_config;

fm_livepipes *fm_livepipes_create(const fm_livepipes_config *c);
/* Loop thread, after the workers stopped and were drained. */
void fm_livepipes_destroy(fm_livepipes *t);
/* Loop: the pipe of a stream, or NULL. */
fm_livepipe *fm_livepipes_get(fm_livepipes *t, const char *recording_id);
/* Loop: a new pipe. replay_frames > 0: the stream was opened before this process started and
 * its first replay_frames frames are on disk: they are run through the engine first (stored,
 * not published, no alerts raised again). */
fm_livepipe *fm_livepipes_open(fm_livepipes *t, const char *recording_id, int64_t patient_id,
                               int rate_hz, double gestation_weeks, uint32_t replay_frames);
/* Loop, every second: stall detection. */
void fm_livepipes_tick(fm_livepipes *t, int64_t now_ms);
size_t fm_livepipes_count(const fm_livepipes *t);

/* Loop. Frames as in the ingest file (u32 seq, u32 n_bytes, s16le PCM)..., durable already;
 * takes ownership of buf. Frames below the pipe's next frame are skipped. t_arrive_us: when
 * they were received (fm_stage_now_us, for the stage timings; 0 = unknown). */
void fm_livepipe_feed(fm_livepipe *p, unsigned char *buf, size_t len, int64_t t_arrive_us);
/* Loop: an ingest connection (+1) or its end (-1). A pipe with no connection, stalled for an
 * hour, leaves memory; a later resume replays its frames from disk. */
void fm_livepipe_attach(fm_livepipe *p, int delta);
/* Loop: the mother felt a movement at t_s of stream time (NAN = now). */
void fm_livepipe_movement(fm_livepipe *p, double t_s);
/* Loop: the stream is closed: the engine is flushed, the last analysis published, the rules
 * finish; then the pipe frees itself (leaves the table). */
void fm_livepipe_finish(fm_livepipe *p);

#endif
