/* fm_trace: the in-memory 4 Hz FHR trace and its readers (FHRMA .fhr/.fhrm, CSV, WFDB).
 *
 * Readers are strict about structure (clear error on a malformed file) and lenient about
 * values: anything that is not a plausible FHR becomes a lost sample (CLINICAL 1), never a
 * number. Not for audio input (audio.c) nor for writing traces (the CLI does that). */
#include "fetalmon/trace.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

fm_trace *fm_trace_create(size_t n, int with_mhr, int with_toco)
{
    if (n > FM_TRACE_MAX_SAMPLES)
        return NULL;
    fm_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    size_t m = n ? n : 1;
    t->n = n;
    t->rate_hz = FM_FHR_RATE_HZ;
    t->fhr_bpm = malloc(m * sizeof *t->fhr_bpm);
    t->quality = malloc(m * sizeof *t->quality);
    t->state = malloc(m * sizeof *t->state);
    if (with_mhr)
        t->mhr_bpm = malloc(m * sizeof *t->mhr_bpm);
    if (with_toco)
        t->toco = malloc(m * sizeof *t->toco);
    if (!t->fhr_bpm || !t->quality || !t->state || (with_mhr && !t->mhr_bpm) ||
        (with_toco && !t->toco)) {
        fm_trace_destroy(t);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        t->fhr_bpm[i] = NAN;
        t->quality[i] = 0.0f;
        t->state[i] = FM_STATE_LOST;
        if (t->mhr_bpm)
            t->mhr_bpm[i] = NAN;
        if (t->toco)
            t->toco[i] = NAN;
    }
    return t;
}

void fm_trace_destroy(fm_trace *t)
{
    if (!t)
        return;
    free(t->fhr_bpm);
    free(t->quality);
    free(t->state);
    free(t->mhr_bpm);
    free(t->toco);
    free(t->movements_s);
    free(t);
}

static int plausible_bpm(float v)
{
    return isfinite(v) && v >= FM_FHR_ARTEFACT_MIN_BPM && v <= FM_FHR_ARTEFACT_MAX_BPM;
}

void fm_trace_set(fm_trace *t, size_t i, float fhr_bpm)
{
    if (!t || i >= t->n)
        return;
    if (plausible_bpm(fhr_bpm)) { /* CLINICAL 1: 50..240 bpm, else artefact */
        t->fhr_bpm[i] = fhr_bpm;
        t->quality[i] = 1.0f;
        t->state[i] = FM_STATE_OK;
    } else {
        t->fhr_bpm[i] = NAN;
        t->quality[i] = 0.0f;
        t->state[i] = FM_STATE_LOST;
    }
}

fm_status fm_trace_add_movement(fm_trace *t, double t_s)
{
    if (!t || !isfinite(t_s) || t_s < 0)
        return FM_EINVAL;
    double *m = realloc(t->movements_s, (t->n_movements + 1) * sizeof *m);
    if (!m)
        return FM_ENOMEM;
    t->movements_s = m;
    size_t i = t->n_movements++;
    while (i > 0 && m[i - 1] > t_s) {
        m[i] = m[i - 1];
        i--;
    }
    m[i] = t_s;
    return FM_OK;
}

double fm_trace_lost_percent(const fm_trace *t)
{
    if (!t || t->n == 0)
        return 100.0;
    size_t lost = 0;
    for (size_t i = 0; i < t->n; i++)
        lost += t->state[i] != FM_STATE_OK;
    return 100.0 * (double)lost / (double)t->n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

fm_trace_format fm_trace_format_of(const char *path)
{
    if (!path)
        return FM_TRACE_AUTO;
    if (ends_with(path, ".fhrm"))
        return FM_TRACE_FHRM;
    if (ends_with(path, ".fhr"))
        return FM_TRACE_FHR;
    if (ends_with(path, ".csv"))
        return FM_TRACE_CSV;
    if (ends_with(path, ".hea") || ends_with(path, ".dat"))
        return FM_TRACE_WFDB;
    return FM_TRACE_AUTO;
}

/* ---- FHRMA .fhr / .fhrm ------------------------------------------------------------------ */

static unsigned rd16(const uint8_t *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }

fm_status fm_trace_parse_fhr(const uint8_t *buf, size_t len, int with_mhr, fm_trace **out,
                             char *err, size_t err_len)
{
    *out = NULL;
    size_t rec = with_mhr ? 8 : 6;
    if (len < 4 + rec) {
        set_err(err, err_len, "file too short for a %s trace (%zu bytes)",
                with_mhr ? ".fhrm" : ".fhr", len);
        return len < 4 ? FM_EFORMAT : FM_EEMPTY;
    }
    if ((len - 4) % rec != 0) {
        set_err(err, err_len, "%s size %zu is not 4 + a whole number of %zu-byte records",
                with_mhr ? ".fhrm" : ".fhr", len, rec);
        return FM_ETRUNCATED;
    }
    size_t n = (len - 4) / rec;
    if (n > FM_TRACE_MAX_SAMPLES) {
        set_err(err, err_len, "trace longer than 24 hours");
        return FM_ERANGE;
    }
    fm_trace *t = fm_trace_create(n, with_mhr, 1);
    if (!t)
        return FM_ENOMEM;
    t->start_unix_s = (double)((uint32_t)buf[0] | ((uint32_t)buf[1] << 8) |
                               ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 24));
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + 4 + i * rec;
        unsigned f1 = rd16(r), f2 = rd16(r + 2);
        /* .fhr: some files carry the signal only in FHR2, use the larger (data README).
         * .fhrm: the Doppler FHR is FHR1. */
        unsigned f = with_mhr ? f1 : (f1 > f2 ? f1 : f2);
        fm_trace_set(t, i, f ? (float)f / 4.0f : NAN);
        if (with_mhr) {
            unsigned m = rd16(r + 4);
            t->mhr_bpm[i] = plausible_bpm((float)m / 4.0f) ? (float)m / 4.0f : NAN;
            t->toco[i] = (float)r[6] / 2.0f;
        } else {
            t->toco[i] = (float)r[4] / 2.0f;
        }
    }
    *out = t;
    return FM_OK;
}

/* ---- whole-file reading -------------------------------------------------------------------- */

/* Read a whole file (traces are small: 24 h of .fhrm is 2.8 MB). Caps at 64 MiB. */
static fm_status slurp(const char *path, uint8_t **buf, size_t *len, char *err, size_t err_len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return FM_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return FM_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= ((size_t)64 << 20)) {
                free(b);
                fclose(f);
                set_err(err, err_len, "%s is larger than 64 MiB: not a trace file", path);
                return FM_ERANGE;
            }
            uint8_t *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                fclose(f);
                return FM_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        set_err(err, err_len, "read error on %s", path);
        return FM_EIO;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return FM_OK;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

enum { COL_TIME, COL_FHR, COL_MHR, COL_QUALITY, COL_STATE, COL_OTHER };

static int col_kind(const char *name, size_t len)
{
    char s[32];
    if (len >= sizeof s)
        return COL_OTHER;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)name[i]);
    s[len] = 0;
    if (!strcmp(s, "time_s") || !strcmp(s, "time") || !strcmp(s, "t_s"))
        return COL_TIME;
    if (!strcmp(s, "fhr_bpm") || !strcmp(s, "fhr"))
        return COL_FHR;
    if (!strcmp(s, "mhr_bpm") || !strcmp(s, "mhr"))
        return COL_MHR;
    if (!strcmp(s, "quality"))
        return COL_QUALITY;
    if (!strcmp(s, "state"))
        return COL_STATE;
    return COL_OTHER;
}

#define CSV_MAX_COLS 16

/* Split one line into fields (no quoting: trace CSVs are numbers). Returns the field count. */
static int split_fields(const char *line, size_t len, const char **f, size_t *flen)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',' || line[i] == ';' || line[i] == '\t') {
            if (n == CSV_MAX_COLS)
                return -1;
            size_t a = start, b = i;
            while (a < b && isspace((unsigned char)line[a]))
                a++;
            while (b > a && isspace((unsigned char)line[b - 1]))
                b--;
            f[n] = line + a;
            flen[n] = b - a;
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* Parse a number field; empty, "null", "nan" give NAN. Returns 0 when the field is not a number. */
static int parse_num(const char *s, size_t len, double *v)
{
    char tmp[64];
    if (len == 0 || (len == 4 && !strncasecmp(s, "null", 4)) ||
        (len == 3 && !strncasecmp(s, "nan", 3)) || (len == 2 && !strncmp(s, "NA", 2))) {
        *v = NAN;
        return 1;
    }
    if (len >= sizeof tmp)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    *v = strtod(tmp, &end);
    return end != tmp && *end == 0 && errno == 0;
}

fm_status fm_trace_parse_csv(const char *buf, size_t len, fm_trace **out, char *err,
                             size_t err_len)
{
    *out = NULL;
    int kind[CSV_MAX_COLS];
    int ncols = 0, have_header = 0, line_no = 0;
    int c_time = -1, c_fhr = -1, c_mhr = -1, c_q = -1, c_state = -1;
    size_t cap = 0, n = 0;
    float *fhr = NULL, *mhr = NULL, *q = NULL;
    uint8_t *st = NULL;
    fm_status rc = FM_OK;
    size_t pos = 0;

    while (pos < len) {
        size_t e = pos;
        while (e < len && buf[e] != '\n')
            e++;
        size_t l = e - pos;
        const char *line = buf + pos;
        pos = e + 1;
        line_no++;
        if (l && line[l - 1] == '\r')
            l--;
        if (l == 0 || line[0] == '#')
            continue;
        const char *f[CSV_MAX_COLS];
        size_t fl[CSV_MAX_COLS];
        int nf = split_fields(line, l, f, fl);
        if (nf < 0) {
            set_err(err, err_len, "CSV line %d has more than %d columns", line_no, CSV_MAX_COLS);
            rc = FM_EFORMAT;
            goto fail;
        }
        if (!have_header && ncols == 0) {
            double dummy;
            if (!parse_num(f[0], fl[0], &dummy)) { /* a header line */
                for (int i = 0; i < nf; i++) {
                    kind[i] = col_kind(f[i], fl[i]);
                    if (kind[i] == COL_TIME && c_time < 0) c_time = i;
                    if (kind[i] == COL_FHR && c_fhr < 0) c_fhr = i;
                    if (kind[i] == COL_MHR && c_mhr < 0) c_mhr = i;
                    if (kind[i] == COL_QUALITY && c_q < 0) c_q = i;
                    if (kind[i] == COL_STATE && c_state < 0) c_state = i;
                }
                ncols = nf;
                have_header = 1;
                if (c_fhr < 0) {
                    set_err(err, err_len, "CSV header has no fhr_bpm column");
                    rc = FM_EFORMAT;
                    goto fail;
                }
                continue;
            }
            /* no header: time_s,fhr_bpm[,mhr_bpm] */
            ncols = nf;
            c_time = nf >= 2 ? 0 : -1;
            c_fhr = nf >= 2 ? 1 : 0;
            c_mhr = nf >= 3 ? 2 : -1;
        }
        if (nf != ncols) {
            set_err(err, err_len, "CSV line %d has %d columns, expected %d", line_no, nf, ncols);
            rc = FM_EFORMAT;
            goto fail;
        }
        size_t idx = n;
        if (c_time >= 0) {
            double ts;
            if (!parse_num(f[c_time], fl[c_time], &ts) || !isfinite(ts) || ts < 0) {
                set_err(err, err_len, "CSV line %d: bad time value", line_no);
                rc = FM_EFORMAT;
                goto fail;
            }
            double si = floor(ts * FM_FHR_RATE_HZ + 0.5);
            if (si >= (double)FM_TRACE_MAX_SAMPLES) {
                set_err(err, err_len, "CSV line %d: time beyond 24 hours", line_no);
                rc = FM_ERANGE;
                goto fail;
            }
            idx = (size_t)si;
            if (idx < n) {
                set_err(err, err_len, "CSV line %d: time goes backwards or repeats", line_no);
                rc = FM_EFORMAT;
                goto fail;
            }
        }
        if (idx >= FM_TRACE_MAX_SAMPLES) {
            set_err(err, err_len, "CSV longer than 24 hours");
            rc = FM_ERANGE;
            goto fail;
        }
        if (idx + 1 > cap) {
            size_t nc = cap ? cap : 4096;
            while (nc < idx + 1)
                nc *= 2;
            float *a = realloc(fhr, nc * sizeof *a);
            if (a) fhr = a;
            float *b = realloc(mhr, nc * sizeof *b);
            if (b) mhr = b;
            float *c = realloc(q, nc * sizeof *c);
            if (c) q = c;
            uint8_t *d = realloc(st, nc);
            if (d) st = d;
            if (!a || !b || !c || !d) {
                rc = FM_ENOMEM;
                goto fail;
            }
            cap = nc;
        }
        for (size_t k = n; k < idx; k++) { /* gaps in time are lost signal */
            fhr[k] = NAN;
            mhr[k] = NAN;
            q[k] = 0;
            st[k] = FM_STATE_LOST;
        }
        double v, m = NAN, qq = NAN;
        if (!parse_num(f[c_fhr], fl[c_fhr], &v) ||
            (c_mhr >= 0 && !parse_num(f[c_mhr], fl[c_mhr], &m)) ||
            (c_q >= 0 && !parse_num(f[c_q], fl[c_q], &qq))) {
            set_err(err, err_len, "CSV line %d: not a number", line_no);
            rc = FM_EFORMAT;
            goto fail;
        }
        fhr[idx] = (float)v;
        mhr[idx] = plausible_bpm((float)m) ? (float)m : NAN;
        q[idx] = isfinite(qq) ? (float)fmin(1.0, fmax(0.0, qq)) : NAN;
        st[idx] = FM_STATE_OK;
        if (c_state >= 0) {
            for (int s = FM_STATE_OK; s <= FM_STATE_DOUBTFUL; s++) {
                const char *nm = fm_state_name((fm_fhr_state)s);
                if (fl[c_state] == strlen(nm) && !strncmp(f[c_state], nm, fl[c_state]))
                    st[idx] = (uint8_t)s;
            }
        }
        n = idx + 1;
    }
    if (n == 0) {
        set_err(err, err_len, "CSV holds no samples");
        rc = FM_EEMPTY;
        goto fail;
    }
    int any_mhr = 0;
    for (size_t i = 0; i < n && !any_mhr; i++)
        any_mhr = isfinite(mhr[i]);
    fm_trace *t = fm_trace_create(n, c_mhr >= 0 && any_mhr, 0);
    if (!t) {
        rc = FM_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        fm_trace_set(t, i, fhr[i]);
        if (t->state[i] == FM_STATE_OK && st[i] != FM_STATE_OK) {
            /* a state column that says the value is not trusted wins */
            t->state[i] = st[i];
            if (st[i] == FM_STATE_LOST)
                t->fhr_bpm[i] = NAN;
        }
        if (t->state[i] == FM_STATE_OK && isfinite(q[i]))
            t->quality[i] = q[i];
        if (t->mhr_bpm)
            t->mhr_bpm[i] = mhr[i];
    }
    free(fhr);
    free(mhr);
    free(q);
    free(st);
    *out = t;
    return FM_OK;
fail:
    free(fhr);
    free(mhr);
    free(q);
    free(st);
    return rc;
}

/* ---- WFDB (PhysioNet header + format 16 signal file) -------------------------------------- */

typedef struct wfdb_sig {
    int fmt;
    double gain, baseline;
    char desc[32];
} wfdb_sig;

fm_status fm_trace_parse_wfdb(const char *hea, size_t hea_len, const uint8_t *dat,
                              size_t dat_len, fm_trace **out, char *err, size_t err_len)
{
    *out = NULL;
    wfdb_sig sig[8];
    int nsig = -1, got = 0;
    double fs = 0;
    long nsamp = -1;
    size_t pos = 0;
    while (pos < hea_len && (nsig < 0 || got < nsig)) {
        size_t e = pos;
        while (e < hea_len && hea[e] != '\n')
            e++;
        char line[512];
        size_t l = e - pos < sizeof line - 1 ? e - pos : sizeof line - 1;
        memcpy(line, hea + pos, l);
        line[l] = 0;
        pos = e + 1;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == 0 || *p == '#')
            continue;
        if (nsig < 0) { /* record line: name nsig fs nsamp */
            char name[128];
            char fsbuf[64] = "";
            if (sscanf(p, "%127s %d %63s %ld", name, &nsig, fsbuf, &nsamp) < 3 || nsig < 1 ||
                nsig > 8) {
                set_err(err, err_len, "WFDB header: bad record line");
                return FM_EFORMAT;
            }
            fs = strtod(fsbuf, NULL); /* "4/..." counter frequency suffix ignored */
            if (fabs(fs - FM_FHR_RATE_HZ) > 1e-6) {
                set_err(err, err_len, "WFDB record at %g Hz: only 4 Hz FHR records are read", fs);
                return FM_ERATE;
            }
            continue;
        }
        char file[128], gainbuf[64] = "";
        int fmt = 0;
        int fields = sscanf(p, "%127s %d %63s", file, &fmt, gainbuf);
        if (fields < 2) {
            set_err(err, err_len, "WFDB header: bad signal line %d", got + 1);
            return FM_EFORMAT;
        }
        wfdb_sig *s = &sig[got];
        s->fmt = fmt;
        s->gain = 200.0; /* WFDB default gain */
        s->baseline = 0.0;
        s->desc[0] = 0;
        if (fields == 3) {
            char *q;
            double g = strtod(gainbuf, &q);
            if (q != gainbuf && g != 0)
                s->gain = g;
            if (*q == '(')
                s->baseline = strtod(q + 1, NULL);
        }
        /* description is the last token(s) after the 8 numeric fields */
        int words = 0;
        char *tok = p, *last = NULL;
        while (*tok) {
            while (isspace((unsigned char)*tok))
                tok++;
            if (!*tok)
                break;
            words++;
            if (words == 9)
                last = tok;
            while (*tok && !isspace((unsigned char)*tok))
                tok++;
        }
        if (last)
            snprintf(s->desc, sizeof s->desc, "%.31s", last);
        got++;
    }
    if (nsig < 0 || got < nsig) {
        set_err(err, err_len, "WFDB header: %d signal lines, expected %d", got, nsig);
        return FM_EFORMAT;
    }
    for (int i = 0; i < nsig; i++) {
        if (sig[i].fmt != 16) {
            set_err(err, err_len, "WFDB signal %d is in format %d: only format 16 is read", i,
                    sig[i].fmt);
            return FM_EUNSUPPORTED;
        }
    }
    int c_fhr = 0, c_uc = -1;
    for (int i = 0; i < nsig; i++) {
        if (!strncasecmp(sig[i].desc, "FHR", 3))
            c_fhr = i;
        else if (!strncasecmp(sig[i].desc, "UC", 2) || !strncasecmp(sig[i].desc, "TOCO", 4))
            c_uc = i;
    }
    size_t frame = (size_t)nsig * 2;
    size_t n = dat_len / frame;
    if (nsamp > 0 && (size_t)nsamp > n) {
        set_err(err, err_len, "WFDB signal file holds %zu samples, header says %ld", n, nsamp);
        return FM_ETRUNCATED;
    }
    if (nsamp > 0)
        n = (size_t)nsamp;
    if (n == 0) {
        set_err(err, err_len, "WFDB record holds no samples");
        return FM_EEMPTY;
    }
    if (n > FM_TRACE_MAX_SAMPLES) {
        set_err(err, err_len, "WFDB record longer than 24 hours");
        return FM_ERANGE;
    }
    fm_trace *t = fm_trace_create(n, 0, c_uc >= 0);
    if (!t)
        return FM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *fr = dat + i * frame;
        int16_t raw = (int16_t)rd16(fr + 2 * c_fhr);
        float v = raw == -32768 ? NAN /* WFDB invalid sample */
                                : (float)(((double)raw - sig[c_fhr].baseline) / sig[c_fhr].gain);
        fm_trace_set(t, i, v);
        if (c_uc >= 0) {
            int16_t u = (int16_t)rd16(fr + 2 * c_uc);
            t->toco[i] = u == -32768 ? NAN
                                     : (float)(((double)u - sig[c_uc].baseline) / sig[c_uc].gain);
        }
    }
    *out = t;
    return FM_OK;
}

/* For WFDB, derive "stem.hea" and "stem.dat" from any of stem, stem.hea, stem.dat. */
static void wfdb_paths(const char *path, char *hea, char *dat, size_t len)
{
    size_t l = strlen(path);
    if (ends_with(path, ".hea") || ends_with(path, ".dat"))
        l -= 4;
    snprintf(hea, len, "%.*s.hea", (int)l, path);
    snprintf(dat, len, "%.*s.dat", (int)l, path);
}

fm_status fm_trace_read(const char *path, fm_trace_format fmt, fm_trace **out, char *err,
                        size_t err_len)
{
    if (!out)
        return FM_EINVAL;
    *out = NULL;
    if (!path)
        return FM_EINVAL;
    if (fmt == FM_TRACE_AUTO)
        fmt = fm_trace_format_of(path);
    if (fmt == FM_TRACE_AUTO) {
        set_err(err, err_len, "%s: not a trace file (.fhr, .fhrm, .csv, .hea/.dat)", path);
        return FM_EFORMAT;
    }
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    fm_status rc;
    if (fmt == FM_TRACE_WFDB) {
        char hea[4096], dat[4096];
        wfdb_paths(path, hea, dat, sizeof hea);
        rc = slurp(hea, &a, &al, err, err_len);
        if (rc == FM_OK)
            rc = slurp(dat, &b, &bl, err, err_len);
        if (rc == FM_OK)
            rc = fm_trace_parse_wfdb((const char *)a, al, b, bl, out, err, err_len);
    } else {
        rc = slurp(path, &a, &al, err, err_len);
        if (rc == FM_OK) {
            if (fmt == FM_TRACE_CSV)
                rc = fm_trace_parse_csv((const char *)a, al, out, err, err_len);
            else
                rc = fm_trace_parse_fhr(a, al, fmt == FM_TRACE_FHRM, out, err, err_len);
        }
    }
    free(a);
    free(b);
    return rc;
}
