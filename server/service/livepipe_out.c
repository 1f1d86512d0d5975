/* Where a live pipe's results go (livepipe.c runs the engine): the trace samples to the store
 * in batches (through the writer queue, off the engine's worker), the "samples" and
 * "samples_marked" messages and other JSON to the patient's bus topic, and the engine's alert
 * events, deep-copied, to the life cycle (fm_alertsvc) through the events queue, in order.
 * Not for the engine, the operations queue or the table of pipes (livepipe.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_stages.h"
#include "livepipe_int.h"

/* Samples of one stream on their way to the store (the writer). */
typedef struct row_batch {
    fm_serial_item item; /* first */
    char id[FM_REC_ID_MAX];
    size_t n;
    fm_sample_row rows[];
} row_batch;

/* An alert event on its way to the life cycle: a deep copy (the engine's strings live only
 * during its sink call). */
typedef struct alert_item {
    fm_serial_item item; /* first */
    fm_bus *bus;     /* a message to publish in this order (json), instead of an event */
    const char *json; /* in text */
    fm_alertsvc *alerts;
    int64_t patient_id;
    char id[FM_REC_ID_MAX];
    int64_t t0_us; /* stage timings */
    fm_alert_event ev;
    size_t used, cap;
    char text[]; /* the event's strings */
} alert_item;

static void write_batch(fm_store *s, row_batch *b)
{
    int64_t t0 = fm_stage_on() ? fm_stage_now_us() : 0;
    fm_store_samples_append(s, b->id, b->rows, b->n);
    fm_stage_since(FM_STAGE_STORE_SAMPLES, t0);
}

/* The writer (fm_serialq): a batch to the store; ctx NULL at shutdown (not written: a resume's
 * replay recomputes the samples from the frames). */
void livepipe_writer_item(void *user, fm_serial_item *it, void *ctx)
{
    (void)user;
    if (ctx)
        write_batch(ctx, (row_batch *)it);
    free(it);
}

static void publish_t(fm_livepipe *p, const char *json, int64_t t0_us)
{
    char topic[48];
    snprintf(topic, sizeof topic, "patient/%lld", (long long)p->patient_id);
    fm_bus_publish_t(p->t->c.bus, topic, json, t0_us);
}

void livepipe_publish(fm_livepipe *p, const char *json)
{
    publish_t(p, json, 0);
}

/* A message that must follow the alert events queued before it (the analysis: a viewer gets a
 * stream's alerts before its final analysis, as when the events were synchronous). */
void livepipe_publish_after_events(fm_livepipe *p, const char *json)
{
    size_t n = strlen(json) + 1;
    alert_item *a = p->t->events ? malloc(sizeof *a + n) : NULL;
    if (!a) {
        livepipe_publish(p, json);
        return;
    }
    memset(a, 0, sizeof *a);
    a->bus = p->t->c.bus;
    a->patient_id = p->patient_id;
    memcpy(a->text, json, n);
    a->json = a->text;
    fm_serialq_push(p->t->events, &a->item, p->store);
}

/* The samples so far go to the store: through the writer, else (no writer, no memory) here. */
void livepipe_store_rows(fm_livepipe *p)
{
    size_t n = p->n_rows;
    p->n_rows = 0;
    if (!n || !p->store)
        return;
    row_batch *b = malloc(sizeof *b + n * sizeof b->rows[0]);
    if (!b)
        return; /* derived data: a resume's replay recomputes it */
    snprintf(b->id, sizeof b->id, "%s", p->id);
    b->n = n;
    memcpy(b->rows, p->rows, n * sizeof b->rows[0]);
    if (p->t->writer) {
        fm_serialq_push(p->t->writer, &b->item, p->store);
    } else {
        write_batch(p->store, b);
        free(b);
    }
}

/* {"type":"samples","recording":ID,"k0":K,"seq":S,"fhr":[...],"quality":[...],"state":[...]} */
void livepipe_publish_samples(fm_livepipe *p)
{
    if (!p->n_pub || p->quiet) {
        p->n_pub = 0;
        return;
    }
    char *buf = malloc(128 + p->n_pub * 40);
    if (!buf) {
        p->n_pub = 0;
        return;
    }
    size_t n = (size_t)sprintf(buf, "{\"type\":\"samples\",\"recording\":\"%s\",\"k0\":%lld,"
                                     "\"seq\":%u,\"fhr\":[",
                               p->id, (long long)p->pub[0].k, p->cur_seq);
    for (size_t i = 0; i < p->n_pub; i++) {
        if (isfinite(p->pub[i].fhr_bpm))
            n += (size_t)sprintf(buf + n, "%s%.2f", i ? "," : "", p->pub[i].fhr_bpm);
        else
            n += (size_t)sprintf(buf + n, "%snull", i ? "," : "");
    }
    n += (size_t)sprintf(buf + n, "],\"quality\":[");
    for (size_t i = 0; i < p->n_pub; i++)
        n += (size_t)sprintf(buf + n, "%s%.3f", i ? "," : "", p->pub[i].quality);
    n += (size_t)sprintf(buf + n, "],\"state\":[");
    for (size_t i = 0; i < p->n_pub; i++)
        n += (size_t)sprintf(buf + n, "%s%d", i ? "," : "", p->pub[i].state);
    sprintf(buf + n, "]}");
    publish_t(p, buf, p->cur_t0_us);
    fm_stage_since(FM_STAGE_PUBLISHED, p->cur_t0_us);
    free(buf);
    p->n_pub = 0;
}

/* Copies s into the item's text (NULL stays NULL). */
static const char *keep(alert_item *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    if (a->used + n > a->cap)
        return "";
    char *d = a->text + a->used;
    memcpy(d, s, n);
    a->used += n;
    return d;
}

void livepipe_event_item(void *user, fm_serial_item *it, void *ctx)
{
    (void)user;
    (void)ctx; /* the life cycle has its own store connection */
    alert_item *a = (alert_item *)it;
    if (a->json) {
        char topic[48];
        snprintf(topic, sizeof topic, "patient/%lld", (long long)a->patient_id);
        fm_bus_publish(a->bus, topic, a->json);
    } else {
        fm_alertsvc_event(a->alerts, a->patient_id, a->id, &a->ev);
        fm_stage_since(FM_STAGE_ALERT_EVENT, a->t0_us);
    }
    free(a);
}

/* An engine event: to the life cycle (store, audit, bus, webhooks) through the events queue, so
 * that its store commits never hold this engine worker (and the streams behind it). */
void livepipe_on_alert(void *user, const fm_alert_event *ev)
{
    fm_livepipe *p = user;
    if (p->quiet || !p->t->c.alerts)
        return;
    size_t cap = 0;
    const char *strs[4] = {ev->rule_code, ev->rule_name, ev->clinical_ref, ev->logic};
    for (int i = 0; i < 4; i++)
        cap += strs[i] ? strlen(strs[i]) + 1 : 0;
    for (int i = 0; i < ev->n_values && i < FM_ALERT_MAX_VALUES; i++)
        cap += ev->values[i].key ? strlen(ev->values[i].key) + 1 : 0;
    for (int i = 0; i < ev->n_reasons && i < FM_ALERT_MAX_REASONS; i++)
        cap += ev->reasons[i] ? strlen(ev->reasons[i]) + 1 : 0;
    alert_item *a = p->t->events ? malloc(sizeof *a + cap) : NULL;
    if (!a) { /* no queue (or no memory): here */
        int64_t t0 = fm_stage_on() ? fm_stage_now_us() : 0;
        fm_alertsvc_event(p->t->c.alerts, p->patient_id, p->id, ev);
        fm_stage_since(FM_STAGE_ALERT_EVENT, t0);
        return;
    }
    a->bus = NULL;
    a->json = NULL;
    a->alerts = p->t->c.alerts;
    a->patient_id = p->patient_id;
    snprintf(a->id, sizeof a->id, "%s", p->id);
    a->t0_us = fm_stage_on() ? fm_stage_now_us() : 0;
    a->ev = *ev;
    a->used = 0;
    a->cap = cap;
    a->ev.rule_code = keep(a, ev->rule_code);
    a->ev.rule_name = keep(a, ev->rule_name);
    a->ev.clinical_ref = keep(a, ev->clinical_ref);
    a->ev.logic = keep(a, ev->logic);
    for (int i = 0; i < ev->n_values && i < FM_ALERT_MAX_VALUES; i++)
        a->ev.values[i].key = keep(a, ev->values[i].key);
    for (int i = 0; i < ev->n_reasons && i < FM_ALERT_MAX_REASONS; i++)
        a->ev.reasons[i] = keep(a, ev->reasons[i]);
    fm_serialq_push(p->t->events, &a->item, p->store);
}

/* {"type":"samples_marked","recording":ID,"k0":K,"state":[...]}: samples K, K+1, ... were
 * already sent by "samples" and the false-signal detector re-marked them (one contiguous run). */
void livepipe_publish_marks(fm_livepipe *p)
{
    if (!p->n_marks || p->quiet) {
        p->n_marks = 0;
        return;
    }
    char *buf = malloc(160 + p->n_marks * 4);
    if (!buf) {
        p->n_marks = 0;
        return;
    }
    size_t n = (size_t)sprintf(buf, "{\"type\":\"samples_marked\",\"recording\":\"%s\","
                                     "\"k0\":%lld,\"state\":[",
                               p->id, (long long)p->marks[0].k);
    for (size_t i = 0; i < p->n_marks; i++)
        n += (size_t)sprintf(buf + n, "%s%d", i ? "," : "", p->marks[i].state);
    sprintf(buf + n, "]}");
    livepipe_publish(p, buf);
    free(buf);
    p->n_marks = 0;
}
