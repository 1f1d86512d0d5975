/* fm_audio: any audio file libsndfile reads, as a stream of mono float blocks (see audio.h).
 *
 * Channel choice: a multi-channel file is scanned once over its first CHANNEL_SCAN_S seconds;
 * the energy of each channel in the fetal Doppler band (CHANNEL_BAND_LO_HZ..HI) is measured and
 * the strongest channel is used when it carries at least CHANNEL_DOMINANCE times the energy of
 * the runner-up; otherwise all channels are mixed (averaged). Then the file is read again from
 * the start. fm_audio_channel_used() says which (-1 = mix).
 * Not for decoding to FHR (doppler.h, decode.h) and not a general audio library. */
#include "fetalmon/audio.h"

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fetalmon/doppler.h"

#define CHANNEL_SCAN_S 30.0
#define CHANNEL_BAND_LO_HZ 100.0
#define CHANNEL_BAND_HI_HZ 1000.0
#define CHANNEL_DOMINANCE 2.0 /* 3 dB */
/* Frames per internal read of a multi-channel file. */
#define READ_FRAMES 16384

typedef struct mem_io {
    const unsigned char *buf;
    sf_count_t len, pos;
} mem_io;

struct fm_audio {
    SNDFILE *sf;
    SF_INFO info;
    mem_io mem;
    int channel_used; /* -1 = mix */
    float *inter;     /* READ_FRAMES * channels, multi-channel only */
    char format[32];
};

static sf_count_t mem_len(void *u)
{
    return ((mem_io *)u)->len;
}

static sf_count_t mem_seek(sf_count_t off, int whence, void *u)
{
    mem_io *m = u;
    sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->len + off;
    if (p < 0 || p > m->len)
        return -1;
    m->pos = p;
    return p;
}

static sf_count_t mem_read(void *dst, sf_count_t n, void *u)
{
    mem_io *m = u;
    if (n > m->len - m->pos)
        n = m->len - m->pos;
    if (n <= 0)
        return 0;
    memcpy(dst, m->buf + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t mem_write(const void *src, sf_count_t n, void *u)
{
    (void)src;
    (void)n;
    (void)u;
    return 0;
}

static sf_count_t mem_tell(void *u)
{
    return ((mem_io *)u)->pos;
}

static void set_err(char *err, size_t err_len, const char *fmt, const char *a)
{
    if (err && err_len)
        snprintf(err, err_len, fmt, a);
}

static const char *major_name(int major)
{
    switch (major) {
    case SF_FORMAT_WAV: return "WAV";
    case SF_FORMAT_WAVEX: return "WAVEX";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_AU: return "AU";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_OGG: return "OGG";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_RAW: return "RAW";
#ifdef SF_FORMAT_MPEG
    case SF_FORMAT_MPEG: return "MP3";
#endif
    default: return "audio";
    }
}

static const char *sub_name(int sub)
{
    switch (sub) {
    case SF_FORMAT_PCM_S8: return "PCM_S8";
    case SF_FORMAT_PCM_U8: return "PCM_U8";
    case SF_FORMAT_PCM_16: return "PCM_16";
    case SF_FORMAT_PCM_24: return "PCM_24";
    case SF_FORMAT_PCM_32: return "PCM_32";
    case SF_FORMAT_FLOAT: return "FLOAT";
    case SF_FORMAT_DOUBLE: return "DOUBLE";
    case SF_FORMAT_ULAW: return "ULAW";
    case SF_FORMAT_ALAW: return "ALAW";
    case SF_FORMAT_VORBIS: return "VORBIS";
    case SF_FORMAT_OPUS: return "OPUS";
    default: return NULL;
    }
}

/* Band energy per channel over the first CHANNEL_SCAN_S seconds; chooses channel_used. */
static fm_status choose_channel(fm_audio *a)
{
    int nc = a->info.channels;
    double fs = a->info.samplerate;
    double *e = calloc((size_t)nc, sizeof *e);
    double *z = calloc((size_t)nc * 4, sizeof *z); /* per channel: HP state, LP state */
    if (!e || !z) {
        free(e);
        free(z);
        return FM_ENOMEM;
    }
    /* One-pole high-pass and two-pole (two one-pole) low-pass: a rough band measure is enough. */
    double ahp = exp(-2.0 * M_PI * CHANNEL_BAND_LO_HZ / fs);
    double alp = exp(-2.0 * M_PI * CHANNEL_BAND_HI_HZ / fs);
    sf_count_t left = (sf_count_t)(CHANNEL_SCAN_S * fs), got;
    while (left > 0 &&
           (got = sf_readf_float(a->sf, a->inter, left < READ_FRAMES ? left : READ_FRAMES)) > 0) {
        for (sf_count_t i = 0; i < got; i++) {
            for (int c = 0; c < nc; c++) {
                double x = a->inter[i * nc + c], *s = z + 4 * c;
                if (!isfinite(x))
                    x = 0.0;
                double hp = ahp * (s[0] + x - s[1]);
                s[1] = x;
                s[0] = hp;
                s[2] = alp * s[2] + (1.0 - alp) * hp;
                s[3] = alp * s[3] + (1.0 - alp) * s[2];
                e[c] += s[3] * s[3];
            }
        }
        left -= got;
    }
    int best = 0;
    for (int c = 1; c < nc; c++)
        if (e[c] > e[best])
            best = c;
    double second = 0.0;
    for (int c = 0; c < nc; c++)
        if (c != best && e[c] > second)
            second = e[c];
    a->channel_used = e[best] > 0.0 && e[best] >= CHANNEL_DOMINANCE * second ? best : -1;
    free(e);
    free(z);
    if (sf_seek(a->sf, 0, SEEK_SET) != 0)
        return FM_EIO;
    return FM_OK;
}

/* A RIFF/WAVE header whose fmt chunk (at its usual place) says 0 Hz: libsndfile refuses it with
 * an obscure message, so we name the cause. */
static int wav_rate_is_zero(const unsigned char *h, size_t n)
{
    return n >= 28 && !memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVEfmt ", 8) && h[24] == 0 &&
           h[25] == 0 && h[26] == 0 && h[27] == 0;
}

static fm_status finish_open(fm_audio *a, fm_audio **out, const unsigned char *head,
                             size_t head_len, char *err, size_t err_len)
{
    char num[64];
    if (!a->sf) {
        fm_status rc = FM_EFORMAT;
        if (wav_rate_is_zero(head, head_len)) {
            set_err(err, err_len, "%s", "sample rate 0 Hz in the WAV header");
            rc = FM_ERATE;
        } else {
            set_err(err, err_len, "not an audio file libsndfile can read (%s)", sf_strerror(NULL));
        }
        free(a);
        return rc;
    }
    fm_status rc = FM_OK;
    if (a->info.channels < 1 || a->info.channels > 64) {
        snprintf(num, sizeof num, "%d", a->info.channels);
        set_err(err, err_len, "unsupported channel count %s", num);
        rc = FM_EFORMAT;
    } else if (a->info.samplerate < FM_DOPPLER_MIN_RATE_HZ ||
               a->info.samplerate > FM_DOPPLER_MAX_RATE_HZ) {
        snprintf(num, sizeof num, "%d", a->info.samplerate);
        set_err(err, err_len, "sample rate %s Hz is outside 4000..192000 Hz", num);
        rc = FM_ERATE;
    } else if (a->info.frames == 0) {
        set_err(err, err_len, "%s", "the file holds no audio samples");
        rc = FM_EEMPTY;
    }
    if (rc == FM_OK) {
        const char *sub = sub_name(a->info.format & SF_FORMAT_SUBMASK);
        snprintf(a->format, sizeof a->format, "%s%s%s",
                 major_name(a->info.format & SF_FORMAT_TYPEMASK), sub ? "/" : "", sub ? sub : "");
        a->channel_used = 0;
        if (a->info.channels > 1) {
            a->inter = malloc((size_t)READ_FRAMES * (size_t)a->info.channels * sizeof *a->inter);
            rc = a->inter ? choose_channel(a) : FM_ENOMEM;
            if (rc != FM_OK)
                set_err(err, err_len, "%s", "cannot scan the channels of the file");
        }
    }
    if (rc != FM_OK) {
        fm_audio_close(a);
        return rc;
    }
    *out = a;
    return FM_OK;
}

fm_status fm_audio_open(const char *path, fm_audio **out, char *err, size_t err_len)
{
    if (!out || !path)
        return FM_EINVAL;
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        set_err(err, err_len, "%s", "the file is empty");
        return FM_EEMPTY;
    }
    fm_audio *a = calloc(1, sizeof *a);
    if (!a)
        return FM_ENOMEM;
    a->sf = sf_open(path, SFM_READ, &a->info);
    unsigned char head[32];
    size_t head_len = 0;
    if (!a->sf) {
        FILE *f = fopen(path, "rb");
        if (f) {
            head_len = fread(head, 1, sizeof head, f);
            fclose(f);
        }
    }
    return finish_open(a, out, head, head_len, err, err_len);
}

fm_status fm_audio_open_memory(const void *buf, size_t len, fm_audio **out, char *err,
                               size_t err_len)
{
    if (!out || (!buf && len))
        return FM_EINVAL;
    *out = NULL;
    if (len == 0) {
        set_err(err, err_len, "%s", "the input is empty");
        return FM_EEMPTY;
    }
    fm_audio *a = calloc(1, sizeof *a);
    if (!a)
        return FM_ENOMEM;
    SF_VIRTUAL_IO vio = {mem_len, mem_seek, mem_read, mem_write, mem_tell}; /* copied by sndfile */
    a->mem.buf = buf;
    a->mem.len = (sf_count_t)len;
    a->sf = sf_open_virtual(&vio, SFM_READ, &a->info, &a->mem);
    return finish_open(a, out, buf, len, err, err_len);
}

double fm_audio_rate_hz(const fm_audio *a)
{
    return a ? a->info.samplerate : 0.0;
}
int fm_audio_channels(const fm_audio *a)
{
    return a ? a->info.channels : 0;
}
int64_t fm_audio_frames(const fm_audio *a)
{
    /* libsndfile reports SF_COUNT_MAX when it cannot tell (e.g. pipes). */
    return a && a->info.frames >= 0 && a->info.frames < SF_COUNT_MAX ? (int64_t)a->info.frames : -1;
}
int fm_audio_channel_used(const fm_audio *a)
{
    return a ? a->channel_used : 0;
}
const char *fm_audio_format_name(const fm_audio *a)
{
    return a ? a->format : "";
}

fm_status fm_audio_read(fm_audio *a, float *mono, size_t max, size_t *got)
{
    if (!a || !got || (!mono && max))
        return FM_EINVAL;
    *got = 0;
    int nc = a->info.channels;
    if (nc == 1) {
        sf_count_t g = sf_read_float(a->sf, mono, (sf_count_t)max);
        if (g < 0 || (g == 0 && sf_error(a->sf) != SF_ERR_NO_ERROR))
            return FM_EIO;
        *got = (size_t)g;
        return FM_OK;
    }
    size_t done = 0;
    while (done < max) {
        size_t want = max - done < READ_FRAMES ? max - done : READ_FRAMES;
        sf_count_t g = sf_readf_float(a->sf, a->inter, (sf_count_t)want);
        if (g <= 0)
            break;
        if (a->channel_used >= 0) {
            for (sf_count_t i = 0; i < g; i++)
                mono[done + (size_t)i] = a->inter[i * nc + a->channel_used];
        } else {
            float inv = 1.0f / (float)nc;
            for (sf_count_t i = 0; i < g; i++) {
                float s = 0.0f;
                for (int c = 0; c < nc; c++)
                    s += a->inter[i * nc + c];
                mono[done + (size_t)i] = s * inv;
            }
        }
        done += (size_t)g;
    }
    *got = done;
    return FM_OK;
}

void fm_audio_close(fm_audio *a)
{
    if (!a)
        return;
    if (a->sf)
        sf_close(a->sf);
    free(a->inter);
    free(a);
}
