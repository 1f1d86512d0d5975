/* fetalmon analyze: one recording (Doppler audio or an FHR trace file) in, the 4 Hz trace and
 * its analysis out as JSON (and CSV). The JSON layout is documented in README.md and is a
 * stable interface: the server stores it and the web app reads it. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "fetalmon/trace.h"
#include "jsonw.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fetalmon analyze INPUT [--json OUT.json] [--csv OUT.csv] [options]\n"
            "\n"
            "INPUT is a Doppler audio recording (any format libsndfile reads: WAV, FLAC, OGG,\n"
            "...; 4 kHz to 192 kHz) or an FHR trace file: FHRMA .fhr/.fhrm, CSV\n"
            "(time_s,fhr_bpm[,mhr_bpm]), PhysioNet WFDB (.hea + .dat, 4 Hz).\n"
            "\n"
            "options:\n"
            "  --json FILE            write the trace and analysis as JSON ('-' = stdout)\n"
            "  --csv FILE             write time_s,fhr_bpm,quality,state ('-' = stdout)\n"
            "  --gestation-weeks N    gestational age in weeks (26..42) for the antenatal criteria\n"
            "  --movements FILE|LIST  fetal movement marks: a file of seconds, or 12.5,80,301\n"
            "  --no-mhr               ignore the maternal heart rate channel of the input\n"
            "  -q, --quiet            no progress on stderr\n"
            "  -h, --help             this text\n"
            "\n"
            "Exit status: 0 success, 1 bad input (reason on stderr), 2 bad usage.\n");
}

/* Movement marks from "12.5,80" or from a file with one number (seconds) per line. */
static int parse_movements(const char *arg, fm_trace *t, char *err, size_t err_len)
{
    FILE *f = fopen(arg, "r");
    char buf[256];
    const char *p;
    char *list = NULL;
    if (f) {
        size_t cap = 0, n = 0;
        while (fgets(buf, sizeof buf, f)) {
            size_t l = strlen(buf);
            char *nl = realloc(list, cap = n + l + 2);
            if (!nl) {
                free(list);
                fclose(f);
                return -1;
            }
            list = nl;
            memcpy(list + n, buf, l);
            n += l;
            list[n++] = ',';
            list[n] = 0;
        }
        fclose(f);
        (void)cap;
        p = list ? list : "";
    } else {
        p = arg;
    }
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            p++;
        if (!*p)
            break;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0) {
            snprintf(err, err_len, "--movements: '%.20s' is not a time in seconds", p);
            free(list);
            return -1;
        }
        fm_trace_add_movement(t, v);
        p = end;
    }
    free(list);
    return 0;
}

static FILE *open_out(const char *path, char *err, size_t err_len)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path, char *err, size_t err_len)
{
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad)
        snprintf(err, err_len, "write error on %s", path);
    return bad ? -1 : 0;
}

static int write_csv(const char *path, const fm_trace *t, char *err, size_t err_len)
{
    FILE *f = open_out(path, err, err_len);
    if (!f)
        return -1;
    fprintf(f, "time_s,fhr_bpm,quality,state\n");
    for (size_t i = 0; i < t->n; i++) {
        fprintf(f, "%.2f,", (double)i / t->rate_hz);
        if (t->state[i] == FM_STATE_OK && isfinite(t->fhr_bpm[i])) /* CLINICAL 2 */
            fprintf(f, "%.2f", t->fhr_bpm[i]);
        fprintf(f, ",%.3f,%s\n", t->quality[i], fm_state_name((fm_fhr_state)t->state[i]));
    }
    return close_out(f, path, err, err_len);
}

static int write_json(const char *path, const fm_analysis *an, char *err, size_t err_len)
{
    FILE *f = open_out(path, err, err_len);
    if (!f)
        return -1;
    jsonw w;
    jw_begin(&w, f);
    fm_analysis_write_json(an, &w);
    jw_end(&w);
    return close_out(f, path, err, err_len);
}

int cmd_analyze(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", required_argument, 0, 'j'},
        {"csv", required_argument, 0, 'c'},
        {"gestation-weeks", required_argument, 0, 'g'},
        {"movements", required_argument, 0, 'm'},
        {"no-mhr", no_argument, 0, 'M'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    fm_analysis_opts o;
    fm_analysis_opts_default(&o);
    const char *json = NULL, *csv = NULL, *movements = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = optarg; break;
        case 'c': csv = optarg; break;
        case 'm': movements = optarg; break;
        case 'M': o.use_mhr = 0; break;
        case 'q': o.progress = 0; break;
        case 'g': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(v) || v < 20 || v > 45) {
                fprintf(stderr, "fetalmon analyze: --gestation-weeks wants a number of weeks "
                                "(20..45), got '%s'\n", optarg);
                return FM_EXIT_USAGE;
            }
            o.gestation_weeks = v;
            break;
        }
        case 'h': usage(stdout); return FM_EXIT_OK;
        default: usage(stderr); return FM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "fetalmon analyze: expected exactly one INPUT file\n");
        usage(stderr);
        return FM_EXIT_USAGE;
    }
    const char *in = argv[optind];
    char err[512] = "";
    fm_analysis *an = NULL;
    fm_status rc = fm_analysis_load(in, &o, &an, err, sizeof err);
    if (rc != FM_OK) {
        fprintf(stderr, "fetalmon analyze: %s: %s\n", in, err[0] ? err : fm_strerror(rc));
        return FM_EXIT_INPUT;
    }
    if (movements && parse_movements(movements, an->trace, err, sizeof err) != 0) {
        fprintf(stderr, "fetalmon analyze: %s\n", err);
        fm_analysis_destroy(an);
        return FM_EXIT_USAGE;
    }
    rc = fm_analysis_run(an, err, sizeof err);
    if (rc != FM_OK) {
        fprintf(stderr, "fetalmon analyze: %s: %s\n", in, err[0] ? err : fm_strerror(rc));
        fm_analysis_destroy(an);
        return FM_EXIT_INPUT;
    }
    int bad = 0;
    if (json && write_json(json, an, err, sizeof err) != 0)
        bad = 1;
    if (!bad && csv && write_csv(csv, an->trace, err, sizeof err) != 0)
        bad = 1;
    if (!json && !csv && !bad)
        fm_analysis_print_summary(an, stdout);
    fm_analysis_destroy(an);
    if (bad) {
        fprintf(stderr, "fetalmon analyze: %s\n", err);
        return FM_EXIT_INPUT;
    }
    return FM_EXIT_OK;
}
