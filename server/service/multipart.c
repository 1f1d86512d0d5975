/* fm_multipart: see multipart.h. A byte-at-a-time state machine, with the delimiter
 * "CRLF--boundary" found by Knuth-Morris-Pratt so that no input byte is looked at twice and
 * bytes that might start a delimiter are held back only as a count (they are a prefix of the
 * delimiter, so they can be re-emitted from it). Runs of ordinary bytes are handed to the sink
 * straight from the input. */
#include "multipart.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp_state {
    MP_BODY,        /* inside a part's body (or the preamble), looking for the delimiter */
    MP_AFTER_DELIM, /* "--" (the end) or optional blanks then CRLF (a part follows) */
    MP_DASH,        /* one '-' of the closing "--" seen */
    MP_CR,          /* CR seen after a delimiter */
    MP_HEADERS,     /* a part's header block, up to the empty line */
    MP_DONE,
    MP_ERROR
};

#define DELIM_MAX (4 + FM_MULTIPART_BOUNDARY_MAX)
#define OUT_BUF 4096

struct fm_multipart {
    char delim[DELIM_MAX + 1]; /* "\r\n--" boundary */
    size_t dlen;
    size_t fail[DELIM_MAX]; /* KMP: longest proper prefix of delim[0..i] that is its suffix */
    size_t match;           /* bytes of delim matched (held back) */
    enum mp_state st;
    int emit;     /* the current part is the file */
    int has_file; /* a file part was found */
    char hdr[FM_MULTIPART_HEADERS_MAX];
    size_t hlen;
    char filename[FM_MULTIPART_FILENAME_MAX];
    fm_multipart_sink sink;
    void *user;
    char out[OUT_BUF]; /* held-back bytes that turned out to be data */
    size_t olen;
};

int fm_multipart_boundary(const char *ct, char *out, size_t cap)
{
    static const char type[] = "multipart/form-data";
    if (!ct || strncasecmp(ct, type, sizeof type - 1))
        return -1;
    const char *p = ct + sizeof type - 1;
    while (*p) {
        while (*p == ';' || *p == ' ' || *p == '\t')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t nlen = (size_t)(p - name);
        while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
            nlen--;
        if (*p != '=')
            continue;
        p++;
        char val[FM_MULTIPART_BOUNDARY_MAX + 2];
        size_t vlen = 0;
        int too_long = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (vlen < sizeof val - 1)
                    val[vlen++] = *p;
                else
                    too_long = 1;
            }
            if (*p == '"')
                p++;
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
                if (vlen < sizeof val - 1)
                    val[vlen++] = *p;
                else
                    too_long = 1;
            }
        }
        val[vlen] = 0;
        if (nlen == 8 && !strncasecmp(name, "boundary", 8)) {
            if (too_long || vlen == 0 || vlen > FM_MULTIPART_BOUNDARY_MAX || vlen + 1 > cap)
                return -1;
            memcpy(out, val, vlen + 1);
            return 0;
        }
    }
    return -1;
}

fm_multipart *fm_multipart_create(const char *boundary)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen == 0 || blen > FM_MULTIPART_BOUNDARY_MAX)
        return NULL;
    fm_multipart *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, blen);
    m->dlen = 4 + blen;
    m->fail[0] = 0;
    for (size_t i = 1, k = 0; i < m->dlen; i++) {
        while (k > 0 && m->delim[i] != m->delim[k])
            k = m->fail[k - 1];
        if (m->delim[i] == m->delim[k])
            k++;
        m->fail[i] = k;
    }
    /* The body starts with "--boundary": as if the CRLF before it had been seen. */
    m->match = 2;
    m->st = MP_BODY;
    return m;
}

void fm_multipart_destroy(fm_multipart *m)
{
    free(m);
}

fm_multipart_status fm_multipart_status_of(const fm_multipart *m)
{
    return m->st == MP_DONE ? FM_MP_DONE : m->st == MP_ERROR ? FM_MP_ERROR : FM_MP_MORE;
}

int fm_multipart_has_file(const fm_multipart *m)
{
    return m->has_file;
}

const char *fm_multipart_filename(const fm_multipart *m)
{
    return m->filename;
}

/* ---- output ---- */

static int flush(fm_multipart *m)
{
    if (m->olen && m->emit && m->sink(m->user, m->out, m->olen) != 0)
        return -1;
    m->olen = 0;
    return 0;
}

/* Data bytes that were held back (a prefix of the delimiter) or single bytes. */
static int put(fm_multipart *m, const char *b, size_t n)
{
    if (!m->emit)
        return 0;
    while (n) {
        size_t k = OUT_BUF - m->olen < n ? OUT_BUF - m->olen : n;
        memcpy(m->out + m->olen, b, k);
        m->olen += k;
        b += k;
        n -= k;
        if (m->olen == OUT_BUF && flush(m) != 0)
            return -1;
    }
    return 0;
}

/* A run of input bytes that cannot hold a delimiter: straight to the sink, after what is
 * buffered (order is kept). */
static int put_run(fm_multipart *m, const char *b, size_t n)
{
    if (!m->emit || !n)
        return 0;
    if (flush(m) != 0)
        return -1;
    return m->sink(m->user, b, n);
}

/* ---- part headers ---- */

/* The value of parameter `want` (e.g. "filename") in a Content-Disposition line, unquoted, into
 * out. 1 when present. */
static int disposition_param(const char *line, size_t len, const char *want, char *out, size_t cap)
{
    size_t wl = strlen(want), i = 0;
    /* Skip the disposition type. */
    while (i < len && line[i] != ';')
        i++;
    while (i < len) {
        i++; /* the ';' */
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t name = i;
        while (i < len && line[i] != '=' && line[i] != ';')
            i++;
        size_t nlen = i - name;
        while (nlen && (line[name + nlen - 1] == ' ' || line[name + nlen - 1] == '\t'))
            nlen--;
        int hit = nlen == wl && !strncasecmp(line + name, want, wl);
        if (i >= len || line[i] == ';')
            continue;
        i++; /* '=' */
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t o = 0;
        if (i < len && line[i] == '"') {
            for (i++; i < len && line[i] != '"'; i++) {
                if (line[i] == '\\' && i + 1 < len)
                    i++;
                if (hit && o + 1 < cap)
                    out[o++] = line[i];
            }
            if (i < len)
                i++; /* closing quote */
            while (i < len && line[i] != ';')
                i++;
        } else {
            for (; i < len && line[i] != ';'; i++)
                if (hit && o + 1 < cap && line[i] != ' ' && line[i] != '\t')
                    out[o++] = line[i];
        }
        if (hit) {
            out[o] = 0;
            return 1;
        }
    }
    return 0;
}

/* The header block is complete: is this part the file? */
static void part_begins(fm_multipart *m)
{
    static const char cd[] = "content-disposition:";
    m->emit = 0;
    for (size_t i = 0; i < m->hlen;) {
        size_t end = i;
        while (end < m->hlen && m->hdr[end] != '\r' && m->hdr[end] != '\n')
            end++;
        size_t len = end - i;
        if (len > sizeof cd - 1 && !strncasecmp(m->hdr + i, cd, sizeof cd - 1) && !m->has_file) {
            char fname[FM_MULTIPART_FILENAME_MAX];
            const char *v = m->hdr + i + sizeof cd - 1;
            if (disposition_param(v, len - (sizeof cd - 1), "filename", fname, sizeof fname)) {
                memcpy(m->filename, fname, sizeof fname);
                m->has_file = 1;
                m->emit = 1;
            }
        }
        i = end;
        while (i < m->hlen && (m->hdr[i] == '\r' || m->hdr[i] == '\n'))
            i++;
    }
}

/* ---- the machine ---- */

static int body_byte(fm_multipart *m, char c)
{
    while (m->match > 0 && c != m->delim[m->match]) {
        size_t f = m->fail[m->match - 1];
        if (put(m, m->delim, m->match - f) != 0)
            return -1;
        m->match = f;
    }
    if (c == m->delim[m->match]) {
        if (++m->match == m->dlen) { /* a delimiter: the part ends here */
            if (flush(m) != 0)
                return -1;
            m->match = 0;
            m->emit = 0;
            m->st = MP_AFTER_DELIM;
        }
        return 0;
    }
    return put(m, &c, 1);
}

static void header_byte(fm_multipart *m, char c)
{
    if (m->hlen == sizeof m->hdr) {
        m->st = MP_ERROR;
        return;
    }
    m->hdr[m->hlen++] = c;
    int empty = m->hlen == 2 && !memcmp(m->hdr, "\r\n", 2);
    int end = m->hlen >= 4 && !memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4);
    if (empty || end) {
        part_begins(m);
        m->st = MP_BODY;
    }
}

fm_multipart_status fm_multipart_feed(fm_multipart *m, const char *in, size_t len,
                                      fm_multipart_sink sink, void *user)
{
    m->sink = sink;
    m->user = user;
    size_t i = 0;
    while (i < len && m->st != MP_DONE && m->st != MP_ERROR) {
        char c = in[i];
        switch (m->st) {
        case MP_BODY:
            if (m->match == 0) {
                /* Fast path: nothing held back; everything before the next CR is data. */
                const char *cr = memchr(in + i, '\r', len - i);
                size_t run = cr ? (size_t)(cr - (in + i)) : len - i;
                if (run) {
                    if (put_run(m, in + i, run) != 0)
                        m->st = MP_ERROR;
                    i += run;
                    continue;
                }
            }
            if (body_byte(m, c) != 0)
                m->st = MP_ERROR;
            break;
        case MP_AFTER_DELIM:
            if (c == '-')
                m->st = MP_DASH;
            else if (c == '\r')
                m->st = MP_CR;
            else if (c != ' ' && c != '\t')
                m->st = MP_ERROR;
            break;
        case MP_DASH: m->st = c == '-' ? MP_DONE : MP_ERROR; break;
        case MP_CR:
            if (c == '\n') {
                m->hlen = 0;
                m->st = MP_HEADERS;
            } else {
                m->st = MP_ERROR;
            }
            break;
        case MP_HEADERS: header_byte(m, c); break;
        default: break;
        }
        i++;
    }
    if (m->st == MP_BODY && flush(m) != 0)
        m->st = MP_ERROR;
    return fm_multipart_status_of(m);
}
