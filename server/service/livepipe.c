/* fm_livepipe: see livepipe.h. Loop side: a queue of operations per pipe (frames, movement,
 * stall, finish) and at most one job in flight that takes the whole queue. Worker side: the
 * engine objects, touched only inside that job. Where the results go (store, bus, alert life
 * cycle) is livepipe_out.c. Not for uploads or the ingest protocol. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctg_json.h"
#include "ingest_stages.h"
#include "jsonw.h"
#include "livepipe_int.h"

#define FM_LIVE_ANALYSIS_EVERY_S 120.0 /* issue 5: the analysis re-runs every 2 min */
#define FM_LIVE_WRITER_MAX_BATCHES 10000 /* store batches waiting (10 s of samples each) */
#define FM_LIVE_EVENTS_MAX 10000         /* alert events waiting for the life cycle */
#define FM_LIVE_HZ 4.0
#define FM_PCM_HEADER 16
#define FM_LIVE_EVICT_S 3600 /* a stream with no device for this long leaves memory (its frames
                              * stay on disk: a resume replays them) */

enum { OP_REPLAY, OP_FRAMES, OP_MOVE, OP_STALL, OP_FINISH, OP_EVICT };

struct op {
    int kind;
    unsigned char *buf;
    size_t len;
    double t_s;
    int on;
    uint32_t upto;
    int64_t t_arrive_us, t_fed_us; /* stage timings (ingest_stages.h) */
    struct op *next;
};

/* ---- worker side ---- */

static void num_or_null(char *buf, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(buf, cap, "%.2f", v);
    else
        snprintf(buf, cap, "null");
}

/* The analysis of everything so far: stored as analyses/ID.live.json, a summary published,
 * the analysis-level rules updated. final: the end of the stream (the rules finish). */
static void analyse(fm_livepipe *p, int final)
{
    const fm_ctg_result *r = NULL;
    fm_status rc = p->k_judged ? fm_ctg_get_result(p->ctg, &r) : FM_EEMPTY;
    double t_s = (double)p->k_judged / FM_LIVE_HZ; /* the analysis' clock: judged samples */
    if (rc != FM_OK && rc != FM_EEMPTY) {
        if (!p->analysis_failed) /* CLINICAL 5: the rules are blind: say so */
            fm_alerts_technical(p->al, FM_ALERT_ANALYSIS_FAILED, t_s, 1, fm_strerror(rc));
        p->analysis_failed = 1;
        r = NULL;
    } else if (p->analysis_failed) {
        fm_alerts_technical(p->al, FM_ALERT_ANALYSIS_FAILED, t_s, 0, NULL);
        p->analysis_failed = 0;
    }
    if (final)
        fm_alerts_finish(p->al, r);
    else if (r)
        fm_alerts_update(p->al, r);
    if (!r || p->quiet)
        return;
    const char *data = p->t->c.data_dir;
    char tmp[1200], dst[1200];
    snprintf(tmp, sizeof tmp, "%s/analyses/%s.live.json.tmp", data, p->id);
    snprintf(dst, sizeof dst, "%s/analyses/%s.live.json", data, p->id);
    FILE *f = fopen(tmp, "w");
    if (f) {
        jsonw w;
        jw_begin(&w, f);
        jw_str(&w, "recording", p->id);
        jw_num(&w, "t_s", t_s, 2);
        jw_num(&w, "false_signal_marked", (double)p->n_marked, 0);
        jw_num(&w, "window_start_s", r->t0_s, 2); /* the arrays below start here */
        fm_ctg_write_json(r, &w);
        jw_end(&w);
        if (fclose(f) == 0)
            rename(tmp, dst); /* derived data: recomputable from the frames, no fsync */
        else
            remove(tmp);
    }
    char basal[32], stv[32], ltv[32], msg[1024];
    num_or_null(basal, sizeof basal, r->basal_bpm);
    num_or_null(stv, sizeof stv, r->stv_ms);
    num_or_null(ltv, sizeof ltv, r->ltv_ms);
    snprintf(msg, sizeof msg,
             "{\"type\":\"analysis\",\"recording\":\"%s\",\"final\":%s,\"t_s\":%.2f,"
             "\"basal_bpm\":%s,\"stv_ms\":%s,\"ltv_ms\":%s,\"lost_percent\":%.1f,"
             "\"accelerations\":%zu,\"decelerations\":%zu,\"figo\":\"%s\",\"nst\":\"%s\","
             "\"oxford\":\"%s\",\"false_signal\":{\"lookahead_s\":%.2f,\"marked\":%lld}}",
             p->id, final ? "true" : "false", t_s, basal, stv, ltv, r->lost_percent, r->n_acc,
             r->n_dec, fm_ctg_figo_name(r->figo), fm_ctg_nst_name(r->nst),
             fm_ctg_oxford_name(r->oxford.status), fm_falsesig_lookahead(p->fs) / FM_LIVE_HZ,
             (long long)p->n_marked);
    livepipe_publish_after_events(p, msg);
}

/* Samples first, then the corrections of older samples: a viewer never gets a correction of a
 * sample it has not been sent. */
static void publish_pending(fm_livepipe *p)
{
    livepipe_publish_samples(p);
    livepipe_publish_marks(p);
}

static void add_row(fm_livepipe *p, const fm_sample_row *row)
{
    p->rows[p->n_rows++] = *row;
    if (p->n_rows == FM_LIVE_STORE_BATCH)
        livepipe_store_rows(p);
}

/* A judged sample (v = the detector's verdict, NULL when the detector could not judge it): a
 * re-marked OK sample is stored again (the store replaces by k) and announced; then the sample
 * goes, with its final state, to the analysis and the alert rules, once, in order. */
static void judged_sample(fm_livepipe *p, fm_sample_row row, const fm_falsesig_sample *v)
{
    if (v && row.state == FM_STATE_OK &&
        (v->state == FM_STATE_MATERNAL || v->state == FM_STATE_DOUBTFUL)) {
        row.state = (int)v->state; /* CLINICAL 2: flagged, never used for a reassuring verdict */
        p->n_marked++;
        add_row(p, &row);
        if (row.k >= p->k_live0) { /* the feed only corrects what it sent */
            if (p->n_marks && (p->n_marks == FM_LIVE_PUBLISH_MAX ||
                               p->marks[p->n_marks - 1].k + 1 != row.k))
                livepipe_publish_marks(p);
            p->marks[p->n_marks++] = row;
        }
    }
    uint8_t st = (uint8_t)row.state;
    float fhr_bpm = row.fhr_bpm;
    fm_ctg_update(p->ctg, &fhr_bpm, &st, 1);
    fm_alerts_push(p->al, &fhr_bpm, &st, 1);
    p->k_judged++;
    if ((double)p->k_judged / FM_LIVE_HZ >= p->next_analysis_s) {
        p->next_analysis_s += FM_LIVE_ANALYSIS_EVERY_S;
        analyse(p, 0);
    }
}

static fm_sample_row held_take(fm_livepipe *p)
{
    fm_sample_row row = p->held[p->held_head];
    p->held_head = (p->held_head + 1) % p->held_cap;
    p->held_n--;
    return row;
}

/* Every verdict the detector has finished, matched in order with the held samples. */
static void drain_verdicts(fm_livepipe *p)
{
    fm_falsesig_sample v;
    while (p->held_n && fm_falsesig_pop(p->fs, &v) == FM_OK) {
        fm_sample_row row = held_take(p);
        judged_sample(p, row, &v);
    }
}

/* The detector cannot judge (it refused a sample): what it holds passes unjudged, and it starts
 * afresh, so that verdicts and samples stay matched. */
static void release_unjudged(fm_livepipe *p)
{
    while (p->held_n) {
        fm_sample_row row = held_take(p);
        judged_sample(p, row, NULL);
    }
    fm_falsesig_reset(p->fs);
}

/* The seam of the false-signal detector (fetalmon/falsesig.h, CLINICAL 2): every sample from the
 * Doppler engine passes here, once, in order. Design (docs/api.md "Live trace"):
 * - it is stored and published at once, as computed (the clinician sees the trace within 1 s);
 * - it is held until the detector's verdict, final fm_falsesig_lookahead() samples (20 s) later;
 *   an OK sample the detector flags is then re-marked MATERNAL/DOUBTFUL (as the batch path's
 *   fm_falsesig_mark), stored again and announced by a "samples_marked" message;
 * - only then does it reach fm_ctg and fm_alerts, so the analysis and the alert rules never use
 *   a sample the detector flags. Their clock therefore runs 20 s behind the stream (sample-level
 *   alerts come 20 s after the completing sample; docs/alerts.md); the end of the stream
 *   flushes the detector. Home streams have no maternal channel: the no-MHR model. */
static void mark_sample(fm_livepipe *p, const fm_fhr_sample *s)
{
    fm_sample_row row = {.k = p->k, .fhr_bpm = s->fhr_bpm, .quality = s->quality,
                         .state = (int)s->state};
    add_row(p, &row);
    p->pub[p->n_pub++] = row;
    if (p->n_pub == FM_LIVE_PUBLISH_MAX)
        livepipe_publish_samples(p);
    p->k++;
    if (p->held_n == p->held_cap) /* cannot happen: the ring holds the look-ahead and more */
        release_unjudged(p);
    p->held[(p->held_head + p->held_n) % p->held_cap] = row;
    p->held_n++;
    if (fm_falsesig_push(p->fs, s->fhr_bpm, NAN) != FM_OK) {
        release_unjudged(p);
        return;
    }
    drain_verdicts(p);
}

static void on_sample(void *user, const fm_fhr_sample *s)
{
    mark_sample(user, s);
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void push_frame(fm_livepipe *p, uint32_t seq, const unsigned char *pcm, size_t n_bytes)
{
    if (seq != p->next_seq || n_bytes > FM_LIVE_FRAME_MAX)
        return; /* already seen (a resent frame), or not ours */
    size_t n = n_bytes / 2;
    for (size_t i = 0; i < n; i++)
        p->pcm[i] = (float)(int16_t)(pcm[2 * i] | pcm[2 * i + 1] << 8) / 32768.0f;
    p->cur_seq = seq;
    fm_doppler_push(p->dop, p->pcm, n);
    p->next_seq++;
    publish_pending(p); /* what this frame completed, at once (issue 5: within 1 s) */
}

static void push_frames(fm_livepipe *p, const unsigned char *b, size_t len)
{
    size_t off = 0;
    while (off + 8 <= len) {
        uint32_t seq = get_u32(b + off), n = get_u32(b + off + 4);
        if (off + 8 + n > len)
            break;
        push_frame(p, seq, b + off + 8, n);
        off += 8 + n;
    }
}

/* After a restart: the frames already on disk, through the engine, quietly. */
static void replay(fm_livepipe *p, uint32_t upto)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", p->t->c.data_dir, p->id);
    FILE *f = fopen(path, "rb");
    unsigned char h[8];
    unsigned char *buf = malloc(FM_LIVE_FRAME_MAX);
    p->quiet = 1;
    if (f && buf && fseek(f, FM_PCM_HEADER, SEEK_SET) == 0) {
        while (p->next_seq < upto && fread(h, 1, 8, f) == 8) {
            uint32_t n = get_u32(h + 4);
            if (n > FM_LIVE_FRAME_MAX || fread(buf, 1, n, f) != n)
                break;
            push_frame(p, get_u32(h), buf, n);
        }
    }
    p->quiet = 0;
    p->n_pub = 0;
    p->n_marks = 0;
    p->k_live0 = p->k; /* samples before this were not sent: their corrections are not either */
    livepipe_store_rows(p);
    free(buf);
    if (f)
        fclose(f);
}

static void run_op(fm_livepipe *p, op *o)
{
    double t_now = (double)p->k / FM_LIVE_HZ;
    switch (o->kind) {
    case OP_REPLAY: replay(p, o->upto); break;
    case OP_FRAMES:
        p->cur_t0_us = o->t_arrive_us;
        push_frames(p, o->buf, o->len);
        p->cur_t0_us = 0;
        break;
    case OP_MOVE: {
        double t = isfinite(o->t_s) ? o->t_s : t_now;
        fm_ctg_add_movement(p->ctg, t);
        char msg[160];
        snprintf(msg, sizeof msg, "{\"type\":\"movement\",\"recording\":\"%s\",\"t_s\":%.2f}",
                 p->id, t);
        livepipe_publish(p, msg);
        break;
    }
    case OP_STALL:
        fm_alerts_technical(p->al, FM_ALERT_STREAM_STALLED, t_now, o->on,
                            o->on ? "no data from the device" : NULL);
        livepipe_store_rows(p); /* a quiet stream: what we have goes to the store now */
        break;
    case OP_EVICT: livepipe_store_rows(p); break;
    case OP_FINISH:
        fm_doppler_flush(p->dop);
        livepipe_publish_samples(p);
        if (fm_falsesig_flush(p->fs) == FM_OK)
            drain_verdicts(p);
        if (p->held_n)
            release_unjudged(p);
        livepipe_publish_marks(p);
        livepipe_store_rows(p);
        analyse(p, 1);
        break;
    }
}

static void job_run(fm_job *job, void *ctx)
{
    fm_livepipe *p = (fm_livepipe *)job;
    int64_t t0 = fm_stage_on() ? fm_stage_now_us() : 0;
    p->store = ctx;
    for (op *o = p->running; o; o = o->next) {
        fm_stage_since(FM_STAGE_PIPE_WAIT, o->t_fed_us);
        run_op(p, o);
    }
    p->store = NULL;
    fm_stage_since(FM_STAGE_PIPE_RUN, t0);
}

static void free_ops(op *o)
{
    while (o) {
        op *n = o->next;
        free(o->buf);
        free(o);
        o = n;
    }
}

static void pipe_free(fm_livepipe *p)
{
    free_ops(p->head);
    free_ops(p->running);
    fm_doppler_destroy(p->dop);
    fm_ctg_destroy(p->ctg);
    fm_alerts_destroy(p->al);
    fm_falsesig_destroy(p->fs);
    free(p->held);
    free(p);
}

static void unlink_pipe(fm_livepipe *p)
{
    fm_livepipes *t = p->t;
    for (fm_livepipe **pp = &t->head; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            t->n--;
            return;
        }
    }
}

static void kick(fm_livepipe *p);

static void job_done(fm_job *job)
{
    fm_livepipe *p = (fm_livepipe *)job;
    int was_finish = 0;
    for (op *o = p->running; o; o = o->next)
        was_finish |= o->kind == OP_FINISH || o->kind == OP_EVICT;
    free_ops(p->running);
    p->running = NULL;
    p->busy = 0;
    if (was_finish) {
        unlink_pipe(p);
        pipe_free(p);
        return;
    }
    kick(p);
}

/* Loop: hands the waiting operations to a job when none is in flight. */
static void kick(fm_livepipe *p)
{
    if (p->busy || !p->head)
        return;
    p->running = p->head;
    p->head = p->tail = NULL;
    p->busy = 1;
    memset(&p->job, 0, sizeof p->job);
    p->job.run = job_run;
    p->job.done = job_done;
    if (fm_workq_submit(p->t->c.q, &p->job) != FM_SVC_OK) {
        /* the pool is stopping or saturated: keep the operations for the next kick */
        p->head = p->running;
        for (p->tail = p->head; p->tail && p->tail->next; p->tail = p->tail->next) {
        }
        p->running = NULL;
        p->busy = 0;
    }
}

static void enqueue(fm_livepipe *p, op *o)
{
    o->t_fed_us = fm_stage_on() ? fm_stage_now_us() : 0;
    if (p->tail)
        p->tail->next = o;
    else
        p->head = o;
    p->tail = o;
    kick(p);
}

/* ---- loop side ---- */

fm_livepipes *fm_livepipes_create(const fm_livepipes_config *c)
{
    fm_livepipes *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->c = *c;
    t->fs_model = fm_falsesig_model_create(0); /* home streams: no maternal channel */
    if (c->store_q)
        t->writer =
            fm_serialq_create(c->store_q, livepipe_writer_item, t, FM_LIVE_WRITER_MAX_BATCHES);
    if (c->events_q)
        t->events =
            fm_serialq_create(c->events_q, livepipe_event_item, t, FM_LIVE_EVENTS_MAX);
    if (!t->fs_model || (c->store_q && !t->writer) || (c->events_q && !t->events)) {
        fm_serialq_destroy(t->writer);
        fm_serialq_destroy(t->events);
        fm_falsesig_model_destroy(t->fs_model);
        free(t);
        return NULL;
    }
    return t;
}

void fm_livepipes_destroy(fm_livepipes *t)
{
    if (!t)
        return;
    while (t->head) {
        fm_livepipe *p = t->head;
        t->head = p->next;
        pipe_free(p);
    }
    fm_falsesig_model_destroy(t->fs_model); /* after every pipe that reads it */
    fm_serialq_destroy(t->writer); /* not written: recomputed by a resume's replay */
    fm_serialq_destroy(t->events); /* to the life cycle now (it outlives the pipes) */
    free(t);
}

fm_livepipe *fm_livepipes_get(fm_livepipes *t, const char *id)
{
    for (fm_livepipe *p = t->head; p; p = p->next)
        if (!strcmp(p->id, id) && !p->finishing)
            return p;
    return NULL;
}

size_t fm_livepipes_count(const fm_livepipes *t)
{
    return t->n;
}

fm_livepipe *fm_livepipes_open(fm_livepipes *t, const char *recording_id, int64_t patient_id,
                               int rate_hz, double gestation_weeks, uint32_t replay_frames)
{
    fm_livepipe *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->t = t;
    snprintf(p->id, sizeof p->id, "%s", recording_id);
    p->patient_id = patient_id;
    p->rate_hz = rate_hz;
    p->next_analysis_s = FM_LIVE_ANALYSIS_EVERY_S;
    p->last_data_ms = fm_now_ms();
    fm_alerts_config ac;
    fm_alerts_config_default(&ac);
    ac.gestation_weeks = gestation_weeks;
    ac.sink = livepipe_on_alert;
    ac.sink_user = p;
    p->dop = fm_doppler_create(rate_hz, NULL, on_sample, p);
    p->ctg = fm_ctg_create(NULL);
    /* a stream can stay open for hours: its analysis keeps the last 90 min (fetalmon/ctg.h);
     * the final analysis reads the whole recording from disk (analysis_job.c) */
    if (p->ctg && fm_ctg_set_live_window(p->ctg, FM_CTG_LIVE_KEEP_S, FM_CTG_LIVE_MAX_S) != FM_OK) {
        fm_ctg_destroy(p->ctg);
        p->ctg = NULL;
    }
    p->al = fm_alerts_create(&ac);
    p->fs = fm_falsesig_create_shared(t->fs_model);
    if (p->fs) {
        p->held_cap = fm_falsesig_lookahead(p->fs) + 16;
        p->held = malloc(p->held_cap * sizeof *p->held);
    }
    if (!p->dop || !p->ctg || !p->al || !p->fs || !p->held) {
        pipe_free(p);
        return NULL;
    }
    p->next = t->head;
    t->head = p;
    t->n++;
    if (replay_frames) {
        op *o = calloc(1, sizeof *o);
        if (o) {
            o->kind = OP_REPLAY;
            o->upto = replay_frames;
            enqueue(p, o);
        }
    }
    return p;
}

void fm_livepipes_tick(fm_livepipes *t, int64_t now_ms)
{
    for (fm_livepipe *p = t->head; p; p = p->next) {
        if (!p->finishing && p->stalled && !p->attached &&
            now_ms - p->last_data_ms >= (int64_t)FM_LIVE_EVICT_S * 1000) {
            op *o = calloc(1, sizeof *o);
            if (o) {
                p->finishing = 1; /* not found any more: a resume makes a new pipe */
                o->kind = OP_EVICT;
                enqueue(p, o);
            }
            continue;
        }
        if (p->finishing || p->stalled || now_ms - p->last_data_ms < (int64_t)t->c.stall_s * 1000)
            continue;
        op *o = calloc(1, sizeof *o);
        if (!o)
            continue;
        p->stalled = 1;
        o->kind = OP_STALL;
        o->on = 1;
        enqueue(p, o);
    }
}

void fm_livepipe_feed(fm_livepipe *p, unsigned char *buf, size_t len, int64_t t_arrive_us)
{
    op *o = p->finishing ? NULL : calloc(1, sizeof *o);
    if (!o) {
        free(buf);
        return;
    }
    p->last_data_ms = fm_now_ms();
    if (p->stalled) {
        op *s = calloc(1, sizeof *s);
        if (s) {
            p->stalled = 0;
            s->kind = OP_STALL;
            s->on = 0;
            enqueue(p, s);
        }
    }
    o->kind = OP_FRAMES;
    o->t_arrive_us = t_arrive_us;
    o->buf = buf;
    o->len = len;
    enqueue(p, o);
}

void fm_livepipe_attach(fm_livepipe *p, int delta)
{
    p->attached += delta;
}

void fm_livepipe_movement(fm_livepipe *p, double t_s)
{
    op *o = p->finishing ? NULL : calloc(1, sizeof *o);
    if (!o)
        return;
    o->kind = OP_MOVE;
    o->t_s = t_s;
    enqueue(p, o);
}

void fm_livepipe_finish(fm_livepipe *p)
{
    op *o = p->finishing ? NULL : calloc(1, sizeof *o);
    if (!o)
        return;
    p->finishing = 1;
    o->kind = OP_FINISH;
    enqueue(p, o);
}
