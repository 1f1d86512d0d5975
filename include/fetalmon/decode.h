/* fm_decode: a whole audio recording to a 4 Hz FHR trace, the convenience the CLI and the
 * server's workers use. Streams the file in blocks through fm_audio and fm_doppler (memory stays
 * flat whatever the length), reports progress, and returns the trace plus what was read.
 * Not for live streams (push into fm_doppler directly). */
#ifndef FETALMON_DECODE_H
#define FETALMON_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"
#include "fetalmon/doppler.h"
#include "fetalmon/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called with 0..1 as decoding advances (at most about every 1 %), and 1 at the end. */
typedef void (*fm_progress_fn)(void *user, double fraction);

typedef struct fm_decode_info {
    char format[32]; /* e.g. "WAV/PCM_16", "FLAC/PCM_24", "OGG/VORBIS" */
    double rate_hz;
    int channels;
    int channel_used; /* 0-based channel analysed, -1 = mix of all channels */
    int64_t frames;   /* frames read */
} fm_decode_info;

/* Decode a file (path) or a buffer in memory (buf, len; path NULL). cfg may be NULL. On success
 * *out is a new trace (caller destroys it); on failure *out is NULL, err gets a one-line reason.
 * Recordings longer than FM_TRACE_MAX_SAMPLES give FM_ERANGE. */
fm_status fm_decode_file(const char *path, const fm_doppler_config *cfg, fm_progress_fn progress,
                         void *user, fm_trace **out, fm_decode_info *info, char *err,
                         size_t err_len);
fm_status fm_decode_memory(const void *buf, size_t len, const fm_doppler_config *cfg,
                           fm_progress_fn progress, void *user, fm_trace **out,
                           fm_decode_info *info, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
