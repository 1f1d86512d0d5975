/* Fuzz target: audio decoding through libsndfile's virtual I/O and the Doppler engine
 * (outside input: uploads, live streams saved as WAV, the CLI). */
#include <stdint.h>

#include "fetalmon/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fm_trace *t = NULL;
    fm_decode_info info;
    char err[256];
    if (fm_decode_memory(data, size, NULL, NULL, NULL, &t, &info, err, sizeof err) == FM_OK)
        fm_trace_destroy(t);
    return 0;
}
