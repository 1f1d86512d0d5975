/* Parsing and checking of live ingest messages (see ingest_msg.h). */
#include "ingest_msg.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void refuse(fm_ingest_msg *m, const char *code, const char *message, int fatal)
{
    snprintf(m->error, sizeof m->error, "%s", code);
    m->message = message;
    m->fatal = fatal;
}

static void parse_open(const cJSON *in, fm_ingest_msg *m)
{
    const char *tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "token"));
    const char *fmt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "format"));
    const char *pat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "patient"));
    const char *res = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "stream"));
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(in, "rate_hz");
    if (!tok || !tok[0] || strlen(tok) >= sizeof m->token)
        refuse(m, "unauthorized", "\"token\" missing", 1);
    else if (!fmt || strcmp(fmt, "s16le"))
        refuse(m, "bad_format", "\"format\" must be \"s16le\" (16-bit LE mono)", 0);
    else if (!cJSON_IsNumber(rate) || !(rate->valuedouble >= FM_INGEST_RATE_MIN_HZ) ||
             rate->valuedouble > FM_INGEST_RATE_MAX_HZ ||
             rate->valuedouble != (int)rate->valuedouble)
        refuse(m, "bad_format", "\"rate_hz\" must be an integer 4000..192000", 0);
    else if ((pat && strlen(pat) >= sizeof m->patient) || (res && strlen(res) >= sizeof m->stream))
        refuse(m, "bad_request", "\"patient\" or \"stream\" too long", 0);
    else {
        m->rate_hz = (int)rate->valuedouble;
        snprintf(m->token, sizeof m->token, "%s", tok);
        snprintf(m->patient, sizeof m->patient, "%s", pat ? pat : "");
        snprintf(m->stream, sizeof m->stream, "%s", res ? res : "");
    }
}

void fm_ingest_parse_text(const char *text, size_t len, fm_ingest_msg *m)
{
    memset(m, 0, sizeof *m);
    cJSON *in = cJSON_ParseWithLength(text, len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "type"));
    if (!cJSON_IsObject(in) || !type) {
        m->type = FM_IMSG_BAD;
        refuse(m, "bad_json", "messages are JSON objects with a \"type\"", 0);
    } else if (!strcmp(type, "open")) {
        m->type = FM_IMSG_OPEN;
        parse_open(in, m);
    } else if (!strcmp(type, "close")) {
        m->type = FM_IMSG_CLOSE;
    } else if (!strcmp(type, "movement")) {
        m->type = FM_IMSG_MOVEMENT;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "t_s");
        if (t && (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0)) {
            refuse(m, "bad_request", "\"t_s\" is seconds from the stream start", 0);
        } else if (t) {
            m->has_t = 1;
            m->t_s = t->valuedouble;
        }
    } else {
        m->type = FM_IMSG_UNKNOWN;
        refuse(m, "bad_request", "unknown message type", 0);
    }
    cJSON_Delete(in);
}

int fm_ingest_parse_frame(const unsigned char *b, size_t n, uint32_t *seq,
                          const unsigned char **pcm, size_t *pcm_len)
{
    if (!b || n < 6 || (n - 4) % 2 || n - 4 > FM_INGEST_FRAME_MAX)
        return -1;
    *seq = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    *pcm = b + 4;
    *pcm_len = n - 4;
    return 0;
}
