/* fm_workq: see workq.h. A mutex + condition variable queue in, a mutex-protected list out;
 * the loop is woken once per batch of finished jobs, not once per job. */
#include "workq.h"

#include <pthread.h>
#include <stdlib.h>

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
