/* fm_decode: audio file -> fm_audio -> fm_doppler -> fm_trace (see decode.h).
 * The only buffers are one block of mono samples and the growing 4 Hz output (16 bytes per
 * 250 ms: 0.5 MB for 2 hours). Not for live streams. */
#include "fetalmon/decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/audio.h"

/* Samples per read: large blocks keep libsndfile's per-call cost negligible. */
#define DECODE_BLOCK 65536

typedef struct collect {
    size_t n, cap;
    float *fhr, *quality;
    uint8_t *state;
    int overflow, nomem;
} collect;

static void collect_sink(void *user, const fm_fhr_sample *s)
{
    collect *c = user;
    if (c->n >= FM_TRACE_MAX_SAMPLES) {
        c->overflow = 1;
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4096;
        float *f = realloc(c->fhr, cap * sizeof *f);
        if (f)
            c->fhr = f;
        float *q = f ? realloc(c->quality, cap * sizeof *q) : NULL;
        if (q)
            c->quality = q;
        uint8_t *st = q ? realloc(c->state, cap) : NULL;
        if (!st) {
            c->nomem = 1;
            return;
        }
        c->state = st;
        c->cap = cap;
    }
    c->fhr[c->n] = s->fhr_bpm;
    c->quality[c->n] = s->quality;
    c->state[c->n] = (uint8_t)s->state;
    c->n++;
}

static fm_status run(fm_audio *a, const fm_doppler_config *cfg, fm_progress_fn progress, void *user,
                     fm_trace **out, fm_decode_info *info, char *err, size_t err_len)
{
    collect c = {0};
    float *block = malloc(DECODE_BLOCK * sizeof *block);
    fm_doppler *q = block ? fm_doppler_create(fm_audio_rate_hz(a), cfg, collect_sink, &c) : NULL;
    fm_status rc = FM_OK;
    if (!q) {
        rc = block ? FM_EINVAL : FM_ENOMEM;
        snprintf(err, err_len, "cannot create the Doppler engine (%s)", fm_strerror(rc));
        goto done;
    }
    int64_t total = fm_audio_frames(a), frames = 0;
    double next_report = 0.01;
    for (;;) {
        size_t got = 0;
        rc = fm_audio_read(a, block, DECODE_BLOCK, &got);
        if (rc != FM_OK) {
            snprintf(err, err_len, "read error after %lld samples", (long long)frames);
            goto done;
        }
        if (got == 0)
            break;
        fm_doppler_push(q, block, got);
        frames += (int64_t)got;
        if (c.overflow || c.nomem)
            break;
        if (progress && total > 0 && (double)frames / (double)total >= next_report) {
            progress(user, (double)frames / (double)total);
            next_report = (double)frames / (double)total + 0.01;
        }
    }
    fm_doppler_flush(q);
    if (c.nomem) {
        rc = FM_ENOMEM;
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    if (c.overflow) {
        rc = FM_ERANGE;
        snprintf(err, err_len, "recording longer than %d hours",
                 (int)(FM_TRACE_MAX_SAMPLES / 14400));
        goto done;
    }
    if (c.n == 0) {
        rc = FM_EEMPTY;
        snprintf(err, err_len, "the file holds no audio samples");
        goto done;
    }
    fm_trace *t = fm_trace_create(c.n, 0, 0);
    if (!t) {
        rc = FM_ENOMEM;
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    memcpy(t->fhr_bpm, c.fhr, c.n * sizeof *c.fhr);
    memcpy(t->quality, c.quality, c.n * sizeof *c.quality);
    memcpy(t->state, c.state, c.n);
    *out = t;
    if (info) {
        snprintf(info->format, sizeof info->format, "%s", fm_audio_format_name(a));
        info->rate_hz = fm_audio_rate_hz(a);
        info->channels = fm_audio_channels(a);
        info->channel_used = fm_audio_channel_used(a);
        info->frames = frames;
    }
    if (progress)
        progress(user, 1.0);
done:
    fm_doppler_destroy(q);
    free(block);
    free(c.fhr);
    free(c.quality);
    free(c.state);
    return rc;
}

fm_status fm_decode_file(const char *path, const fm_doppler_config *cfg, fm_progress_fn progress,
                         void *user, fm_trace **out, fm_decode_info *info, char *err,
                         size_t err_len)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_len = sizeof dummy;
    }
    if (!out || !path)
        return FM_EINVAL;
    *out = NULL;
    fm_audio *a = NULL;
    fm_status rc = fm_audio_open(path, &a, err, err_len);
    if (rc != FM_OK)
        return rc;
    rc = run(a, cfg, progress, user, out, info, err, err_len);
    fm_audio_close(a);
    return rc;
}

fm_status fm_decode_memory(const void *buf, size_t len, const fm_doppler_config *cfg,
                           fm_progress_fn progress, void *user, fm_trace **out,
                           fm_decode_info *info, char *err, size_t err_len)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        err_len = sizeof dummy;
    }
    if (!out)
        return FM_EINVAL;
    *out = NULL;
    fm_audio *a = NULL;
    fm_status rc = fm_audio_open_memory(buf, len, &a, err, err_len);
    if (rc != FM_OK)
        return rc;
    rc = run(a, cfg, progress, user, out, info, err, err_len);
    fm_audio_close(a);
    return rc;
}
