/* fm_log: see log.h. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "svc.h"

void fm_log(const char *level, const char *event, const char *extra)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "{\"t_ms\":%lld,\"level\":\"%s\",\"event\":\"%s\"%s%s}\n",
                     (long long)fm_now_ms(), level, event, extra ? "," : "", extra ? extra : "");
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof line) { /* keep the line valid JSON: drop the details */
        n = snprintf(line, sizeof line, "{\"t_ms\":%lld,\"level\":\"%s\",\"event\":\"%s\"}\n",
                     (long long)fm_now_ms(), level, event);
    }
    ssize_t w = write(2, line, (size_t)n); /* one write: lines from threads never interleave */
    (void)w;
}

/* A path segment that can be logged as it is: a word of our routes, or an id (digits, or the
 * 16 hex digits of a recording). Anything else may be a name or other data the client put in
 * the URL (a crafted /api/beth, a file name): it is logged as ":x". */
static int segment_is_safe(const char *s, size_t n)
{
    static const char *const words[] = {"api",   "patients", "recordings", "alerts", "audio",
                                        "readings", "ack",   "me",         "login",  "logout",
                                        "audit", "health",   "metrics",    "uploads", "ws",
                                        "live",  "ingest",   "worklist",   "samples"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return 1;
    int digits = n > 0 && n <= 20, hex = n == 16;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] >= '0' && s[i] <= '9';
        digits &= d;
        hex &= d || (s[i] >= 'a' && s[i] <= 'f');
    }
    return digits || hex;
}

void fm_log_path(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    int after_patients = 0;
    if (!cap)
        return;
    for (const char *p = path; *p && n + 1 < cap;) {
        if (*p == '/') {
            out[n++] = *p++;
            continue;
        }
        size_t len = strcspn(p, "/");
        const char *rep = after_patients ? ":name" : segment_is_safe(p, len) ? NULL : ":x";
        after_patients = len == 8 && !memcmp(p, "patients", 8);
        const char *src = rep ? rep : p;
        size_t k = rep ? strlen(rep) : len;
        for (size_t i = 0; i < k && n + 1 < cap; i++)
            out[n++] = src[i];
        p += len;
    }
    out[n] = 0;
}
