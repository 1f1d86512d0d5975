/* fm_workq: a fixed pool of worker threads with a bounded job queue, for everything the event
 * loop must not do itself (password hashing, database commits with fsync, file fsync, the
 * engine). A job runs on a worker, then comes back to the loop thread: the pool calls `wake`
 * (lws_cancel_service) and the loop calls fm_workq_drain(), which runs each finished job's
 * `done` in the loop thread, in completion order.
 *
 * Each worker owns a context made by thread_init (e.g. its own store connection) and passed to
 * every job it runs. Not an event loop, and no priorities: one queue, first in first out. */
#ifndef FM_WORKQ_H
#define FM_WORKQ_H

#include <stddef.h>

#include "svc.h"

typedef struct fm_job fm_job;
struct fm_job {
    void (*run)(fm_job *job, void *thread_ctx); /* on a worker thread */
    void (*done)(fm_job *job);                  /* on the loop thread; may free the job */
    fm_job *next;                               /* owned by the queue */
};

typedef struct fm_workq fm_workq;

typedef struct fm_workq_config {
    int threads;
    size_t max_pending;               /* submit refuses beyond this many queued jobs */
    void *(*thread_init)(void *user); /* may be NULL; runs on each worker at start */
    void (*thread_fini)(void *ctx);   /* may be NULL */
    void *user;
    void (*wake)(void *wake_user); /* a job finished: make the loop call fm_workq_drain */
    void *wake_user;
} fm_workq_config;

fm_workq *fm_workq_create(const fm_workq_config *cfg);
/* Any thread. FM_SVC_BUSY when the queue is full or the pool is stopping. */
fm_svc_status fm_workq_submit(fm_workq *q, fm_job *job);
/* Loop thread: calls done() of every finished job; returns how many. */
size_t fm_workq_drain(fm_workq *q);
/* Jobs queued and not yet started (a metric). */
size_t fm_workq_pending(fm_workq *q);
/* Joins the workers after they finish the jobs they are running. Jobs still queued are run
 * first when run_pending, else handed to fm_workq_drain without running (their `done` must
 * cope: the job's own state says it never ran). */
void fm_workq_stop(fm_workq *q, int run_pending);
/* Stops, drains, frees. */
void fm_workq_destroy(fm_workq *q);

/* fm_serialq: items handled in order, one at a time, off the caller's thread: pushed from any
 * thread, run by one job at a time on a pool (the job takes every waiting item; its done()
 * resubmits it when more came). For work that must keep its order but must not hold the
 * pusher (the live samples' store writes, alert events: livepipe_out.c). When the pool refuses
 * (stopping), the pusher runs the waiting items itself; when more than max_items wait, the
 * pusher waits for the job to catch up (memory stays bounded, the order stays). */
typedef struct fm_serial_item {
    struct fm_serial_item *next;
} fm_serial_item;
typedef struct fm_serialq fm_serialq;
/* run: handles and frees one item; ctx is the worker's context, or the pusher's own (push), or
 * NULL (destroy: the items still waiting). */
fm_serialq *fm_serialq_create(fm_workq *q, void (*run)(void *user, fm_serial_item *it, void *ctx),
                              void *user, size_t max_items);
/* Any thread but the loop. ctx: the caller's context, for running items itself. */
void fm_serialq_push(fm_serialq *s, fm_serial_item *it, void *ctx);
/* After the pool stopped and was drained: the items left go to run(ctx NULL), then frees. */
void fm_serialq_destroy(fm_serialq *s);

#endif
