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

void fm_log_path(const char *path, char *out, size_t cap)
{
    static const char pat[] = "/api/patients/";
    size_t n = 0;
    const char *p = path;
    if (!strncmp(p, pat, sizeof pat - 1)) {
        snprintf(out, cap, "%s:name", pat);
        n = strlen(out);
        p += sizeof pat - 1;
        p += strcspn(p, "/");
    }
    for (; *p && n + 1 < cap; p++) {
        char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '/' || c == '_' || c == '.' || c == '-')
            out[n++] = c;
    }
    out[n < cap ? n : cap - 1] = 0;
}
