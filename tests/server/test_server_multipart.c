/* Unit tests of the streaming multipart/form-data parser (server/service/multipart.c): the file
 * part comes out byte for byte whatever the split of the input (every split point, random
 * splits, one byte at a time), with content that nearly looks like the delimiter; other parts
 * are skipped; malformed bodies are refused; the boundary parameter is read as browsers and
 * curl send it. */
#include <stdint.h>
#include <string.h>

#include "../check.h"
#include "multipart.h"

typedef struct sink_buf {
    char *b;
    size_t n, cap;
    int fail_after; /* the sink refuses after this many bytes (-1: never) */
} sink_buf;

static int sink(void *user, const char *buf, size_t len)
{
    sink_buf *s = user;
    if (s->fail_after >= 0 && s->n + len > (size_t)s->fail_after)
        return -1;
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->b = realloc(s->b, s->cap);
    }
    memcpy(s->b + s->n, buf, len);
    s->n += len;
    return 0;
}

/* Parses body split at the given cut points; returns the final status, output in out. */
static fm_multipart_status parse_split(const char *boundary, const char *body, size_t len,
                                       const size_t *cuts, size_t n_cuts, sink_buf *out,
                                       char *filename, size_t fcap)
{
    fm_multipart *m = fm_multipart_create(boundary);
    if (!m)
        return FM_MP_ERROR;
    size_t at = 0;
    fm_multipart_status st = FM_MP_MORE;
    for (size_t i = 0; i <= n_cuts && st == FM_MP_MORE; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        if (end < at)
            end = at;
        st = fm_multipart_feed(m, body + at, end - at, sink, out);
        at = end;
    }
    if (filename)
        snprintf(filename, fcap, "%s", fm_multipart_filename(m));
    if (st == FM_MP_DONE && !fm_multipart_has_file(m))
        st = FM_MP_ERROR;
    fm_multipart_destroy(m);
    return st;
}

static const char boundary[] = "----WebKitFormBoundaryX7abc";
static char body[8192];
static size_t body_len;
static char file[2048];
static size_t file_len;

/* A form with a text field, the file (content full of near-delimiters), and another field. */
static void make_body(void)
{
    file_len = 0;
    const char *tricky[] = {"\r\n", "\r\n-", "\r\n--", "\r\n------WebKitFormBoundaryX7ab",
                            "--", "\r", "\n\r\n", "\r\r\n--", "------WebKitFormBoundaryX7abc"};
    for (int i = 0; i < 60; i++) {
        const char *t = tricky[i % 9];
        memcpy(file + file_len, t, strlen(t));
        file_len += strlen(t);
        file[file_len++] = (char)(i * 37); /* binary bytes, NULs included */
    }
    memcpy(file, "RIFF", 4);
    body_len = (size_t)snprintf(body, sizeof body,
                                "--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                                "hello\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                                "filename=\"my rec.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
                                boundary, boundary);
    memcpy(body + body_len, file, file_len);
    body_len += file_len;
    body_len += (size_t)snprintf(body + body_len, sizeof body - body_len,
                                 "\r\n--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
                                 "y\r\n--%s--\r\nepilogue",
                                 boundary, boundary);
}

static void the_file_part_comes_out_exactly_at_every_split_point(void)
{
    make_body();
    int bad = 0;
    for (size_t cut = 0; cut <= body_len; cut++) {
        sink_buf out = {NULL, 0, 0, -1};
        char fname[256];
        fm_multipart_status st = parse_split(boundary, body, body_len, &cut, 1, &out, fname,
                                             sizeof fname);
        if (st != FM_MP_DONE || out.n != file_len || memcmp(out.b, file, file_len) ||
            strcmp(fname, "my rec.wav"))
            bad++;
        free(out.b);
    }
    CHECKF(bad == 0, "%d split points gave a wrong file", bad);
}

static void one_byte_at_a_time_and_random_splits(void)
{
    make_body();
    size_t cuts[8192];
    for (size_t i = 0; i < body_len; i++)
        cuts[i] = i + 1;
    sink_buf out = {NULL, 0, 0, -1};
    CHECK(parse_split(boundary, body, body_len, cuts, body_len, &out, NULL, 0) == FM_MP_DONE);
    CHECK(out.n == file_len && !memcmp(out.b, file, file_len));
    free(out.b);
    uint32_t x = 12345;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 0, at = 0;
        while (at < body_len && n < 64) {
            x = x * 1103515245u + 12345u;
            at += 1 + (x >> 16) % 97;
            cuts[n++] = at < body_len ? at : body_len;
        }
        sink_buf o = {NULL, 0, 0, -1};
        CHECK(parse_split(boundary, body, body_len, cuts, n, &o, NULL, 0) == FM_MP_DONE);
        CHECK(o.n == file_len && !memcmp(o.b, file, file_len));
        free(o.b);
    }
}

static void malformed_bodies_are_refused(void)
{
    make_body();
    sink_buf out = {NULL, 0, 0, -1};
    /* Truncated anywhere before the closing delimiter: never DONE. */
    for (size_t cut = 0; cut + 10 < body_len; cut += 7) {
        fm_multipart *m = fm_multipart_create(boundary);
        fm_multipart_status st = fm_multipart_feed(m, body, cut, sink, &out);
        CHECK(st != FM_MP_DONE);
        fm_multipart_destroy(m);
        out.n = 0;
    }
    /* Garbage after a delimiter, a header block that never ends, no file part. */
    char bad[6000];
    fm_multipart *m = fm_multipart_create(boundary);
    int n = snprintf(bad, sizeof bad, "--%sXY\r\n", boundary);
    CHECK(fm_multipart_feed(m, bad, (size_t)n, sink, &out) == FM_MP_ERROR);
    fm_multipart_destroy(m);
    m = fm_multipart_create(boundary);
    n = snprintf(bad, sizeof bad, "--%s\r\n", boundary);
    memset(bad + n, 'h', sizeof bad - (size_t)n);
    CHECK(fm_multipart_feed(m, bad, sizeof bad, sink, &out) == FM_MP_ERROR);
    fm_multipart_destroy(m);
    n = snprintf(bad, sizeof bad,
                 "--%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--%s--\r\n",
                 boundary, boundary);
    CHECK(parse_split(boundary, bad, (size_t)n, NULL, 0, &out, NULL, 0) == FM_MP_ERROR);
    CHECK(out.n == 0);
    /* A sink that refuses stops the parse. */
    sink_buf refusing = {NULL, 0, 0, 10};
    CHECK(parse_split(boundary, body, body_len, NULL, 0, &refusing, NULL, 0) == FM_MP_ERROR);
    free(refusing.b);
    free(out.b);
    CHECK(fm_multipart_create("") == NULL);
    char longb[80];
    memset(longb, 'b', 71);
    longb[71] = 0;
    CHECK(fm_multipart_create(longb) == NULL);
}

static void only_the_first_file_part_is_taken(void)
{
    char b[1024];
    int n = snprintf(b, sizeof b,
                     "preamble\r\n--zz\r\nContent-Disposition: form-data; name=\"f\"; "
                     "filename=\"a.csv\"\r\n\r\nAAA\r\n--zz\r\ncontent-disposition: form-data; "
                     "name=\"g\"; filename=\"b.csv\"\r\n\r\nBBB\r\n--zz--");
    sink_buf out = {NULL, 0, 0, -1};
    char fname[64];
    CHECK(parse_split("zz", b, (size_t)n, NULL, 0, &out, fname, sizeof fname) == FM_MP_DONE);
    CHECK(out.n == 3 && !memcmp(out.b, "AAA", 3));
    CHECK(!strcmp(fname, "a.csv"));
    free(out.b);
}

static void the_boundary_parameter_is_read_as_clients_send_it(void)
{
    char out[FM_MULTIPART_BOUNDARY_MAX + 1];
    CHECK(fm_multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryX7abc", out,
                                sizeof out) == 0 &&
          !strcmp(out, "----WebKitFormBoundaryX7abc"));
    CHECK(fm_multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\"", out,
                                sizeof out) == 0 &&
          !strcmp(out, "a b;c"));
    CHECK(fm_multipart_boundary("multipart/form-data", out, sizeof out) == -1);
    CHECK(fm_multipart_boundary("multipart/form-data; boundary=", out, sizeof out) == -1);
    CHECK(fm_multipart_boundary("multipart/mixed; boundary=x", out, sizeof out) == -1);
    CHECK(fm_multipart_boundary("text/plain", out, sizeof out) == -1);
    char longct[200];
    snprintf(longct, sizeof longct, "multipart/form-data; boundary=%080d", 1);
    CHECK(fm_multipart_boundary(longct, out, sizeof out) == -1);
}

int main(void)
{
    RUN(the_file_part_comes_out_exactly_at_every_split_point);
    RUN(one_byte_at_a_time_and_random_splits);
    RUN(malformed_bodies_are_refused);
    RUN(only_the_first_file_part_is_taken);
    RUN(the_boundary_parameter_is_read_as_clients_send_it);
    return CHECK_DONE();
}
