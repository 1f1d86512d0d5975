/* An alert record as JSON: the one shape the browser, the store's detail column and the webhook
 * receivers see. Written into a caller's buffer (no allocation: called on the event loop).
 * Not for parsing. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"

typedef struct jb {
    char *buf;
    size_t len, n; /* n may exceed len: then the output was truncated */
} jb;

static void put(jb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->n < b->len ? b->len - b->n : 0;
    int k = vsnprintf(room ? b->buf + b->n : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n += (size_t)k;
}

static void str(jb *b, const char *s)
{
    put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            put(b, "\\%c", *p);
        else if (*p == '\n')
            put(b, "\\n");
        else if (*p < 0x20)
            put(b, "\\u%04x", *p);
        else
            put(b, "%c", *p);
    }
    put(b, "\"");
}

static void num(jb *b, double v)
{
    if (isfinite(v))
        put(b, "%.6g", v);
    else
        put(b, "null");
}

size_t fm_al_record_json(const fm_al_record *r, char *buf, size_t len)
{
    jb b = {buf, len, 0};
    if (len)
        buf[0] = 0;
    put(&b, "{\"type\":\"alert.%s\",\"alert_id\":%lld,\"patient_id\":%lld,\"source\":",
        fm_al_action_name(r->action), (long long)r->alert_id, (long long)r->patient_id);
    str(&b, r->source);
    put(&b, ",\"episode_id\":%llu,\"state\":\"%s\",\"t_ms\":%lld,\"actor_id\":%lld,\"level\":%d",
        (unsigned long long)r->episode_id, fm_al_state_name(r->state), (long long)r->t_ms,
        (long long)r->actor_id, r->level);
    put(&b, ",\"targets\":[");
    for (size_t i = 0; i < r->n_targets; i++)
        put(&b, "%s%lld", i ? "," : "", (long long)r->targets[i]);
    put(&b, "],\"priority\":\"%s\"", fm_alert_priority_name(r->priority));
    if (r->note) {
        put(&b, ",\"note\":");
        str(&b, r->note);
    }
    const fm_alert_event *e = r->event;
    if (e) {
        put(&b, ",\"rule\":");
        str(&b, e->rule_code);
        put(&b, ",\"rule_name\":");
        str(&b, e->rule_name);
        put(&b, ",\"kind\":\"%s\",\"clinical_ref\":", fm_alert_kind_name(e->kind));
        str(&b, e->clinical_ref);
        put(&b, ",\"event\":\"%s\",\"start_s\":", fm_alert_event_type_name(e->type));
        num(&b, e->start_s);
        put(&b, ",\"end_s\":");
        num(&b, e->end_s);
        put(&b, ",\"at_s\":");
        num(&b, e->at_s);
        put(&b, ",\"values\":{");
        for (int i = 0; i < e->n_values; i++) {
            put(&b, i ? "," : "");
            str(&b, e->values[i].key);
            put(&b, ":");
            num(&b, e->values[i].value);
        }
        put(&b, "},\"reasons\":[");
        for (int i = 0; i < e->n_reasons; i++) {
            put(&b, i ? "," : "");
            str(&b, e->reasons[i]);
        }
        put(&b, "],\"message\":");
        str(&b, e->message);
        put(&b, ",\"logic\":");
        str(&b, e->logic);
    }
    put(&b, "}");
    if (len && b.n >= len)
        buf[len - 1] = 0;
    return b.n;
}
