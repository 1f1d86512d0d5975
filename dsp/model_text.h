/* Reading the engine's text model files (dsp/models/: boosted trees, the recurrent stage):
 * whitespace-separated tokens with bounds-checked numbers, so a damaged or hostile file is
 * refused, never read past its end. Internal to dsp/; not for any other text format. */
#ifndef FM_MODEL_TEXT_H
#define FM_MODEL_TEXT_H

#include <stddef.h>

typedef struct fm_mtext {
    const char *p, *end;
} fm_mtext;

/* Next token into buf (NUL-terminated); 0 at the end or when longer than cap - 1. */
int fm_mtext_token(fm_mtext *c, char *buf, size_t cap);
/* Nothing but white space is left. */
int fm_mtext_at_end(fm_mtext *c);
/* The next token is exactly word. */
int fm_mtext_expect(fm_mtext *c, const char *word);
/* A whole decimal integer in [lo, hi]. */
int fm_mtext_long(fm_mtext *c, long lo, long hi, long *v);
/* A number, never NaN; +-inf (and overflow) only where allow_inf. */
int fm_mtext_double(fm_mtext *c, double *v, int allow_inf);

#endif
