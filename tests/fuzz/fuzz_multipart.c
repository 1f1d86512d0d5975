/* Fuzz target: the streaming multipart/form-data parser of browser uploads
 * (server/service/multipart.c, fm_multipart_feed) and the boundary parameter parser.
 *
 * Input: the first line is a Content-Type value (its boundary= is used when valid, else the line
 * itself as the boundary), byte 0 of the rest seeds how the body is cut into pieces, the rest is
 * the body. The body goes through the parser twice, whole and in pieces of 1..64 bytes: the
 * status, the file bytes the sink receives and the file name must be the same (a delimiter
 * split across reads is recognised), and the file is never longer than the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

typedef struct sink_buf {
    char *b;
    size_t n, cap;
} sink_buf;

static int sink(void *user, const char *buf, size_t len)
{
    sink_buf *s = user;
    if (s->n + len > s->cap)
        abort(); /* more file bytes than body bytes */
    memcpy(s->b + s->n, buf, len);
    s->n += len;
    return 0;
}

static fm_multipart_status run(const char *boundary, const uint8_t *body, size_t n, unsigned seed,
                               sink_buf *out, char *filename, size_t fcap, int *has_file)
{
    *has_file = 0;
    filename[0] = 0;
    fm_multipart *m = fm_multipart_create(boundary);
    if (!m)
        return FM_MP_ERROR;
    fm_multipart_status st = FM_MP_MORE;
    size_t off = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (off < n) {
        size_t k = n - off;
        if (seed) { /* pieces of 1..64 bytes */
            x = x * 1103515245u + 12345u;
            size_t piece = 1 + (x >> 16) % 64;
            k = k < piece ? k : piece;
        }
        st = fm_multipart_feed(m, (const char *)body + off, k, sink, out);
        off += k;
    }
    if (!n)
        st = fm_multipart_feed(m, "", 0, sink, out);
    if (st != fm_multipart_status_of(m))
        abort();
    *has_file = fm_multipart_has_file(m);
    const char *fn = fm_multipart_filename(m);
    if (!fn || strlen(fn) >= fcap)
        abort();
    strcpy(filename, fn);
    fm_multipart_destroy(m);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || (size_t)(nl - data) > 512 || nl + 2 > data + size)
        return 0;
    char ctype[520], boundary[FM_MULTIPART_BOUNDARY_MAX + 1];
    memcpy(ctype, data, (size_t)(nl - data));
    ctype[nl - data] = 0;
    if (fm_multipart_boundary(ctype, boundary, sizeof boundary) != 0) {
        if (strlen(ctype) > FM_MULTIPART_BOUNDARY_MAX)
            return 0;
        strcpy(boundary, ctype);
    } else if (!boundary[0] || strlen(boundary) > FM_MULTIPART_BOUNDARY_MAX) {
        abort(); /* a boundary the parser accepted must be usable */
    }
    unsigned seed = nl[1] | 1u;
    const uint8_t *body = nl + 2;
    size_t n = size - (size_t)(body - data);
    sink_buf whole = {malloc(n + 1), 0, n}, pieces = {malloc(n + 1), 0, n};
    char fn1[FM_MULTIPART_FILENAME_MAX + 1], fn2[FM_MULTIPART_FILENAME_MAX + 1];
    int hf1, hf2;
    fm_multipart_status s1 = run(boundary, body, n, 0, &whole, fn1, sizeof fn1, &hf1);
    fm_multipart_status s2 = run(boundary, body, n, seed, &pieces, fn2, sizeof fn2, &hf2);
    /* The same verdict however the network cut the body. (A sink error cannot happen here.) */
    if (s1 != s2 || hf1 != hf2 || strcmp(fn1, fn2) ||
        (s1 == FM_MP_DONE && (whole.n != pieces.n || memcmp(whole.b, pieces.b, whole.n))))
        abort();
    free(whole.b);
    free(pieces.b);
    return 0;
}
