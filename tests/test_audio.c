/* Tests of fm_audio (dsp/audio.c) and fm_decode (dsp/decode.c): every sample format and a range
 * of rates read back exactly, the multi-channel choice, memory input, and bad input (empty, text,
 * truncated, one sample, 0 Hz header, all-zero, 2 hours) -> a clear error or an all-lost trace,
 * never a crash. */
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fetalmon/audio.h"
#include "fetalmon/decode.h"
#include "synth.h"
#include "test_doppler_sig.h"

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char p[8][700];
    static int i;
    i = (i + 1) % 8;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

/* Write n frames of interleaved float data with libsndfile. */
static int write_audio(const char *path, int format, int rate, int channels, const float *x,
                       sf_count_t frames)
{
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf)
        return -1;
    sf_count_t w = sf_writef_float(sf, x, frames);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        if (n)
            fwrite(b, 1, n, f);
        fclose(f);
    }
}

static void reads_every_sample_format_and_rate(void)
{
    const struct {
        int format;
        double tol;
        const char *name;
    } fmts[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1.0 / 64, "WAV/PCM_U8"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1.0 / 16384, "WAV/PCM_16"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_24, 1e-6, "WAV/PCM_24"},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_32, 1e-6, "WAV/PCM_32"},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, "WAV/FLOAT"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1.0 / 16384, "FLAC/PCM_16"},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 1e-6, "FLAC/PCM_24"},
        {SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1.0 / 16384, "AIFF/PCM_16"},
        {SF_FORMAT_OGG | SF_FORMAT_VORBIS, -1.0, "OGG/VORBIS"}, /* lossy: length only */
#ifdef SF_FORMAT_MPEG_LAYER_III
        {SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, -1.0, "MP3"},
#endif
    };
    const int rates[] = {4000, 8000, 44100, 192000};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        size_t n = (size_t)rates[r] * 2;
        float *x = malloc(n * sizeof *x), *y = malloc((n + 16) * sizeof *y);
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * (float)sin(2 * M_PI * 300.0 * i / rates[r]);
        for (size_t f = 0; f < sizeof fmts / sizeof *fmts; f++) {
            SF_INFO probe = {.samplerate = rates[r], .channels = 1, .format = fmts[f].format};
            if (!sf_format_check(&probe))
                continue; /* e.g. MP3 at 4 kHz, FLAC above 655 kHz: not writable */
            const char *path = tmp_path("fmt.audio");
            if (write_audio(path, fmts[f].format, rates[r], 1, x, (sf_count_t)n) != 0)
                continue; /* this libsndfile build cannot write it: nothing to read back */
            fm_audio *a = NULL;
            char err[256] = "";
            fm_status rc = fm_audio_open(path, &a, err, sizeof err);
            CHECKF(rc == FM_OK, "%s at %d Hz: %s", fmts[f].name, rates[r], err);
            if (rc != FM_OK)
                continue;
            CHECK(fm_audio_rate_hz(a) == rates[r]);
            CHECK(fm_audio_channels(a) == 1);
            CHECK(fm_audio_channel_used(a) == 0);
            CHECKF(!strncmp(fm_audio_format_name(a), fmts[f].name, strlen(fmts[f].name)),
                   "%s vs %s", fm_audio_format_name(a), fmts[f].name);
            size_t got = 0, total = 0;
            double maxerr = 0.0;
            while (fm_audio_read(a, y, 1000, &got) == FM_OK && got) {
                for (size_t i = 0; i < got && total + i < n; i++)
                    maxerr = fmax(maxerr, fabs(y[i] - x[total + i]));
                total += got;
            }
            if (fmts[f].tol >= 0.0) {
                CHECKF(total == n, "%s: %zu of %zu samples", fmts[f].name, total, n);
                CHECKF(maxerr <= fmts[f].tol + 1e-7, "%s at %d Hz: error %g", fmts[f].name,
                       rates[r], maxerr);
            } else {
                CHECKF(total + rates[r] / 10 >= n, "%s: %zu of %zu samples", fmts[f].name, total,
                       n);
            }
            fm_audio_close(a);
        }
        free(x);
        free(y);
    }
}

/* Three channels: receiver noise, the Doppler signal, receiver noise. Channel 1 is chosen. A
 * stereo file with the same signal in both channels is mixed. */
static void multichannel_file_uses_the_doppler_channel(void)
{
    const int rate = 8000, nc = 3;
    size_t n4 = 4 * 20, n = (size_t)rate * 20;
    float *fhr = malloc(n4 * sizeof *fhr);
    for (size_t k = 0; k < n4; k++)
        fhr[k] = 140.0f;
    float *ch[3], *inter = malloc(n * nc * sizeof *inter);
    for (int c = 0; c < nc; c++) {
        fm_synth_config cfg;
        fm_synth_config_default(&cfg);
        cfg.seed = 20 + (uint64_t)c;
        cfg.noise_only = c != 1;
        fm_synth *sy = fm_synth_create(&cfg, fhr, n4, NULL, NULL);
        ch[c] = malloc(n * sizeof **ch);
        CHECK(fm_synth_render(sy, ch[c], n) == n);
        fm_synth_destroy(sy);
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < nc; c++)
            inter[i * nc + c] = ch[c][i];
    const char *path = tmp_path("multi.wav");
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, rate, nc, inter, (sf_count_t)n) == 0);
    fm_trace *t = NULL;
    fm_decode_info info;
    char err[256] = "";
    CHECK(fm_decode_file(path, NULL, NULL, NULL, &t, &info, err, sizeof err) == FM_OK);
    CHECK(info.channels == 3);
    CHECKF(info.channel_used == 1, "channel_used %d", info.channel_used);
    CHECK(t && t->n == n4);
    size_t ok = 0;
    for (size_t k = 0; t && k < t->n; k++)
        ok += t->state[k] == FM_STATE_OK && fabsf(t->fhr_bpm[k] - 140.0f) <= 5.0f;
    CHECKF(ok > n4 / 2, "%zu of %zu ok near 140", ok, n4);
    fm_trace_destroy(t);
    /* identical channels: no channel stands out -> mix */
    for (size_t i = 0; i < n; i++)
        inter[2 * i] = inter[2 * i + 1] = ch[1][i];
    CHECK(write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 2, inter, (sf_count_t)n) == 0);
    fm_audio *a = NULL;
    CHECK(fm_audio_open(path, &a, err, sizeof err) == FM_OK);
    CHECK(fm_audio_channel_used(a) == -1);
    float y[512];
    size_t got = 0;
    CHECK(fm_audio_read(a, y, 512, &got) == FM_OK && got == 512);
    CHECK(fabsf(y[100] - ch[1][100]) < 1e-6f);
    fm_audio_close(a);
    for (int c = 0; c < nc; c++)
        free(ch[c]);
    free(inter);
    free(fhr);
}

static void memory_input_equals_file_input(void)
{
    float fhr = 150.0f;
    size_t n = 8000 * 15;
    float *x = malloc(n * sizeof *x);
    tsig_gen g;
    tsig_gen_init(&g, &fhr, NULL, 1, 8000, 0, 0.3, 3);
    tsig_gen_run(&g, x, n);
    const char *path = tmp_path("mem.flac");
    CHECK(write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, x, (sf_count_t)n) == 0);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    unsigned char *buf = malloc(4 << 20);
    size_t len = f ? fread(buf, 1, 4 << 20, f) : 0;
    if (f)
        fclose(f);
    fm_trace *a = NULL, *b = NULL;
    fm_decode_info ia, ib;
    CHECK(fm_decode_file(path, NULL, NULL, NULL, &a, &ia, NULL, 0) == FM_OK);
    CHECK(fm_decode_memory(buf, len, NULL, NULL, NULL, &b, &ib, NULL, 0) == FM_OK);
    CHECK(a && b && a->n == b->n && a->n == 60);
    CHECK(a && b && !memcmp(a->state, b->state, a->n) &&
          !memcmp(a->quality, b->quality, a->n * sizeof(float)));
    CHECK(!strcmp(ia.format, "FLAC/PCM_16") && !strcmp(ib.format, "FLAC/PCM_16"));
    fm_trace_destroy(a);
    fm_trace_destroy(b);
    free(buf);
    free(x);
}

static int progress_calls;
static double progress_last;
static void on_progress(void *user, double f)
{
    (void)user;
    CHECK(f >= progress_last && f <= 1.0);
    progress_last = f;
    progress_calls++;
}

static void bad_inputs_give_clear_errors(void)
{
    char err[256];
    fm_trace *t = NULL;
    /* empty file */
    const char *p = tmp_path("empty.wav");
    write_bytes(p, "", 0);
    err[0] = 0;
    CHECK(fm_decode_file(p, NULL, NULL, NULL, &t, NULL, err, sizeof err) != FM_OK);
    CHECK(!t && err[0]);
    CHECK(fm_decode_memory("", 0, NULL, NULL, NULL, &t, NULL, err, sizeof err) == FM_EEMPTY);
    /* text file */
    p = tmp_path("text.wav");
    const char *txt = "time_s,fhr_bpm\n0,140\n0.25,141\nthis is not audio at all\n";
    write_bytes(p, txt, strlen(txt));
    err[0] = 0;
    CHECK(fm_decode_file(p, NULL, NULL, NULL, &t, NULL, err, sizeof err) == FM_EFORMAT);
    CHECK(!t && err[0]);
    CHECK(fm_decode_memory(txt, strlen(txt), NULL, NULL, NULL, &t, NULL, err, sizeof err) ==
          FM_EFORMAT);
    /* missing file */
    CHECK(fm_decode_file(tmp_path("nope.wav"), NULL, NULL, NULL, &t, NULL, err, sizeof err) !=
          FM_OK);
    /* 0 Hz header: a hand-made 44-byte WAV header with sample rate 0 and 8 data bytes */
    unsigned char h[52] = {'R', 'I', 'F', 'F', 44, 0, 0, 0, 'W', 'A', 'V', 'E', 'f',
                           'm', 't', ' ', 16,  0,  0, 0, 1, 0,   1,   0,   0,   0,
                           0,   0,   0,   0,   0,  0, 2, 0, 16,  0,   'd', 'a', 't',
                           'a', 8,   0,   0,   0,  1, 0, 2, 0,   3,   0,   4,   0};
    p = tmp_path("zero_rate.wav");
    write_bytes(p, h, sizeof h);
    err[0] = 0;
    fm_status rc = fm_decode_file(p, NULL, NULL, NULL, &t, NULL, err, sizeof err);
    CHECKF(rc == FM_ERATE, "%s", fm_strerror(rc));
    CHECK(!t && strstr(err, "0 Hz"));
    CHECK(fm_decode_memory(h, sizeof h, NULL, NULL, NULL, &t, NULL, err, sizeof err) == FM_ERATE);
    /* 2000 Hz: below what the engine accepts */
    h[24] = 0xd0, h[25] = 0x07, h[28] = 0xa0, h[29] = 0x0f;
    write_bytes(p, h, sizeof h);
    CHECK(fm_decode_file(p, NULL, NULL, NULL, &t, NULL, err, sizeof err) == FM_ERATE);
    /* 1-sample file: one 4 Hz sample, lost */
    float one = 0.25f;
    p = tmp_path("one.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, &one, 1) == 0);
    CHECK(fm_decode_file(p, NULL, NULL, NULL, &t, NULL, err, sizeof err) == FM_OK);
    CHECK(t && t->n == 1 && t->state[0] == FM_STATE_LOST && isnan(t->fhr_bpm[0]));
    fm_trace_destroy(t);
    t = NULL;
    /* truncated WAV: the header promises 10 s, the file holds 3 s */
    size_t n = 8000 * 10;
    float *x = malloc(n * sizeof *x);
    tsig_gen g;
    float fhr = 140.0f;
    tsig_gen_init(&g, &fhr, NULL, 1, 8000, 0, 0.3, 5);
    tsig_gen_run(&g, x, n);
    p = tmp_path("full.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, (sf_count_t)n) == 0);
    FILE *f = fopen(p, "rb");
    unsigned char *buf = malloc(44 + 2 * n);
    size_t len = f ? fread(buf, 1, 44 + 2 * n, f) : 0;
    if (f)
        fclose(f);
    CHECK(len == 44 + 2 * n);
    p = tmp_path("truncated.wav");
    write_bytes(p, buf, 44 + 2 * 8000 * 3 + 1); /* odd: ends inside a sample */
    progress_calls = 0;
    progress_last = 0.0;
    rc = fm_decode_file(p, NULL, on_progress, NULL, &t, NULL, err, sizeof err);
    CHECKF(rc == FM_OK || rc == FM_ETRUNCATED || rc == FM_EFORMAT, "%s", fm_strerror(rc));
    if (rc == FM_OK) {
        CHECKF(t && t->n >= 12 && t->n <= 40, "%zu samples", t ? t->n : 0);
        CHECK(progress_calls > 0 && progress_last == 1.0);
    }
    fm_trace_destroy(t);
    t = NULL;
    /* a header cut inside the fmt chunk */
    CHECK(fm_decode_memory(buf, 30, NULL, NULL, NULL, &t, NULL, err, sizeof err) != FM_OK);
    CHECK(!t);
    free(buf);
    free(x);
}

static void all_zero_audio_is_all_lost(void)
{
    size_t n = 44100 * 20;
    float *x = calloc(n, sizeof *x);
    const char *p = tmp_path("zeros.wav");
    CHECK(write_audio(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, x, (sf_count_t)n) == 0);
    fm_trace *t = NULL;
    CHECK(fm_decode_file(p, NULL, NULL, NULL, &t, NULL, NULL, 0) == FM_OK);
    CHECK(t && t->n == 80);
    size_t lost = 0;
    for (size_t k = 0; t && k < t->n; k++)
        lost += t->state[k] == FM_STATE_LOST;
    CHECK(t && lost == t->n);
    fm_trace_destroy(t);
    free(x);
}

/* Two hours of silence at 4 kHz, 16-bit (a sparse file made by extending a header): streams in
 * flat memory and gives 28800 lost samples. */
static void two_hour_file_streams_to_an_all_lost_trace(void)
{
    const uint32_t rate = 4000, frames = rate * 7200, data = frames * 2;
    unsigned char h[44] = {'R', 'I', 'F', 'F', 0,  0, 0,   0,   'W', 'A', 'V', 'E', 'f', 'm', 't',
                           ' ', 16,  0,   0,   0,  1, 0,   1,   0,   0,   0,   0,   0,   0,   0,
                           0,   0,   2,   0,   16, 0, 'd', 'a', 't', 'a', 0,   0,   0,   0};
    uint32_t riff = 36 + data, byte_rate = rate * 2;
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (unsigned char)(riff >> (8 * i));
        h[24 + i] = (unsigned char)(rate >> (8 * i));
        h[28 + i] = (unsigned char)(byte_rate >> (8 * i));
        h[40 + i] = (unsigned char)(data >> (8 * i));
    }
    const char *p = tmp_path("two_hours.wav");
    write_bytes(p, h, sizeof h);
    CHECK(truncate(p, (off_t)(44 + (off_t)data)) == 0);
    fm_trace *t = NULL;
    fm_decode_info info;
    progress_calls = 0;
    progress_last = 0.0;
    CHECK(fm_decode_file(p, NULL, on_progress, NULL, &t, &info, NULL, 0) == FM_OK);
    CHECK(t && t->n == 7200 * 4);
    CHECK(info.frames == (int64_t)frames);
    CHECK(progress_calls >= 50 && progress_last == 1.0);
    size_t lost = 0;
    for (size_t k = 0; t && k < t->n; k++)
        lost += t->state[k] == FM_STATE_LOST;
    CHECK(t && lost == t->n);
    fm_trace_destroy(t);
    unlink(p);
}

int main(void)
{
    const char *base = getenv("FM_BINARY_DIR") ? getenv("FM_BINARY_DIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/test_audio_XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/test_audio_XXXXXX");
        if (!mkdtemp(tmpdir))
            return 1;
    }
    RUN(reads_every_sample_format_and_rate);
    RUN(multichannel_file_uses_the_doppler_channel);
    RUN(memory_input_equals_file_input);
    RUN(bad_inputs_give_clear_errors);
    RUN(all_zero_audio_is_all_lost);
    RUN(two_hour_file_streams_to_an_all_lost_trace);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
