/* fm_workq: see workq.h. A mutex + condition variable queue in, a mutex-protected list out;
 * the loop is woken once per batch of finished jobs, not once per job. */
#include "workq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fm_workq {
    fm_workq_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fm_job *head, *tail; /* pending */
    fm_job *done_head, *done_tail;
    size_t pending;
    int stopping, stopped;
    int n_threads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    fm_workq *q = arg;
    void *ctx = q->cfg.thread_init ? q->cfg.thread_init(q->cfg.user) : NULL;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        fm_job *j = q->head;
        if (!j) { /* stopping and nothing left */
            pthread_mutex_unlock(&q->mu);
            break;
        }
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->pending--;
        pthread_mutex_unlock(&q->mu);

        j->run(j, ctx);

        j->next = NULL;
        pthread_mutex_lock(&q->mu);
        /* A non-empty done list has a wake on its way that the loop has not answered yet (the
         * drain empties the list in one step): this job goes with it, no second wake. */
        int first = !q->done_head;
        if (q->done_tail)
            q->done_tail->next = j;
        else
            q->done_head = j;
        q->done_tail = j;
        pthread_mutex_unlock(&q->mu);
        if (first && q->cfg.wake)
            q->cfg.wake(q->cfg.wake_user);
    }
    if (q->cfg.thread_fini)
        q->cfg.thread_fini(ctx);
    return NULL;
}

fm_workq *fm_workq_create(const fm_workq_config *cfg)
{
    fm_workq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cfg = *cfg;
    if (q->cfg.threads < 1)
        q->cfg.threads = 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->threads = calloc((size_t)q->cfg.threads, sizeof *q->threads);
    if (!q->threads) {
        fm_workq_destroy(q);
        return NULL;
    }
    for (int i = 0; i < q->cfg.threads; i++) {
        if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
            break;
        q->n_threads++;
    }
    if (q->n_threads == 0) {
        fm_workq_destroy(q);
        return NULL;
    }
    return q;
}

fm_svc_status fm_workq_submit(fm_workq *q, fm_job *job)
{
    fm_svc_status rc = FM_SVC_OK;
    job->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->stopping || (q->cfg.max_pending && q->pending >= q->cfg.max_pending)) {
        rc = FM_SVC_BUSY;
    } else {
        if (q->tail)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
        q->pending++;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

size_t fm_workq_drain(fm_workq *q)
{
    pthread_mutex_lock(&q->mu);
    fm_job *j = q->done_head;
    q->done_head = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);
    size_t n = 0;
    while (j) {
        fm_job *next = j->next;
        if (j->done)
            j->done(j);
        j = next;
        n++;
    }
    return n;
}

size_t fm_workq_pending(fm_workq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->pending;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void fm_workq_stop(fm_workq *q, int run_pending)
{
    pthread_mutex_lock(&q->mu);
    if (!run_pending && q->head) { /* move the never-started jobs to the done list */
        if (q->done_tail)
            q->done_tail->next = q->head;
        else
            q->done_head = q->head;
        q->done_tail = q->tail;
        q->head = q->tail = NULL;
        q->pending = 0;
    }
    int was = q->stopped;
    q->stopping = 1;
    q->stopped = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (was)
        return;
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
}

void fm_workq_destroy(fm_workq *q)
{
    if (!q)
        return;
    fm_workq_stop(q, 0);
    fm_workq_drain(q);
    free(q->threads);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* ---- fm_serialq ---- */

struct fm_serialq {
    fm_job job; /* first: the job is the queue */
    fm_workq *q;
    void (*run)(void *user, fm_serial_item *it, void *ctx);
    void *user;
    size_t max_items;
    pthread_mutex_t mu;
    pthread_cond_t drained;
    fm_serial_item *head, *tail;
    size_t n;
    int busy; /* the job is submitted and its done() has not run yet */
    int running; /* the job is taking items */
};

fm_serialq *fm_serialq_create(fm_workq *q, void (*run)(void *user, fm_serial_item *it, void *ctx),
                              void *user, size_t max_items)
{
    fm_serialq *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->q = q;
    s->run = run;
    s->user = user;
    s->max_items = max_items ? max_items : 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->drained, NULL);
    return s;
}

/* Runs every waiting item, in order (taking the list in one step, again until it is empty). */
static void serial_take_all(fm_serialq *s, void *ctx)
{
    for (;;) {
        pthread_mutex_lock(&s->mu);
        fm_serial_item *it = s->head;
        s->head = s->tail = NULL;
        s->n = 0;
        pthread_cond_broadcast(&s->drained);
        pthread_mutex_unlock(&s->mu);
        if (!it)
            return;
        while (it) {
            fm_serial_item *next = it->next;
            s->run(s->user, it, ctx);
            it = next;
        }
    }
}

static void serial_run(fm_job *job, void *ctx)
{
    fm_serialq *s = (fm_serialq *)job;
    serial_take_all(s, ctx);
    pthread_mutex_lock(&s->mu);
    s->running = 0;
    pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
}

static void serial_done(fm_job *job);

/* Under s->mu with busy just set: submits the job (unlocks around it). 0 when refused. */
static int serial_submit(fm_serialq *s)
{
    memset(&s->job, 0, sizeof s->job);
    s->job.run = serial_run;
    s->job.done = serial_done;
    s->running = 1;
    pthread_mutex_unlock(&s->mu);
    int ok = fm_workq_submit(s->q, &s->job) == FM_SVC_OK;
    pthread_mutex_lock(&s->mu);
    if (!ok) {
        s->busy = 0;
        s->running = 0;
        pthread_cond_broadcast(&s->drained);
    }
    return ok;
}

/* Loop: the job is back; items pushed since it last looked get it again. */
static void serial_done(fm_job *job)
{
    fm_serialq *s = (fm_serialq *)job;
    pthread_mutex_lock(&s->mu);
    s->busy = s->head != NULL;
    if (s->busy)
        serial_submit(s); /* refused: they wait for the next push, or destroy */
    pthread_mutex_unlock(&s->mu);
}

void fm_serialq_push(fm_serialq *s, fm_serial_item *it, void *ctx)
{
    it->next = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->n++;
    int self = 0;
    if (!s->busy) {
        s->busy = 1;
        self = !serial_submit(s);
    }
    while (!self && s->n > s->max_items && s->running) /* let the job catch up */
        pthread_cond_wait(&s->drained, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (self) /* the pool refuses (stopping): in order, here */
        serial_take_all(s, ctx);
}

void fm_serialq_destroy(fm_serialq *s)
{
    if (!s)
        return;
    serial_take_all(s, NULL);
    pthread_cond_destroy(&s->drained);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
