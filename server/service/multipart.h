/* fm_multipart: a streaming parser of multipart/form-data bodies (RFC 7578, RFC 2046 5.1) for
 * the browser's upload form. It finds the first part that carries a file (a Content-Disposition
 * with filename=) and hands its bytes to a sink as they arrive, whatever the network splits:
 * a delimiter cut across two reads is recognised, and memory stays fixed (the object, with at
 * most FM_MULTIPART_HEADERS_MAX bytes of one part's headers). Other parts are skipped.
 *
 * Pure computation on the bytes given (no sockets, no files, no globals): the caller (http.c)
 * writes what the sink receives; the fuzz target feeds it arbitrary input in arbitrary pieces.
 * Not for parsing the Content-Type header beyond its boundary parameter, nor for form fields
 * other than the file. */
#ifndef FM_MULTIPART_H
#define FM_MULTIPART_H

#include <stddef.h>

#define FM_MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 */
#define FM_MULTIPART_HEADERS_MAX 4096  /* one part's header block */
#define FM_MULTIPART_FILENAME_MAX 256

typedef enum fm_multipart_status {
    FM_MP_MORE = 0, /* fine so far: feed more */
    FM_MP_DONE,     /* the closing delimiter was seen; later bytes are ignored */
    FM_MP_ERROR     /* malformed (or the sink refused): stop */
} fm_multipart_status;

/* Receives file bytes; returns 0 to go on, anything else to stop with FM_MP_ERROR. */
typedef int (*fm_multipart_sink)(void *user, const char *buf, size_t len);

typedef struct fm_multipart fm_multipart;

/* The boundary parameter of a Content-Type value "multipart/form-data; boundary=..." (quoted or
 * not) into out (cap >= FM_MULTIPART_BOUNDARY_MAX + 1). 0 when found and valid, -1 when the
 * value is not multipart/form-data or has no usable boundary. */
int fm_multipart_boundary(const char *content_type, char *out, size_t cap);

/* NULL when the boundary is empty, longer than FM_MULTIPART_BOUNDARY_MAX, or out of memory. */
fm_multipart *fm_multipart_create(const char *boundary);
void fm_multipart_destroy(fm_multipart *m);

/* Feeds the next len bytes of the body. The file part's bytes go to sink (in order, possibly in
 * several calls per feed). Once DONE or ERROR, further feeds return the same. */
fm_multipart_status fm_multipart_feed(fm_multipart *m, const char *in, size_t len,
                                      fm_multipart_sink sink, void *user);

/* The state after the last feed; a body that ends while MORE is truncated (malformed). */
fm_multipart_status fm_multipart_status_of(const fm_multipart *m);
/* 1 when a file part was found (its bytes went, or go, to the sink). */
int fm_multipart_has_file(const fm_multipart *m);
/* The file part's filename= as sent ("" when none yet). Not sanitised: callers must. */
const char *fm_multipart_filename(const fm_multipart *m);

#endif
