/* Fuzz target: the FHRMA .fhr and .fhrm readers (the first byte picks which). */
#include <stdint.h>

#include "fetalmon/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fm_trace *t = NULL;
    char err[256];
    if (fm_trace_parse_fhr(data + 1, size - 1, data[0] & 1, &t, err, sizeof err) == FM_OK)
        fm_trace_destroy(t);
    return 0;
}
