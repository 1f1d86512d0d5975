/* Live ingest: the WebSocket protocol "fm-ingest" (path /ws/ingest) that a home device or the
 * patient's phone streams Doppler audio into.
 *
 * The client opens a stream (token, sample format and rate; or the id of a stream to resume),
 * then sends binary frames: a 4-byte little-endian sequence number and 16-bit little-endian mono
 * PCM. Frames are appended to DATA/recordings/ID.fmpcm by a worker and fdatasync'ed; only then
 * is {"type":"ack","seq":N} sent, so every acknowledged frame survives a crash. A client that
 * lost its network reopens with {"stream": ID} and is told next_seq, the first frame the server
 * does not have: it resends from there (duplicates below next_seq are ignored, gaps refused).
 * {"type":"close"} turns the frames into DATA/recordings/ID.wav and queues the analysis.
 *
 * Frames file: "FMPCM1\n\0", u32 rate_hz, u32 0, then per frame u32 seq, u32 n_bytes, PCM.
 * Group commit: the frames of every stream that has some waiting go to disk together in one
 * commit round on an ingest worker (ingest_log.h: one log fdatasync per round, whatever the
 * number of streams); the next round starts when the last one is done, with everything that
 * arrived meanwhile, and each stream's ack goes out when the round holding its frames is.
 * Memory per stream is bounded (FM_INGEST_PENDING_MAX): while a flush is in flight new frames
 * collect in a buffer, and reading from the socket pauses when it is full.
 *
 * Once durable, frames go to the stream's live pipeline (livepipe.c: the 4 Hz trace, analysis,
 * alerts, on a worker); {"type":"movement"} marks go there too.
 *
 * This file is the loop side: the connections, the stream slots and the commit rounds. What a
 * job does on an ingest worker (the frames file, the store, the WAV) is ingest_worker.c. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "ingest_int.h"
#include "ingest_log.h"
#include "ingest_msg.h"
#include "ingest_stages.h"
#include "log.h"
#include "server_internal.h"

#define FM_INGEST_PENDING_MAX (8 * (FM_INGEST_FRAME_MAX + 8)) /* buffered, not yet durable */
#define FM_INGEST_OUT_MAX 64 /* control messages queued to the client */
#define FM_INGEST_AUTH_TIMEOUT_S 10

/* One stream's file, as the loop sees it (one per stream with a connection or a job): which
 * connection has it open, the job touching its file (scan, flush, finish: at most one at a
 * time), and the resume waiting for that job. A device that reconnects while its old
 * connection's flush is still in flight is told next_seq only once that flush is over (so the
 * count is what is durable), and the old connection is superseded: it writes nothing more. */
struct stream_slot {
    char id[FM_REC_ID_MAX];
    ingest_pss *conn;
    ingest_job *busy;    /* in flight (or waiting for a commit round) */
    ingest_job *waiting; /* a resume's frame count, to run when busy is done */
    stream_slot *next;
};

/* The commit rounds (loop-owned): flushes waiting for the next round, and whether one runs;
 * and the streams' slots. */
struct fm_ingest_group {
    ingest_job *head, *tail;
    size_t n_waiting;
    int in_flight;
    stream_slot *slots;
    int sweep_busy; /* fm_ingest_sweep: a J_EXPIRE in flight */
    int64_t sweep_next_ms;
    int64_t created_ms; /* the server's start: its downtime does not count as a device's */
};

/* Streams left without a device are looked for this often (at most; sooner when
 * stream_finish_s is shorter). */
#define FM_INGEST_SWEEP_MS 60000

struct ingest_pss {
    struct lws *wsi;
    fm_server *srv;
    int opened, closing, finishing, finished;
    char id[FM_REC_ID_MAX];
    int fd;
    uint32_t next_seq;   /* next frame expected from the client */
    int rate_hz;
    int attached;        /* counted in the stream's live pipeline */
    fm_livepipe *pipe;   /* that pipeline (valid while attached) */
    stream_slot *slot;   /* the stream's slot, while this connection has it open */
    unsigned char *pend; /* frames received, not yet handed to a flush */
    size_t pend_len;
    uint32_t pend_last;
    uint32_t pend_crc; /* CRC-32 of pend, kept as frames arrive (ingest_log.h) */
    int64_t pend_t_us; /* when the oldest frame of pend arrived (stage timings) */
    int paused;
    ingest_job *job; /* in flight */
    char *out[FM_INGEST_OUT_MAX];
    int out_head, out_n;
    char in[FM_INGEST_TEXT_MAX + 1];
    size_t in_len;
    unsigned char *bin;
    size_t bin_len;
    int too_big;
};

size_t fm_ingest_pss_size(void)
{
    return sizeof(ingest_pss);
}

fm_svc_status fm_ingest_group_create(fm_server *srv)
{
    srv->ingest_group = calloc(1, sizeof *srv->ingest_group);
    if (!srv->ingest_group)
        return FM_SVC_NOMEM;
    srv->ingest_group->created_ms = fm_now_ms();
    return FM_SVC_OK;
}

size_t fm_ingest_waiting(const fm_server *srv)
{
    return srv->ingest_group ? srv->ingest_group->n_waiting : 0;
}

/* After the workers stopped and the connections closed: flushes never submitted (none in
 * practice: a refused round answers its flushes at once) are dropped; their frames were never
 * acknowledged. */
void fm_ingest_group_destroy(fm_server *srv)
{
    struct fm_ingest_group *g = srv->ingest_group;
    if (!g)
        return;
    while (g->head) {
        ingest_job *j = g->head;
        g->head = j->next_round;
        if (j->close_fd_after)
            close(j->fd);
        free(j->buf);
        free(j);
    }
    while (g->slots) {
        stream_slot *sl = g->slots;
        g->slots = sl->next;
        free(sl->waiting);
        free(sl);
    }
    free(g);
    srv->ingest_group = NULL;
}

/* ---- messages to the client ---- */

static void say(ingest_pss *p, cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return;
    if (p->out_n == FM_INGEST_OUT_MAX) { /* a client not reading its acks: drop it */
        free(text);
        p->closing = 1;
    } else {
        p->out[(p->out_head + p->out_n++) % FM_INGEST_OUT_MAX] = text;
    }
    lws_callback_on_writable(p->wsi);
}

static void say_error(ingest_pss *p, const char *code, const char *message, int fatal)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "error");
    cJSON_AddStringToObject(j, "error", code);
    cJSON_AddStringToObject(j, "message", message);
    if (!strcmp(code, "gap"))
        cJSON_AddNumberToObject(j, "expected", p->next_seq);
    say(p, j);
    if (fatal)
        p->closing = 1;
}

/* ---- loop side ---- */

static void start(ingest_pss *p, ingest_job *j);
static void submit(fm_server *srv, ingest_job *j);

/* ---- stream slots (loop) ---- */

static stream_slot *slot_find(fm_server *srv, const char *id)
{
    for (stream_slot *sl = srv->ingest_group->slots; sl; sl = sl->next)
        if (!strcmp(sl->id, id))
            return sl;
    return NULL;
}

static stream_slot *slot_get(fm_server *srv, const char *id)
{
    stream_slot *sl = slot_find(srv, id);
    if (sl || !(sl = calloc(1, sizeof *sl)))
        return sl;
    snprintf(sl->id, sizeof sl->id, "%s", id);
    sl->next = srv->ingest_group->slots;
    srv->ingest_group->slots = sl;
    return sl;
}

/* Frees the slot once nothing refers to it. */
static void slot_release(fm_server *srv, stream_slot *sl)
{
    if (sl->conn || sl->busy || sl->waiting)
        return;
    for (stream_slot **pp = &srv->ingest_group->slots; *pp; pp = &(*pp)->next) {
        if (*pp == sl) {
            *pp = sl->next;
            free(sl);
            return;
        }
    }
}

/* The job that held the stream's file is done: the waiting resume (if any) counts the frames. */
static void slot_done(fm_server *srv, stream_slot *sl)
{
    sl->busy = NULL;
    if (sl->waiting) {
        ingest_job *w = sl->waiting;
        sl->waiting = NULL;
        sl->busy = w;
        submit(srv, w);
        return;
    }
    slot_release(srv, sl);
}

/* The connection that had the stream loses it to a resume on another connection: its buffered
 * frames (never acknowledged) are dropped, it leaves the pipeline and is closed with an error;
 * a flush of it in flight still completes (the resume waits for it). */
static void supersede(stream_slot *sl, ingest_pss *now)
{
    ingest_pss *o = sl->conn;
    sl->conn = now;
    if (!o || o == now)
        return;
    if (sl->waiting && sl->waiting->owner == o) { /* its own resume had not started */
        free(sl->waiting);
        sl->waiting = NULL;
        o->job = NULL;
    }
    if (o->pipe)
        fm_livepipe_attach(o->pipe, -1);
    o->pipe = NULL;
    o->attached = 0;
    o->slot = NULL;
    o->opened = 0;
    o->finishing = 0;
    free(o->pend);
    o->pend = NULL;
    o->pend_len = 0;
    o->pend_crc = 0;
    say_error(o, "superseded", "the stream was resumed on another connection", 1);
}

/* Hands the buffered frames to a flush when none is in flight. */
static void maybe_flush(ingest_pss *p)
{
    if (!p->slot)
        return; /* not open, or superseded */
    if (p->job || !p->pend_len) {
        if (!p->job && p->finishing && !p->finished) {
            ingest_job *j = calloc(1, sizeof *j);
            if (j) {
                j->kind = J_FINISH;
                snprintf(j->id, sizeof j->id, "%s", p->id);
                if (p->pipe) { /* every frame was fed: the trace ends here; the pipe leaves */
                    fm_livepipe_finish(p->pipe);
                    p->pipe = NULL;
                    p->attached = 0;
                }
                p->finished = 1;
                if (p->fd >= 0)
                    close(p->fd);
                p->fd = -1;
                start(p, j);
            }
        }
        return;
    }
    ingest_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->kind = J_FLUSH;
    snprintf(j->id, sizeof j->id, "%s", p->id);
    j->fd = p->fd;
    j->buf = p->pend;
    j->len = p->pend_len;
    j->last_seq = p->pend_last;
    j->crc = p->pend_crc;
    j->t_arrive_us = p->pend_t_us;
    p->pend = NULL;
    p->pend_len = 0;
    p->pend_crc = 0;
    start(p, j);
}

/* The stream's pipeline: the one in memory, or a new one (a new stream; or a stream opened
 * before a restart, whose frames on disk are replayed through the engine first). */
static void ensure_pipe(ingest_pss *p, ingest_job *j)
{
    fm_livepipe *pipe = fm_livepipes_get(p->srv->pipes, j->id);
    if (!pipe)
        pipe = fm_livepipes_open(p->srv->pipes, j->id, j->patient_id, j->rate_hz,
                                 j->gestation_weeks, j->next_seq);
    if (pipe) {
        fm_livepipe_attach(pipe, 1);
        p->attached = 1;
        p->pipe = pipe;
    }
}

/* A resume that passed its checks (J_OPEN): it takes the stream's slot (superseding another
 * connection on it) and counts the frames once no job holds the file. */
static void resume_scan(ingest_pss *p, ingest_job *j)
{
    stream_slot *sl = slot_get(p->srv, j->id);
    if (!sl) {
        free(j);
        say_error(p, "storage", "the stream could not be opened", 1);
        return;
    }
    supersede(sl, p);
    p->slot = sl;
    j->kind = J_SCAN;
    j->ok = 0;
    j->fd = -1;
    j->slot = sl;
    p->job = j;
    if (sl->busy) {
        free(sl->waiting); /* cannot happen: supersede cancelled it */
        sl->waiting = j;
    } else {
        sl->busy = j;
        submit(p->srv, j);
    }
}

/* The sweep's answer (loop): each stream that still has no slot (no connection took it, no job
 * holds its file) is finished like a close: its pipeline (if still in memory) ends its trace,
 * and a J_FINISH holds the slot, so that a resume arriving now waits for it and then finds the
 * stream closed (no_stream). */
static void expire_done(ingest_job *j)
{
    fm_server *srv = j->srv;
    srv->ingest_group->sweep_busy = 0;
    for (size_t i = 0; i < j->n_ids; i++) {
        if (slot_find(srv, j->ids[i]))
            continue;
        stream_slot *sl = slot_get(srv, j->ids[i]);
        ingest_job *f = sl ? calloc(1, sizeof *f) : NULL;
        if (!f) {
            if (sl)
                slot_release(srv, sl);
            continue;
        }
        f->kind = J_FINISH;
        f->expired = 1;
        f->fd = -1;
        snprintf(f->id, sizeof f->id, "%s", j->ids[i]);
        f->slot = sl;
        sl->busy = f;
        fm_livepipe *pipe = fm_livepipes_get(srv->pipes, f->id);
        if (pipe)
            fm_livepipe_finish(pipe);
        submit(srv, f);
    }
    free(j->ids);
    free(j);
}

void fm_ingest_sweep(fm_server *srv, int64_t now_ms)
{
    struct fm_ingest_group *g = srv->ingest_group;
    int64_t finish_ms = (int64_t)srv->cfg.stream_finish_s * 1000;
    /* Not before the server has run stream_finish_s: a device that could not reach a stopped
     * server gets that long to resume after the start. */
    if (!g || g->sweep_busy || now_ms < g->sweep_next_ms || now_ms - g->created_ms < finish_ms)
        return;
    int64_t every = finish_ms / 2;
    g->sweep_next_ms = now_ms + (every < FM_INGEST_SWEEP_MS ? every : FM_INGEST_SWEEP_MS);
    ingest_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->kind = J_EXPIRE;
    j->fd = -1;
    g->sweep_busy = 1;
    submit(srv, j);
}

static void job_done(fm_job *job)
{
    ingest_job *j = (ingest_job *)job;
    ingest_pss *p = j->owner;
    if (j->kind == J_EXPIRE) {
        expire_done(j);
        return;
    }
    if (j->kind == J_FINISH && j->expired) {
        char extra[256];
        snprintf(extra, sizeof extra, "\"recording\":\"%s\",\"error\":\"%.64s\"", j->id,
                 j->ok ? "" : j->error);
        fm_log(j->ok ? "info" : "error", "stream_finish_idle", extra);
    }
    if (j->kind == J_FLUSH)
        fm_stage_since(FM_STAGE_FLUSH_BACK, j->t_done_us);
    stream_slot *held = j->slot;
    if (held) { /* the file is free again: a resume waiting for it goes on */
        j->slot = NULL;
        slot_done(j->srv, held);
    }
    if (p && j->kind == J_SCAN && p->slot != held) { /* superseded while counting */
        p->job = NULL;
        p = NULL;
    }
    if (!p) { /* the connection closed (or lost the stream) meanwhile */
        if ((j->kind == J_OPEN || j->kind == J_SCAN) && j->fd >= 0)
            close(j->fd);
        if (j->close_fd_after)
            close(j->fd);
        free(j->buf);
        free(j);
        return;
    }
    p->job = NULL;
    if (j->kind == J_OPEN && j->ok && j->resume[0]) {
        resume_scan(p, j); /* phase 2: the frame count */
        return;
    }
    cJSON *r = cJSON_CreateObject();
    if (j->kind == J_OPEN || j->kind == J_SCAN) {
        stream_slot *sl = j->kind == J_OPEN && j->ok ? slot_get(p->srv, j->id) : p->slot;
        if (!j->ok || !sl) {
            cJSON_Delete(r);
            if (j->fd >= 0)
                close(j->fd);
            if (sl && sl->conn == p) {
                sl->conn = NULL;
                slot_release(p->srv, sl);
            }
            p->slot = NULL;
            say_error(p, j->ok ? "storage" : j->error, "the stream could not be opened", 1);
        } else {
            sl->conn = p;
            p->slot = sl;
            p->opened = 1;
            p->fd = j->fd;
            p->next_seq = j->next_seq;
            p->rate_hz = j->rate_hz;
            snprintf(p->id, sizeof p->id, "%s", j->id);
            ensure_pipe(p, j);
            lws_set_timeout(p->wsi, NO_PENDING_TIMEOUT, 0);
            cJSON_AddStringToObject(r, "type", "opened");
            cJSON_AddStringToObject(r, "stream", p->id);
            cJSON_AddNumberToObject(r, "next_seq", p->next_seq);
            say(p, r);
        }
    } else if (j->kind == J_FLUSH) {
        cJSON_Delete(r);
        if (!j->ok) {
            say_error(p, j->error[0] ? j->error : "storage",
                      "frames could not be stored; resume later", 1);
        } else {
            r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "type", "ack");
            cJSON_AddNumberToObject(r, "seq", j->last_seq);
            say(p, r);
            fm_stage_since(FM_STAGE_ACK, j->t_arrive_us);
        }
    } else {
        if (!j->ok) {
            cJSON_Delete(r);
            say_error(p, j->error[0] ? j->error : "storage", "the stream could not be finished",
                      1);
        } else {
            cJSON_AddStringToObject(r, "type", "closed");
            cJSON_AddStringToObject(r, "stream", p->id);
            say(p, r);
        }
    }
    free(j->buf);
    free(j);
    if (p->paused && !p->closing) {
        p->paused = 0;
        lws_rx_flow_control(p->wsi, 1);
    }
    maybe_flush(p);
}

static void group_kick(fm_server *srv);

/* Loop: a round is over; every flush in it is answered (acks, frames to the live trace), which
 * may queue the streams' next flushes; then the next round starts with all of them. */
static void round_done(fm_job *job)
{
    round_job *r = (round_job *)job;
    fm_server *srv = r->srv;
    for (size_t i = 0; i < r->n; i++)
        job_done(&r->v[i]->job);
    free(r);
    srv->ingest_group->in_flight = 0;
    group_kick(srv);
}

/* Loop: starts a round with every waiting flush, unless one is running. */
static void group_kick(fm_server *srv)
{
    struct fm_ingest_group *g = srv->ingest_group;
    if (g->in_flight || !g->head)
        return;
    round_job *r = malloc(sizeof *r + g->n_waiting * sizeof r->v[0]);
    if (!r)
        return; /* retried at the next flush or round */
    r->srv = srv;
    r->n = 0;
    for (ingest_job *j = g->head; j; j = j->next_round)
        r->v[r->n++] = j;
    g->head = g->tail = NULL;
    g->n_waiting = 0;
    memset(&r->job, 0, sizeof r->job);
    r->job.run = ingest_round_run;
    r->job.done = round_done;
    g->in_flight = 1;
    if (fm_workq_submit(srv->ingest_q, &r->job) != FM_SVC_OK) {
        /* Shutting down (or swamped): nothing of this round was written; say so. */
        for (size_t i = 0; i < r->n; i++) {
            r->v[i]->ok = 0;
            job_done(&r->v[i]->job);
        }
        free(r);
        g->in_flight = 0;
    }
}

static void start(ingest_pss *p, ingest_job *j)
{
    j->job.run = ingest_job_run;
    j->job.done = job_done;
    j->srv = p->srv;
    j->owner = p;
    p->job = j;
    if ((j->kind == J_FLUSH || j->kind == J_FINISH) && p->slot) { /* it holds the file */
        j->slot = p->slot;
        p->slot->busy = j;
    }
    if (j->kind == J_FLUSH && p->srv->cfg.ingest_group_commit) {
        struct fm_ingest_group *g = p->srv->ingest_group;
        j->next_round = NULL;
        if (g->tail)
            g->tail->next_round = j;
        else
            g->head = j;
        g->tail = j;
        g->n_waiting++;
        group_kick(p->srv);
        return;
    }
    submit(p->srv, j);
}

/* To an ingest worker; refused (shutting down, swamped): answered at once as failed. */
static void submit(fm_server *srv, ingest_job *j)
{
    j->job.run = ingest_job_run;
    j->job.done = job_done;
    j->srv = srv;
    if (fm_workq_submit(srv->ingest_q, &j->job) != FM_SVC_OK) {
        j->ok = 0;
        snprintf(j->error, sizeof j->error, "busy");
        job_done(&j->job);
    }
}

static void on_text(ingest_pss *p)
{
    fm_ingest_msg m; /* the message checked on its own (ingest_msg.c); here: the stream state */
    fm_ingest_parse_text(p->in, p->in_len, &m);
    ingest_job *j = NULL;
    if (m.type == FM_IMSG_BAD) {
        say_error(p, m.error, m.message, m.fatal);
    } else if (m.type == FM_IMSG_OPEN) {
        if (p->opened || p->job)
            say_error(p, "bad_request", "the stream is already open", 0);
        else if (m.error[0])
            say_error(p, m.error, m.message, m.fatal);
        else if ((j = calloc(1, sizeof *j))) {
            j->kind = J_OPEN;
            j->fd = -1;
            j->rate_hz = m.rate_hz;
            snprintf(j->token, sizeof j->token, "%s", m.token);
            snprintf(j->patient, sizeof j->patient, "%s", m.patient);
            snprintf(j->resume, sizeof j->resume, "%s", m.stream);
            start(p, j);
        }
    } else if (!p->opened) {
        say_error(p, "bad_request", "open the stream first", 0);
    } else if (m.error[0]) {
        say_error(p, m.error, m.message, m.fatal);
    } else if (m.type == FM_IMSG_CLOSE) {
        p->finishing = 1;
        maybe_flush(p);
    } else if (m.type == FM_IMSG_MOVEMENT) {
        if (p->pipe && !p->finishing)
            fm_livepipe_movement(p->pipe, m.has_t ? m.t_s : NAN);
    }
    explicit_bzero(&m, sizeof m); /* the token */
}

/* One complete binary frame: u32 seq + PCM. */
static void on_frame(ingest_pss *p, const unsigned char *b, size_t n)
{
    if (!p->opened || p->finishing) {
        say_error(p, "bad_request", "frames go into an open stream", 0);
        return;
    }
    uint32_t seq;
    const unsigned char *samples;
    size_t pcm;
    if (fm_ingest_parse_frame(b, n, &seq, &samples, &pcm) != 0) {
        say_error(p, "bad_frame", "a frame is a u32 sequence number and 16-bit samples", 0);
        return;
    }
    if (seq < p->next_seq)
        return; /* a resent frame we already have: the acks cover it */
    if (seq > p->next_seq) {
        say_error(p, "gap", "frames must be contiguous: resend from \"expected\"", 0);
        return;
    }
    if (!p->pend)
        p->pend = malloc(FM_INGEST_PENDING_MAX);
    if (!p->pend_len)
        p->pend_t_us = fm_stage_on() ? fm_stage_now_us() : 0;
    if (!p->pend || p->pend_len + 8 + pcm > FM_INGEST_PENDING_MAX) {
        say_error(p, "overloaded", "too much unacknowledged data", 1);
        return;
    }
    unsigned char *rec = p->pend + p->pend_len;
    put_u32(rec, seq);
    put_u32(rec + 4, (uint32_t)pcm);
    memcpy(rec + 8, samples, pcm);
    if (p->srv->cfg.ingest_group_commit) /* the log's records carry it (ingest_log.h) */
        p->pend_crc = fm_ingest_crc32(p->pend_crc, rec, 8 + pcm);
    p->pend_len += 8 + pcm;
    /* The engine takes the frame now, while it becomes durable (docs/api.md "Live trace"): the
     * ack still waits for the sync. A frame whose sync fails is resent by the device (the same
     * audio) and the pipe, which has it, skips it. */
    unsigned char *copy = p->pipe ? malloc(8 + pcm) : NULL;
    if (copy) {
        memcpy(copy, rec, 8 + pcm);
        fm_livepipe_feed(p->pipe, copy, 8 + pcm, fm_stage_on() ? fm_stage_now_us() : 0);
    }
    p->pend_last = seq;
    p->next_seq++;
    if (p->pend_len + 8 + FM_INGEST_FRAME_MAX + 4 > FM_INGEST_PENDING_MAX && !p->paused) {
        p->paused = 1; /* the next frame might not fit: wait for the flush */
        lws_rx_flow_control(p->wsi, 0);
    }
    maybe_flush(p);
}

static int on_receive(ingest_pss *p, struct lws *wsi, const void *in, size_t len)
{
    int binary = lws_frame_is_binary(wsi);
    size_t cap = binary ? FM_INGEST_FRAME_MAX + 4 : FM_INGEST_TEXT_MAX;
    size_t *have = binary ? &p->bin_len : &p->in_len;
    if (binary && !p->bin && !(p->bin = malloc(FM_INGEST_FRAME_MAX + 4)))
        return -1;
    if (*have + len > cap)
        p->too_big = 1;
    else
        memcpy(binary ? (char *)p->bin + *have : p->in + *have, in, len), *have += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (p->too_big)
        say_error(p, "too_large",
                  binary ? "a frame holds at most 32768 bytes of PCM"
                         : "control messages are at most 4096 bytes",
                  0);
    else if (binary)
        on_frame(p, p->bin, p->bin_len);
    else
        on_text(p);
    *have = 0;
    p->too_big = 0;
    return 0;
}

static int on_writeable(ingest_pss *p, struct lws *wsi)
{
    if (!p->out_n) {
        if (p->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"error", 5);
            return -1;
        }
        return 0;
    }
    char *text = p->out[p->out_head];
    p->out_head = (p->out_head + 1) % FM_INGEST_OUT_MAX;
    p->out_n--;
    size_t n = strlen(text);
    memcpy(p->srv->wbuf + LWS_PRE, text, n);
    free(text);
    if (lws_write(wsi, p->srv->wbuf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
        return -1;
    if (p->out_n || p->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(ingest_pss *p)
{
    if (p->pipe)
        fm_livepipe_attach(p->pipe, -1);
    p->pipe = NULL;
    p->attached = 0;
    stream_slot *sl = p->slot;
    p->slot = NULL;
    if (sl && sl->waiting && sl->waiting == p->job) { /* a resume that had not started */
        free(sl->waiting);
        sl->waiting = NULL;
        p->job = NULL;
    }
    if (sl && sl->conn == p)
        sl->conn = NULL;
    if (sl)
        slot_release(p->srv, sl);
    /* A flush in flight still completes (its frames become durable, unacknowledged: the
     * client resends them after resuming, and they are skipped as duplicates); it owns the fd
     * until then. */
    if (p->job) {
        p->job->owner = NULL;
        if (p->job->kind == J_FLUSH && p->fd >= 0) {
            p->job->close_fd_after = 1;
            p->fd = -1;
        }
    }
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->job = NULL;
    free(p->pend);
    free(p->bin);
    p->pend = p->bin = NULL;
    while (p->out_n) {
        free(p->out[p->out_head]);
        p->out_head = (p->out_head + 1) % FM_INGEST_OUT_MAX;
        p->out_n--;
    }
}

int fm_ingest_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ingest_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 ||
            strcmp(uri, FM_INGEST_PATH))
            return 1;
        break;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        p->srv = lws_context_user(lws_get_context(wsi));
        p->fd = -1;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FM_INGEST_AUTH_TIMEOUT_S);
        break;
    case LWS_CALLBACK_RECEIVE: return on_receive(p, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(p, wsi);
    case LWS_CALLBACK_CLOSED:
        if (p && p->srv) {
            on_closed(p);
            p->srv = NULL;
        }
        break;
    default: break;
    }
    return 0;
}
