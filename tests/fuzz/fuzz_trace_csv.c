/* Fuzz target: the CSV trace reader (outside input: uploads and the CLI). */
#include <stdint.h>

#include "fetalmon/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_trace *t = NULL;
    char err[256];
    if (fm_trace_parse_csv((const char *)data, size, &t, err, sizeof err) == FM_OK) {
        (void)fm_trace_lost_percent(t);
        fm_trace_destroy(t);
    }
    return 0;
}
