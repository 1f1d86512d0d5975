/* The webhook spool (webhook_spool.h): DIR/<id>.wh holds "<url>\n<body>" of one pending
 * delivery; DIR/next_id the high-water mark of delivery ids; DIR/failed/ the dead letters.
 * Every write is made durable before it is relied on (fdatasync of the file, fsync of the
 * directory), as the store does for what the server acknowledges.
 * Not for deciding retries (webhook.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webhook_spool.h"

#define ID_BLOCK 1024 /* ids reserved per fsync of the high-water mark */

struct fm_wh_spool {
    char *dir;
    uint64_t next, reserved; /* ids below `reserved` may be handed out without a write */
    uint64_t first;          /* next at open */
};

static void path_of(const fm_wh_spool *sp, uint64_t id, const char *ext, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020llu.%s", sp->dir, (unsigned long long)id, ext);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes data to path durably through path.tmp. */
static int write_durable(const char *dir, const char *path, const char *a, size_t na, const char *b,
                         size_t nb)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int bad = 0;
    const char *parts[2] = {a, b};
    size_t lens[2] = {na, nb};
    for (int i = 0; i < 2 && !bad; i++) {
        const char *p = parts[i];
        size_t n = lens[i];
        while (n && !bad) {
            ssize_t k = write(fd, p, n);
            if (k < 0 && errno == EINTR)
                continue;
            bad = k <= 0;
            if (!bad) {
                p += k;
                n -= (size_t)k;
            }
        }
    }
    bad |= fdatasync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0 || fsync_dir(dir) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static uint64_t parse_id(const char *name, const char *ext)
{
    char *end;
    unsigned long long v = strtoull(name, &end, 10);
    return end != name && *end == '.' && !strcmp(end + 1, ext) ? (uint64_t)v : 0;
}

fm_wh_spool *fm_wh_spool_open(const char *dir)
{
    char failed[4200];
    snprintf(failed, sizeof failed, "%s/failed", dir);
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || (mkdir(failed, 0700) != 0 && errno != EEXIST))
        return NULL;
    fm_wh_spool *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        return NULL;
    }
    uint64_t hw = 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/next_id", dir);
    FILE *f = fopen(p, "r");
    if (f) {
        unsigned long long v;
        if (fscanf(f, "%llu", &v) == 1)
            hw = v;
        fclose(f);
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        uint64_t id = parse_id(e->d_name, "wh");
        if (id >= hw)
            hw = id + 1;
        if (strstr(e->d_name, ".tmp")) { /* a write a crash interrupted: never acknowledged */
            char t[4200];
            snprintf(t, sizeof t, "%s/%s", dir, e->d_name);
            unlink(t);
        }
    }
    if (d)
        closedir(d);
    sp->next = sp->reserved = sp->first = hw ? hw : 1;
    return sp;
}

void fm_wh_spool_close(fm_wh_spool *sp)
{
    if (sp) {
        free(sp->dir);
        free(sp);
    }
}

int fm_wh_spool_ids(fm_wh_spool *sp, size_t n, uint64_t *first)
{
    if (sp->next + n > sp->reserved) {
        uint64_t hw = sp->next + n + ID_BLOCK;
        char p[4200], v[32];
        snprintf(p, sizeof p, "%s/next_id", sp->dir);
        int k = snprintf(v, sizeof v, "%llu\n", (unsigned long long)hw);
        if (write_durable(sp->dir, p, v, (size_t)k, "", 0) != 0)
            return -1;
        sp->reserved = hw;
    }
    *first = sp->next;
    sp->next += n;
    return 0;
}

int fm_wh_spool_write(fm_wh_spool *sp, uint64_t id, const char *url, const char *body, size_t len)
{
    char p[4200], head[2100];
    path_of(sp, id, "wh", p, sizeof p);
    int k = snprintf(head, sizeof head, "%s\n", url);
    if (k <= 0 || (size_t)k >= sizeof head)
        return -1;
    return write_durable(sp->dir, p, head, (size_t)k, body, len);
}

int fm_wh_spool_read(fm_wh_spool *sp, uint64_t id, char *url, size_t url_cap, char **body,
                     size_t *len)
{
    char p[4200];
    path_of(sp, id, "wh", p, sizeof p);
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    char *nl = buf && got == (size_t)n ? memchr(buf, '\n', got) : NULL;
    if (!nl) {
        free(buf);
        return -1;
    }
    buf[got] = 0;
    if (url && url_cap)
        snprintf(url, url_cap, "%.*s", (int)(nl - buf), buf);
    size_t off = (size_t)(nl - buf) + 1;
    memmove(buf, buf + off, got - off + 1);
    *body = buf;
    *len = got - off;
    return 0;
}

uint64_t fm_wh_spool_first_id(const fm_wh_spool *sp)
{
    return sp->first;
}

void fm_wh_spool_remove(fm_wh_spool *sp, uint64_t id)
{
    char p[4200];
    path_of(sp, id, "wh", p, sizeof p);
    unlink(p); /* a lost unlink only resends under the same id: receivers deduplicate */
}

void fm_wh_spool_dead(fm_wh_spool *sp, uint64_t id)
{
    char p[4200], q[4300];
    path_of(sp, id, "wh", p, sizeof p);
    snprintf(q, sizeof q, "%s/failed/%020llu.wh", sp->dir, (unsigned long long)id);
    if (rename(p, q) == 0)
        fsync_dir(sp->dir);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void fm_wh_spool_scan(fm_wh_spool *sp, void (*cb)(void *user, uint64_t id, const char *url),
                      void *user)
{
    DIR *d = opendir(sp->dir);
    if (!d)
        return;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t id = parse_id(e->d_name, "wh");
        if (!id)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint64_t *v = realloc(ids, nc * sizeof *v);
            if (!v)
                break;
            ids = v;
            cap = nc;
        }
        ids[n++] = id;
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        char p[4200], url[2100];
        path_of(sp, ids[i], "wh", p, sizeof p);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        int ok = fgets(url, sizeof url, f) != NULL;
        fclose(f);
        if (!ok)
            continue;
        url[strcspn(url, "\n")] = 0;
        cb(user, ids[i], url);
    }
    free(ids);
}
