/* fetalmon-synth: write synthetic handheld-Doppler audio (WAV/FLAC) and its ground truth from a
 * known FHR trace (FHRMA .fhr/.fhrm, CSV) or a constant rate.
 *
 * For: making test and benchmark recordings (fm_synth does the work; this only parses options,
 * streams blocks to libsndfile, and writes the truth CSV). Not for: analysing anything.
 * Exit codes: 0 success, 1 bad input or write failure (one-line reason), 2 bad usage. */
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/trace.h"
#include "synth.h"

#define BLOCK_FRAMES 16384
#define MAX_CHANNELS 8

static void usage(FILE *f)
{
    fputs(
        "usage: fetalmon-synth (--fhr TRACE | --fhr-const BPM) --out FILE [options]\n"
        "Synthesise handheld fetal Doppler audio with known ground truth (docs/synth.md).\n"
        "\n"
        "input:\n"
        "  --fhr TRACE            FHR trace: FHRMA .fhr/.fhrm or CSV (time_s,fhr_bpm[,mhr_bpm])\n"
        "  --fhr-const BPM        constant fetal heart rate instead of a trace\n"
        "  --mhr-const BPM        constant maternal rate (default: the trace's maternal channel,\n"
        "                         else a seeded plausible 60-110 bpm rate)\n"
        "  --minutes M            length (default: whole trace; 10 with --fhr-const)\n"
        "  --start-min M          start the excerpt M minutes into the trace (default 0)\n"
        "signal:\n"
        "  --rate HZ              sample rate 4000..192000 (default 8000)\n"
        "  --seed N               random seed (default 1)\n"
        "  --snr-db DB            fetal / receiver-noise power ratio (default 20)\n"
        "  --fetal-dbfs DB        nominal fetal RMS level (default -30)\n"
        "  --maternal-db DB       background maternal vessel level re fetal (default -12)\n"
        "  --rumble-db DB         low-frequency rumble level re fetal (default -12)\n"
        "  --umbilical-db DB      umbilical flow level re fetal (default -10)\n"
        "  --probe-mhz F          ultrasound carrier 1..10 MHz (default 2): Doppler pitch\n"
        "  --speaker-hp HZ        recorded off the device's loudspeaker: high-pass at HZ (~250)\n"
        "  --agc S                recorder automatic gain control, time constant S seconds\n"
        "  --hum HZ               add mains hum at HZ (50/60), level --hum-db (default -20)\n"
        "events (START:DUR in seconds, optionally :LEVEL_DB; each repeatable):\n"
        "  --maternal-only S:D    probe hears only the mother\n"
        "  --contact-loss S:D     probe off the skin (hiss only)\n"
        "  --movement S:D         probe movement scrapes and thumps\n"
        "  --clip S:D             gain pushed into the limiter\n"
        "  --noise-burst S:D      extra broadband noise\n"
        "  --random-events R      also R random disturbances per minute (Poisson; movement,\n"
        "                         contact loss, maternal-only, noise burst, clip)\n"
        "  --event-seed N         seed of the random disturbances (default: --seed)\n"
        "output:\n"
        "  --out FILE             audio file to write (required)\n"
        "  --format wav|flac      container (default from the name, else wav)\n"
        "  --bits 16|24|float     sample format (default 16; flac has no float)\n"
        "  --channels N           1..8 channels; only --signal-channel carries the body sounds,\n"
        "                         the others hold independent receiver noise (default 1)\n"
        "  --signal-channel K     0-based channel with the signal (default 0)\n"
        "  --truth FILE.csv       ground truth per 4 Hz sample: time_s,fhr_bpm,mhr_bpm,label\n"
        "  --help                 this text\n",
        f);
}

typedef struct ev_arg {
    fm_synth_event_type type;
    double start_s, dur_s, level_db;
} ev_arg;

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return s[0] && *end == '\0' && errno == 0 && isfinite(*v);
}

static int parse_event(const char *s, fm_synth_event_type type, ev_arg *e)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *a = buf, *b = strchr(a, ':');
    if (!b)
        return 0;
    *b++ = '\0';
    char *c = strchr(b, ':');
    if (c)
        *c++ = '\0';
    e->type = type;
    e->level_db = NAN;
    return parse_double(a, &e->start_s) && parse_double(b, &e->dur_s) &&
           (!c || parse_double(c, &e->level_db));
}

static int bad_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "fetalmon-synth: %s%s%s (see --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int write_truth(const fm_synth *q, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fetalmon-synth: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("time_s,fhr_bpm,mhr_bpm,label\n", f);
    for (size_t k = 0; k < fm_synth_truth_count(q); k++) {
        fm_synth_truth t;
        fm_synth_truth_at(q, k, &t);
        fprintf(f, "%.2f,", (double)k * 0.25);
        if (isfinite(t.fhr_bpm))
            fprintf(f, "%.2f", (double)t.fhr_bpm);
        fprintf(f, ",%.2f,%s\n", (double)t.mhr_bpm, fm_synth_label_name(t.label));
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "fetalmon-synth: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    fm_synth_config cfg;
    fm_synth_config_default(&cfg);
    const char *fhr_path = NULL, *out_path = NULL, *truth_path = NULL, *format = NULL;
    const char *bits = "16";
    double fhr_const = NAN, mhr_const = NAN, minutes = NAN, start_min = 0.0, v;
    int channels = 1, sig_ch = 0;
    double random_per_min = 0.0, event_seed = NAN;
    ev_arg *evs = NULL;
    size_t n_evs = 0;
    static const struct {
        const char *name;
        fm_synth_event_type type;
    } ev_opts[] = {{"--maternal-only", FM_SYNTH_EV_MATERNAL_ONLY},
                   {"--contact-loss", FM_SYNTH_EV_CONTACT_LOSS},
                   {"--movement", FM_SYNTH_EV_MOVEMENT},
                   {"--clip", FM_SYNTH_EV_CLIP},
                   {"--noise-burst", FM_SYNTH_EV_NOISE_BURST}};

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            free(evs);
            return 0;
        }
        if (i + 1 >= argc) {
            free(evs);
            return bad_usage("unknown option or missing value", o);
        }
        const char *a = argv[++i];
        int ok = 1, matched = 0;
        for (size_t k = 0; k < sizeof ev_opts / sizeof ev_opts[0]; k++)
            if (!strcmp(o, ev_opts[k].name)) {
                matched = 1;
                ev_arg *p = realloc(evs, (n_evs + 1) * sizeof *evs);
                if (!p) {
                    free(evs);
                    return 1;
                }
                evs = p;
                ok = parse_event(a, ev_opts[k].type, &evs[n_evs++]);
            }
        if (matched) {
        } else if (!strcmp(o, "--fhr"))
            fhr_path = a;
        else if (!strcmp(o, "--out"))
            out_path = a;
        else if (!strcmp(o, "--truth"))
            truth_path = a;
        else if (!strcmp(o, "--format"))
            format = a;
        else if (!strcmp(o, "--bits"))
            bits = a;
        else if (!strcmp(o, "--fhr-const"))
            ok = parse_double(a, &fhr_const);
        else if (!strcmp(o, "--mhr-const"))
            ok = parse_double(a, &mhr_const);
        else if (!strcmp(o, "--minutes"))
            ok = parse_double(a, &minutes) && minutes > 0;
        else if (!strcmp(o, "--start-min"))
            ok = parse_double(a, &start_min) && start_min >= 0;
        else if (!strcmp(o, "--rate"))
            ok = parse_double(a, &cfg.rate_hz);
        else if (!strcmp(o, "--seed"))
            ok = parse_double(a, &v) && v >= 0 && v < 1.8e19 && (cfg.seed = (uint64_t)v, 1);
        else if (!strcmp(o, "--snr-db"))
            ok = parse_double(a, &cfg.snr_db);
        else if (!strcmp(o, "--fetal-dbfs"))
            ok = parse_double(a, &cfg.fetal_dbfs);
        else if (!strcmp(o, "--maternal-db"))
            ok = parse_double(a, &cfg.maternal_db);
        else if (!strcmp(o, "--rumble-db"))
            ok = parse_double(a, &cfg.rumble_db);
        else if (!strcmp(o, "--umbilical-db"))
            ok = parse_double(a, &cfg.umbilical_db);
        else if (!strcmp(o, "--probe-mhz"))
            ok = parse_double(a, &cfg.probe_mhz);
        else if (!strcmp(o, "--random-events"))
            ok = parse_double(a, &random_per_min);
        else if (!strcmp(o, "--event-seed"))
            ok = parse_double(a, &event_seed) && event_seed >= 0 && event_seed < 1.8e19;
        else if (!strcmp(o, "--speaker-hp"))
            ok = parse_double(a, &cfg.speaker_hp_hz);
        else if (!strcmp(o, "--agc"))
            ok = parse_double(a, &cfg.agc_s);
        else if (!strcmp(o, "--hum"))
            ok = parse_double(a, &cfg.hum_hz);
        else if (!strcmp(o, "--hum-db"))
            ok = parse_double(a, &cfg.hum_db);
        else if (!strcmp(o, "--channels"))
            ok = parse_double(a, &v) && v >= 1 && v <= MAX_CHANNELS && (channels = (int)v) == v;
        else if (!strcmp(o, "--signal-channel"))
            ok = parse_double(a, &v) && v >= 0 && (sig_ch = (int)v) == v;
        else {
            free(evs);
            return bad_usage("unknown option", o);
        }
        if (!ok) {
            free(evs);
            return bad_usage("bad value for option", o);
        }
    }
    int rc = 2;
    const char *why = NULL;
    if (!out_path)
        why = "--out is required";
    else if ((fhr_path != NULL) == !isnan(fhr_const))
        why = "give exactly one of --fhr and --fhr-const";
    else if (sig_ch >= channels)
        why = "--signal-channel must be below --channels";
    if (why) {
        free(evs);
        return bad_usage(why, NULL);
    }
    if (!format) {
        const char *dot = strrchr(out_path, '.');
        format = dot && !strcasecmp(dot, ".flac") ? "flac" : "wav";
    }
    int sf_fmt;
    if (!strcmp(format, "wav"))
        sf_fmt = SF_FORMAT_WAV;
    else if (!strcmp(format, "flac"))
        sf_fmt = SF_FORMAT_FLAC;
    else {
        free(evs);
        return bad_usage("--format must be wav or flac", format);
    }
    if (!strcmp(bits, "16"))
        sf_fmt |= SF_FORMAT_PCM_16;
    else if (!strcmp(bits, "24"))
        sf_fmt |= SF_FORMAT_PCM_24;
    else if (!strcmp(bits, "float") && (sf_fmt & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV)
        sf_fmt |= SF_FORMAT_FLOAT;
    else {
        free(evs);
        return bad_usage("--bits must be 16, 24 or float (wav only)", bits);
    }

    /* the 4 Hz input */
    fm_trace *tr = NULL;
    float *fhr = NULL, *mhr = NULL;
    size_t n = 0, first = (size_t)floor(start_min * 60.0 * 4.0 + 0.5);
    fm_synth *q = NULL, *noise[MAX_CHANNELS] = {0};
    SNDFILE *sf = NULL;
    float *block = NULL, *inter = NULL;
    rc = 1;
    if (fhr_path) {
        char err[256] = "";
        fm_status st = fm_trace_read(fhr_path, FM_TRACE_AUTO, &tr, err, sizeof err);
        if (st != FM_OK) {
            fprintf(stderr, "fetalmon-synth: %s: %s\n", fhr_path, err[0] ? err : fm_strerror(st));
            goto done;
        }
        if (first >= tr->n) {
            fprintf(stderr, "fetalmon-synth: --start-min is past the end of %s\n", fhr_path);
            goto done;
        }
        n = tr->n - first;
    } else {
        n = (size_t)floor((isnan(minutes) ? 10.0 : minutes) * 240.0 + 0.5);
        first = 0;
    }
    if (!isnan(minutes) && (size_t)floor(minutes * 240.0 + 0.5) < n)
        n = (size_t)floor(minutes * 240.0 + 0.5);
    if (n == 0) {
        fprintf(stderr, "fetalmon-synth: nothing to render\n");
        goto done;
    }
    fhr = malloc(n * sizeof *fhr);
    mhr = malloc(n * sizeof *mhr);
    if (!fhr || !mhr) {
        fprintf(stderr, "fetalmon-synth: out of memory\n");
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        fhr[k] = tr ? tr->fhr_bpm[first + k] : (float)fhr_const;
        mhr[k] = !isnan(mhr_const)   ? (float)mhr_const
                 : tr && tr->mhr_bpm ? tr->mhr_bpm[first + k]
                                     : NAN;
    }

    fm_status st;
    q = fm_synth_create(&cfg, fhr, n, mhr, &st);
    if (!q) {
        if (st == FM_EINVAL) { /* the arrays are fine: an option is out of range */
            fprintf(stderr, "fetalmon-synth: a setting is out of range (rate 4000..192000, "
                            "levels, --hum below 0.45 x rate...) (see --help)\n");
            rc = 2;
        } else
            fprintf(stderr, "fetalmon-synth: %s\n", fm_strerror(st));
        goto done;
    }
    for (size_t k = 0; k < n_evs; k++)
        if ((st = fm_synth_add_event(q, evs[k].type, evs[k].start_s, evs[k].dur_s,
                                     evs[k].level_db)) != FM_OK) {
            fprintf(stderr, "fetalmon-synth: bad event %zu: %s\n", k + 1, fm_strerror(st));
            goto done;
        }
    st = fm_synth_add_random_events(q, isnan(event_seed) ? cfg.seed : (uint64_t)event_seed,
                                    random_per_min);
    if (st != FM_OK) {
        fprintf(stderr, "fetalmon-synth: --random-events: %s\n", fm_strerror(st));
        goto done;
    }
    for (int c = 0; c < channels; c++) {
        if (c == sig_ch)
            continue;
        fm_synth_config nc = cfg;
        nc.noise_only = 1;
        nc.seed = cfg.seed + 1000003ULL * (uint64_t)(c + 1);
        noise[c] = fm_synth_create(&nc, fhr, n, mhr, &st);
        if (!noise[c]) {
            fprintf(stderr, "fetalmon-synth: %s\n", fm_strerror(st));
            goto done;
        }
    }

    SF_INFO info = {.samplerate = (int)lround(cfg.rate_hz), .channels = channels, .format = sf_fmt};
    if ((double)info.samplerate != cfg.rate_hz) {
        fprintf(stderr, "fetalmon-synth: --rate must be a whole number of hertz\n");
        goto done;
    }
    if (!(sf = sf_open(out_path, SFM_WRITE, &info))) {
        fprintf(stderr, "fetalmon-synth: cannot write %s: %s\n", out_path, sf_strerror(NULL));
        goto done;
    }
    block = malloc(BLOCK_FRAMES * sizeof *block);
    inter = malloc((size_t)BLOCK_FRAMES * (size_t)channels * sizeof *inter);
    if (!block || !inter) {
        fprintf(stderr, "fetalmon-synth: out of memory\n");
        goto done;
    }
    for (;;) {
        size_t got = 0;
        for (int c = 0; c < channels; c++) {
            size_t g = fm_synth_render(c == sig_ch ? q : noise[c], block, BLOCK_FRAMES);
            if (c == sig_ch)
                got = g;
            for (size_t j = 0; j < g; j++)
                inter[j * (size_t)channels + (size_t)c] = block[j];
        }
        if (got == 0)
            break;
        if (sf_writef_float(sf, inter, (sf_count_t)got) != (sf_count_t)got) {
            fprintf(stderr, "fetalmon-synth: write failed: %s\n", sf_strerror(sf));
            goto done;
        }
    }
    if (sf_close(sf) != 0) {
        sf = NULL;
        fprintf(stderr, "fetalmon-synth: cannot finish %s\n", out_path);
        goto done;
    }
    sf = NULL;
    rc = truth_path ? write_truth(q, truth_path) : 0;
done:
    if (sf)
        sf_close(sf);
    free(block);
    free(inter);
    for (int c = 0; c < MAX_CHANNELS; c++)
        fm_synth_destroy(noise[c]);
    fm_synth_destroy(q);
    fm_trace_destroy(tr);
    free(fhr);
    free(mhr);
    free(evs);
    return rc;
}
