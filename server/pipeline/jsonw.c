/* Streaming JSON writer: see jsonw.h. */
#include "jsonw.h"

#include <math.h>

static void sep(jsonw *w)
{
    if (!w->first[w->depth])
        fputc(',', w->f);
    w->first[w->depth] = 0;
}

static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void jw_key(jsonw *w, const char *key)
{
    sep(w);
    if (key) {
        write_string(w->f, key);
        fputc(':', w->f);
    }
}

void jw_begin(jsonw *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = 1;
    fputc('{', f);
}

void jw_end(jsonw *w) { fputs("}\n", w->f); }

static void open_(jsonw *w, const char *key, char c)
{
    jw_key(w, key);
    fputc(c, w->f);
    if (w->depth < 31)
        w->depth++;
    w->first[w->depth] = 1;
}

static void close_(jsonw *w, char c)
{
    fputc(c, w->f);
    if (w->depth > 0)
        w->depth--;
}

void jw_obj_open(jsonw *w, const char *key) { open_(w, key, '{'); }
void jw_obj_close(jsonw *w) { close_(w, '}'); }
void jw_arr_open(jsonw *w, const char *key) { open_(w, key, '['); }
void jw_arr_close(jsonw *w) { close_(w, ']'); }

void jw_str(jsonw *w, const char *key, const char *v)
{
    jw_key(w, key);
    if (v)
        write_string(w->f, v);
    else
        fputs("null", w->f);
}

static void num(FILE *f, double v, int decimals)
{
    if (!isfinite(v))
        fputs("null", f);
    else if (decimals <= 0)
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.*f", decimals, v);
}

void jw_num(jsonw *w, const char *key, double v, int decimals)
{
    jw_key(w, key);
    num(w->f, v, decimals);
}

void jw_int(jsonw *w, const char *key, long long v)
{
    jw_key(w, key);
    fprintf(w->f, "%lld", v);
}

void jw_bool(jsonw *w, const char *key, int v)
{
    jw_key(w, key);
    fputs(v ? "true" : "false", w->f);
}

void jw_null(jsonw *w, const char *key)
{
    jw_key(w, key);
    fputs("null", w->f);
}

void jw_floats(jsonw *w, const char *key, const float *v, size_t n, int decimals)
{
    jw_arr_open(w, key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', w->f);
        num(w->f, v[i], decimals);
    }
    w->first[w->depth] = 0;
    jw_arr_close(w);
}

void jw_doubles(jsonw *w, const char *key, const double *v, size_t n, int decimals)
{
    jw_arr_open(w, key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', w->f);
        num(w->f, v[i], decimals);
    }
    w->first[w->depth] = 0;
    jw_arr_close(w);
}
