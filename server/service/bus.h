/* fm_bus: the event bus for live fan-out (recording state changes, analysis updates, trace
 * samples, alerts). Producers on any thread publish a JSON event on a topic ("patient/42");
 * the loop thread dispatches queued events to the subscribers whose topic prefix matches, and
 * they push into their connections' lws_ring.
 *
 * This is the in-process bus of a single server. The interface is the one several instances
 * sharing PostgreSQL would use (publish = NOTIFY on the topic, a listener thread feeding the
 * same queue), so callers never know which. The queue is bounded: when producers outrun the
 * loop the oldest events are dropped and subscribers are told to resync from the store. */
#ifndef FM_BUS_H
#define FM_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

typedef struct fm_bus fm_bus;

/* Delivers one event (json is NUL-terminated; valid only during the call). A NULL json means
 * "events were lost: reload your state from the store". */
typedef void (*fm_bus_handler)(void *user, const char *topic, const char *json);

fm_bus *fm_bus_create(size_t max_queued, void (*wake)(void *), void *wake_user);
void fm_bus_destroy(fm_bus *b);
/* Any thread. Copies topic and json. FM_SVC_LIMIT when an older event had to be dropped. */
fm_svc_status fm_bus_publish(fm_bus *b, const char *topic, const char *json);
/* The same, with the time (fm_stage_now_us) of what caused the event, for the stage timings
 * (ingest_stages.h); 0 = none. */
fm_svc_status fm_bus_publish_t(fm_bus *b, const char *topic, const char *json, int64_t t0_us);
/* Loop, inside a handler: that time of the event being delivered (0 = none). */
int64_t fm_bus_event_t0(const fm_bus *b);
/* Loop thread. `topic` is an exact topic ("patient/42": never "patient/420"), or a prefix when
 * it ends with '/' ("patient/" = every patient) or is empty (everything). Exact topics are
 * found through a hash table, so fan-out costs the number of interested subscribers, not the
 * number of subscriptions. Returns the subscription, or NULL when out of memory. Handlers must
 * not unsubscribe anyone but themselves while an event is being delivered. */
typedef struct fm_bus_sub fm_bus_sub;
fm_bus_sub *fm_bus_subscribe(fm_bus *b, const char *topic, fm_bus_handler h, void *user);
void fm_bus_unsubscribe(fm_bus *b, fm_bus_sub *sub);
/* Loop thread: delivers everything queued; returns the number of events delivered. */
size_t fm_bus_dispatch(fm_bus *b);
/* Metrics. */
size_t fm_bus_depth(fm_bus *b);
size_t fm_bus_dropped(fm_bus *b);

#endif
