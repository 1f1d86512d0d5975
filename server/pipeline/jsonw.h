/* A tiny streaming JSON writer for large numeric arrays (the analysis JSON). Writing straight
 * to the FILE keeps memory flat for long recordings; cJSON is used where we parse. */
#ifndef FM_JSONW_H
#define FM_JSONW_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct jsonw {
    FILE *f;
    int depth;
    int first[32]; /* per depth: no member written yet */
} jsonw;

void jw_begin(jsonw *w, FILE *f);           /* writes "{" */
void jw_end(jsonw *w);                      /* closes the top object and adds "\n" */
void jw_key(jsonw *w, const char *key);     /* "key": (with comma as needed) */
void jw_obj_open(jsonw *w, const char *key);  /* key may be NULL inside arrays */
void jw_obj_close(jsonw *w);
void jw_arr_open(jsonw *w, const char *key);
void jw_arr_close(jsonw *w);
void jw_str(jsonw *w, const char *key, const char *v);
void jw_num(jsonw *w, const char *key, double v, int decimals); /* NAN/inf -> null */
void jw_int(jsonw *w, const char *key, long long v);
void jw_bool(jsonw *w, const char *key, int v);
void jw_null(jsonw *w, const char *key);
/* An array of floats, NAN -> null, with the given decimals. */
void jw_floats(jsonw *w, const char *key, const float *v, size_t n, int decimals);
void jw_doubles(jsonw *w, const char *key, const double *v, size_t n, int decimals);

#endif
