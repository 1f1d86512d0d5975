/* fm_bus: the in-process implementation (see bus.h): a bounded ring of owned events under a
 * mutex, and a subscriber list touched only by the loop thread. */
#include "bus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_MAX 64

typedef struct bus_event {
    char topic[TOPIC_MAX];
    char *json; /* NULL = resync marker */
} bus_event;

typedef struct bus_sub {
    int id;
    char prefix[TOPIC_MAX];
    fm_bus_handler h;
    void *user;
    struct bus_sub *next;
} bus_sub;

struct fm_bus {
    pthread_mutex_t mu;
    bus_event *ring;
    size_t cap, head, count;
    size_t dropped;
    int lost_since_dispatch;
    void (*wake)(void *);
    void *wake_user;
    bus_sub *subs; /* loop thread only */
    int next_id;
};

fm_bus *fm_bus_create(size_t max_queued, void (*wake)(void *), void *wake_user)
{
    fm_bus *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->cap = max_queued ? max_queued : 1;
    b->ring = calloc(b->cap, sizeof *b->ring);
    if (!b->ring) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    b->wake = wake;
    b->wake_user = wake_user;
    return b;
}

void fm_bus_destroy(fm_bus *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        free(b->ring[(b->head + i) % b->cap].json);
    while (b->subs) {
        bus_sub *n = b->subs->next;
        free(b->subs);
        b->subs = n;
    }
    pthread_mutex_destroy(&b->mu);
    free(b->ring);
    free(b);
}

fm_svc_status fm_bus_publish(fm_bus *b, const char *topic, const char *json)
{
    char *copy = strdup(json);
    if (!copy)
        return FM_SVC_NOMEM;
    fm_svc_status rc = FM_SVC_OK;
    pthread_mutex_lock(&b->mu);
    if (b->count == b->cap) { /* drop the oldest: subscribers will resync */
        free(b->ring[b->head].json);
        b->head = (b->head + 1) % b->cap;
        b->count--;
        b->dropped++;
        b->lost_since_dispatch = 1;
        rc = FM_SVC_LIMIT;
    }
    bus_event *e = &b->ring[(b->head + b->count) % b->cap];
    strncpy(e->topic, topic, TOPIC_MAX - 1);
    e->topic[TOPIC_MAX - 1] = 0;
    e->json = copy;
    b->count++;
    pthread_mutex_unlock(&b->mu);
    if (b->wake)
        b->wake(b->wake_user);
    return rc;
}

int fm_bus_subscribe(fm_bus *b, const char *prefix, fm_bus_handler h, void *user)
{
    bus_sub *s = calloc(1, sizeof *s);
    if (!s)
        return 0;
    s->id = ++b->next_id;
    strncpy(s->prefix, prefix, TOPIC_MAX - 1);
    s->h = h;
    s->user = user;
    s->next = b->subs;
    b->subs = s;
    return s->id;
}

void fm_bus_unsubscribe(fm_bus *b, int id)
{
    for (bus_sub **p = &b->subs; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            bus_sub *s = *p;
            *p = s->next;
            free(s);
            return;
        }
    }
}

size_t fm_bus_dispatch(fm_bus *b)
{
    size_t n = 0;
    for (;;) {
        bus_event e;
        int lost;
        pthread_mutex_lock(&b->mu);
        lost = b->lost_since_dispatch;
        b->lost_since_dispatch = 0;
        if (!b->count && !lost) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        if (lost) {
            e.json = NULL;
            e.topic[0] = 0;
        } else {
            e = b->ring[b->head];
            b->head = (b->head + 1) % b->cap;
            b->count--;
        }
        pthread_mutex_unlock(&b->mu);
        /* Handlers may unsubscribe themselves: remember the next one first. */
        for (bus_sub *s = b->subs, *next; s; s = next) {
            next = s->next;
            if (!e.json || !strncmp(e.topic, s->prefix, strlen(s->prefix)))
                s->h(s->user, e.json ? e.topic : NULL, e.json);
        }
        free(e.json);
        n++;
    }
    return n;
}

size_t fm_bus_depth(fm_bus *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->count;
    pthread_mutex_unlock(&b->mu);
    return n;
}

size_t fm_bus_dropped(fm_bus *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->dropped;
    pthread_mutex_unlock(&b->mu);
    return n;
}
