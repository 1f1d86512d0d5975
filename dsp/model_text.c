/* Tokens and bounded numbers of the engine's text model files (model_text.h). Not for parsing
 * the models themselves (falsesig_model.c, falsesig_gru.c). */
#include "model_text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

int fm_mtext_token(fm_mtext *c, char *buf, size_t cap)
{
    while (c->p < c->end && space(*c->p))
        c->p++;
    size_t n = 0;
    while (c->p < c->end && !space(*c->p)) {
        if (n + 1 >= cap)
            return 0;
        buf[n++] = *c->p++;
    }
    buf[n] = '\0';
    return n > 0;
}

int fm_mtext_at_end(fm_mtext *c)
{
    while (c->p < c->end && space(*c->p))
        c->p++;
    return c->p == c->end;
}

int fm_mtext_expect(fm_mtext *c, const char *word)
{
    char b[64];
    return fm_mtext_token(c, b, sizeof b) && !strcmp(b, word);
}

int fm_mtext_long(fm_mtext *c, long lo, long hi, long *v)
{
    char b[64], *e;
    if (!fm_mtext_token(c, b, sizeof b))
        return 0;
    errno = 0;
    long x = strtol(b, &e, 10);
    if (*e || errno || x < lo || x > hi)
        return 0;
    *v = x;
    return 1;
}

int fm_mtext_double(fm_mtext *c, double *v, int allow_inf)
{
    char b[64], *e;
    if (!fm_mtext_token(c, b, sizeof b))
        return 0;
    errno = 0;
    double x = strtod(b, &e);
    if (*e || isnan(x) || (!allow_inf && (errno || !isfinite(x))))
        return 0;
    *v = x;
    return 1;
}
