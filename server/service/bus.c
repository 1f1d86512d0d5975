/* fm_bus: the in-process implementation (see bus.h): a bounded ring of owned events under a
 * mutex, and subscriber lists (a hash table of exact topics, a list of prefixes) touched only by
 * the loop thread. */
#include "bus.h"
#include "ingest_stages.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_MAX 64

typedef struct bus_event {
    char topic[TOPIC_MAX];
    char *json; /* NULL = resync marker */
    int64_t t0_us, t_pub_us; /* stage timings (ingest_stages.h) */
} bus_event;

#define BUCKETS 1024

struct fm_bus_sub {
    char topic[TOPIC_MAX];
    int prefix; /* topic is a prefix (ends with '/' or is empty) */
    fm_bus_handler h;
    void *user;
    struct fm_bus_sub *next, *prev; /* in its bucket, or in the prefix list */
    struct fm_bus_sub **head;       /* the list it is in */
};
typedef struct fm_bus_sub bus_sub;

struct fm_bus {
    pthread_mutex_t mu;
    bus_event *ring;
    size_t cap, head, count;
    size_t dropped;
    int lost_since_dispatch;
    void (*wake)(void *);
    void *wake_user;
    bus_sub *bucket[BUCKETS]; /* exact topics, by hash (loop thread only) */
    bus_sub *prefixed;        /* prefix subscriptions */
    int64_t cur_t0_us;        /* of the event being delivered */
};

static uint32_t topic_hash(const char *t)
{
    uint32_t h = 2166136261u;
    for (; *t; t++)
        h = (h ^ (uint8_t)*t) * 16777619u;
    return h % BUCKETS;
}

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
    for (int i = 0; i <= BUCKETS; i++) {
        bus_sub **head = i < BUCKETS ? &b->bucket[i] : &b->prefixed;
        while (*head) {
            bus_sub *n = (*head)->next;
            free(*head);
            *head = n;
        }
    }
    pthread_mutex_destroy(&b->mu);
    free(b->ring);
    free(b);
}

fm_svc_status fm_bus_publish(fm_bus *b, const char *topic, const char *json)
{
    return fm_bus_publish_t(b, topic, json, 0);
}

int64_t fm_bus_event_t0(const fm_bus *b)
{
    return b->cur_t0_us;
}

fm_svc_status fm_bus_publish_t(fm_bus *b, const char *topic, const char *json, int64_t t0_us)
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
    /* Events already waiting have a wake on its way (the dispatch runs until the ring is
     * empty): only the first of a batch wakes the loop. */
    int first = b->count == 0 && !b->lost_since_dispatch;
    bus_event *e = &b->ring[(b->head + b->count) % b->cap];
    strncpy(e->topic, topic, TOPIC_MAX - 1);
    e->topic[TOPIC_MAX - 1] = 0;
    e->json = copy;
    e->t0_us = t0_us;
    e->t_pub_us = fm_stage_on() ? fm_stage_now_us() : 0;
    b->count++;
    pthread_mutex_unlock(&b->mu);
    if (first && b->wake)
        b->wake(b->wake_user);
    return rc;
}

fm_bus_sub *fm_bus_subscribe(fm_bus *b, const char *topic, fm_bus_handler h, void *user)
{
    bus_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    strncpy(s->topic, topic, TOPIC_MAX - 1);
    size_t n = strlen(s->topic);
    s->prefix = n == 0 || s->topic[n - 1] == '/';
    s->h = h;
    s->user = user;
    s->head = s->prefix ? &b->prefixed : &b->bucket[topic_hash(s->topic)];
    s->next = *s->head;
    if (s->next)
        s->next->prev = s;
    *s->head = s;
    return s;
}

void fm_bus_unsubscribe(fm_bus *b, fm_bus_sub *s)
{
    (void)b;
    if (!s)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        *s->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

/* Delivers one event to the subscribers of its topic (all of them for a resync marker). */
static void deliver(fm_bus *b, const bus_event *e)
{
    if (!e->json) {
        for (int i = 0; i <= BUCKETS; i++)
            for (bus_sub *s = i < BUCKETS ? b->bucket[i] : b->prefixed, *next; s; s = next) {
                next = s->next;
                s->h(s->user, NULL, NULL);
            }
        return;
    }
    for (bus_sub *s = b->bucket[topic_hash(e->topic)], *next; s; s = next) {
        next = s->next; /* a handler may unsubscribe itself */
        if (!strcmp(s->topic, e->topic))
            s->h(s->user, e->topic, e->json);
    }
    for (bus_sub *s = b->prefixed, *next; s; s = next) {
        next = s->next;
        if (!strncmp(e->topic, s->topic, strlen(s->topic)))
            s->h(s->user, e->topic, e->json);
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
        if (e.json)
            fm_stage_since(FM_STAGE_BUS_WAIT, e.t_pub_us);
        b->cur_t0_us = e.json ? e.t0_us : 0;
        deliver(b, &e);
        b->cur_t0_us = 0;
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
