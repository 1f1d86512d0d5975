/* GET /api/recordings/ID/audio: the recording's bytes for playback beside the trace, with
 * single-range requests (Range: bytes=a-b, a-, -n) so a player can seek. The worker checks
 * access, opens the file and settles the range; the loop streams it in chunks (http.c), never
 * loading it whole. See docs/api.md. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"

static const char *mime_of(const char *file)
{
    const char *dot = strrchr(file, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcasecmp(dot, ".wav"))
        return "audio/wav";
    if (!strcasecmp(dot, ".flac"))
        return "audio/flac";
    if (!strcasecmp(dot, ".ogg"))
        return "audio/ogg";
    if (!strcasecmp(dot, ".csv"))
        return "text/csv";
    return "application/octet-stream";
}

/* Parses one "bytes=" range against size: 0 with [*off, *off + *len) set, 1 when there is no
 * range (whole file), -1 when unsatisfiable or malformed. */
static int parse_range(const char *h, int64_t size, int64_t *off, int64_t *len)
{
    if (!h[0])
        return 1;
    if (strncmp(h, "bytes=", 6) || strchr(h, ','))
        return -1;
    const char *p = h + 6;
    char *end;
    if (*p == '-') { /* the last n bytes */
        long long n = strtoll(p + 1, &end, 10);
        if (end == p + 1 || *end || n <= 0)
            return -1;
        *len = n < size ? n : size;
        *off = size - *len;
        return size > 0 ? 0 : -1;
    }
    long long a = strtoll(p, &end, 10);
    if (end == p || *end != '-' || a < 0 || a >= size)
        return -1;
    p = end + 1;
    long long b = size - 1;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (end == p || *end || b < a)
            return -1;
        if (b >= size)
            b = size - 1;
    }
    *off = a;
    *len = b - a + 1;
    return 0;
}

void api_recordings_audio(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                          const char *id, fm_http_resp *resp)
{
    fm_recording r;
    char object[64];
    snprintf(object, sizeof object, "recording:%.24s", id);
    if (api_visible_recording(s, p, req, id, &r, resp) != 0)
        return;
    if (r.status == FM_REC_RECEIVING) {
        fm_api_error(resp, 409, "conflict", "the live stream is still open");
        return;
    }
    char path[FM_PATH_MAX + FM_TEXT_MAX];
    snprintf(path, sizeof path, "%s/%s", api->cfg->data_dir, r.file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        fm_api_error(resp, 500, "storage", "the recording file is missing");
        return;
    }
    int64_t off = 0, len = st.st_size;
    int pr = parse_range(req->range, st.st_size, &off, &len);
    if (pr < 0) {
        close(fd);
        fm_api_error(resp, 416, "bad_range", "one range within the file, e.g. bytes=0-1023");
        snprintf(resp->content_range, sizeof resp->content_range, "bytes */%lld",
                 (long long)st.st_size);
        return;
    }
    fm_http_resp_free(resp);
    resp->status = pr == 0 ? 206 : 200;
    resp->content_type = mime_of(r.file);
    resp->has_file = 1;
    resp->file_fd = fd;
    resp->file_off = off;
    resp->len = (size_t)len;
    if (pr == 0)
        snprintf(resp->content_range, sizeof resp->content_range, "bytes %lld-%lld/%lld",
                 (long long)off, (long long)(off + len - 1), (long long)st.st_size);
    api_audit(s, p, req, "recording.audio", object, resp->status);
}
