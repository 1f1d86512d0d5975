/* Fuzz target: the WFDB reader. Input = header text, a NUL byte, then the signal file bytes. */
#include <stdint.h>
#include <string.h>

#include "fetalmon/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t hea_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *dat = nul ? nul + 1 : data + size;
    size_t dat_len = size - hea_len - (nul ? 1 : 0);
    fm_trace *t = NULL;
    char err[256];
    if (fm_trace_parse_wfdb((const char *)data, hea_len, dat, dat_len, &t, err, sizeof err) ==
        FM_OK)
        fm_trace_destroy(t);
    return 0;
}
