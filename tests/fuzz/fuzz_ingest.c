/* Fuzz target: the live ingest protocol's messages (server/service/ingest_msg.c: the JSON text
 * messages open / close / movement and the binary audio frames), the outside input of
 * /ws/ingest. Byte 0 even: the rest is a text message; odd: a binary frame. Checks what
 * ingest.c relies on: an accepted open has a token, an s16le rate in range and names that fit;
 * an accepted frame has an even, bounded PCM length inside the input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        if (n > FM_INGEST_TEXT_MAX) /* ingest.c refuses longer messages before parsing */
            return 0;
        fm_ingest_msg m;
        fm_ingest_parse_text((const char *)b, n, &m);
        if (m.error[0] && !m.message)
            abort();
        if (m.type == FM_IMSG_BAD && !m.error[0])
            abort();
        if (m.type == FM_IMSG_OPEN && !m.error[0] &&
            (!m.token[0] || m.rate_hz < FM_INGEST_RATE_MIN_HZ ||
             m.rate_hz > FM_INGEST_RATE_MAX_HZ || memchr(m.patient, 0, sizeof m.patient) == NULL ||
             memchr(m.stream, 0, sizeof m.stream) == NULL))
            abort();
        if (m.type == FM_IMSG_MOVEMENT && !m.error[0] && m.has_t && !(isfinite(m.t_s) && m.t_s >= 0))
            abort();
    } else {
        uint32_t seq;
        const unsigned char *pcm;
        size_t len;
        if (fm_ingest_parse_frame(b, n, &seq, &pcm, &len) == 0 &&
            (len == 0 || len % 2 || len > FM_INGEST_FRAME_MAX || pcm != b + 4 || 4 + len != n))
            abort();
    }
    return 0;
}
