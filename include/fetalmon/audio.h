/* fm_audio: reads any file libsndfile opens as a stream of mono float blocks.
 *
 * Chooses the channel with the most fetal Doppler band energy (or the mix of all channels when
 * none stands out) and says which. Never loads the whole file. Not for decoding to FHR (doppler.h).
 */
#ifndef FETALMON_AUDIO_H
#define FETALMON_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fm_audio fm_audio;

fm_status fm_audio_open(const char *path, fm_audio **out, char *err, size_t err_len);
/* Read from memory (fuzzing, uploads held in memory). buf must outlive the reader. */
fm_status fm_audio_open_memory(const void *buf, size_t len, fm_audio **out, char *err,
                               size_t err_len);
double fm_audio_rate_hz(const fm_audio *a);
int fm_audio_channels(const fm_audio *a);
int64_t fm_audio_frames(const fm_audio *a);   /* -1 when unknown */
int fm_audio_channel_used(const fm_audio *a); /* 0-based channel, or -1 for the mix */
const char *fm_audio_format_name(const fm_audio *a);
/* Read up to max mono samples; *got = 0 at the end. */
fm_status fm_audio_read(fm_audio *a, float *mono, size_t max, size_t *got);
void fm_audio_close(fm_audio *a);

#ifdef __cplusplus
}
#endif
#endif
