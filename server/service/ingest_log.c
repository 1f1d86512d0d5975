/* fm_ingest_log: see ingest_log.h. Why a log and not a sync per stream file: fdatasync of N
 * files costs N journal commits (shared only when they happen to overlap); one append-only file
 * costs one, so a commit round's price no longer grows with the number of streams. */
#include "ingest_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault.h"
#include "files.h"
#include "log.h"

#define LOG_MAGIC "FMILOG1\n"
#define LOG_HEADER 16
#define REC_MAGIC "FMIR"
#define REC_HEADER 28 /* magic 4, id 16, u32 len, u32 crc */
#define REC_MAX (16u << 20)
#define ID_LEN 16
#define IOV_BATCH 512 /* iovecs per writev (IOV_MAX is 1024) */

/* A set of stream ids (open addressing; ids are 16 hex digits). */
typedef struct idset {
    char (*v)[ID_LEN + 1];
    size_t cap, n;
} idset;

static size_t id_hash(const char *id);

static int idset_add(idset *s, const char *id)
{
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        char(*v)[ID_LEN + 1] = calloc(cap, sizeof *v);
        if (!v)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i][0])
                continue;
            size_t k = id_hash(s->v[i]) & (cap - 1);
            while (v[k][0])
                k = (k + 1) & (cap - 1);
            memcpy(v[k], s->v[i], ID_LEN + 1);
        }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t k = id_hash(id) & (s->cap - 1);
    while (s->v[k][0] && memcmp(s->v[k], id, ID_LEN))
        k = (k + 1) & (s->cap - 1);
    if (!s->v[k][0]) {
        memcpy(s->v[k], id, ID_LEN);
        s->v[k][ID_LEN] = 0;
        s->n++;
    }
    return 0;
}

static void idset_clear(idset *s)
{
    if (s->v)
        memset(s->v, 0, s->cap * sizeof *s->v);
    s->n = 0;
}

struct fm_ingest_log {
    char dir[4096];
    int fd[2];
    int active;
    uint64_t gen;      /* generation of the active log */
    int64_t size;      /* bytes in the active log */
    /* The round's records, not yet written: headers here, payloads stay in the callers'
     * buffers (no copy), all gathered by one writev per IOV_BATCH. */
    unsigned char (*hdr)[REC_HEADER];
    struct iovec *iov;
    size_t n_rec, cap_rec, len;
    uint64_t rounds, records;
    int64_t switched_ms; /* when the active log became active */
    int64_t switch_bytes, switch_ms;
    /* The stream files written while each log was active: a checkpoint syncs exactly these
     * (not the whole file system, which may hold other programs' data). */
    idset touched[2];
    /* checkpoint thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ckpt_pending; /* index of the log to empty, -1 when none */
    int ckpt_running; /* a checkpoint is queued or running */
    int stop;
};

/* ---- little helpers ---- */

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* CRC-32 (IEEE), to tell a torn record from a whole one; incremental like zlib's crc32(). */
uint32_t fm_ingest_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = crc ^ 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    return fm_ingest_crc32(0, p, n);
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int fm_frames_scan(int fd, uint32_t *next_seq, off_t *end)
{
    unsigned char h[FM_PCM_HEADER], fh[8];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, FM_PCM_MAGIC, 8))
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    off_t good = FM_PCM_HEADER;
    uint32_t seq = 0;
    while (pread(fd, fh, 8, good) == 8 && get_u32(fh) == seq &&
           good + 8 + (off_t)get_u32(fh + 4) <= st.st_size) {
        good += 8 + (off_t)get_u32(fh + 4);
        seq++;
    }
    *next_seq = seq;
    *end = good;
    return 0;
}

/* ---- replay at start ---- */

typedef struct replay_file {
    char id[ID_LEN + 1];
    int fd; /* -1: no such stream file (finished or unknown): its records are skipped */
    uint32_t next;
    off_t end;
} replay_file;

typedef struct replay {
    const char *data_dir;
    replay_file *v; /* open addressing by id */
    size_t cap, n;
    size_t applied, skipped;
} replay;

static size_t id_hash(const char *id)
{
    size_t h = 1469598103934665603ull;
    for (int i = 0; i < ID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

static replay_file *replay_get(replay *r, const char *id)
{
    if (r->n * 2 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        replay_file *v = calloc(cap, sizeof *v);
        if (!v)
            return NULL;
        for (size_t i = 0; i < r->cap; i++) {
            if (!r->v[i].id[0])
                continue;
            size_t k = id_hash(r->v[i].id) & (cap - 1);
            while (v[k].id[0])
                k = (k + 1) & (cap - 1);
            v[k] = r->v[i];
        }
        free(r->v);
        r->v = v;
        r->cap = cap;
    }
    size_t k = id_hash(id) & (r->cap - 1);
    while (r->v[k].id[0] && memcmp(r->v[k].id, id, ID_LEN))
        k = (k + 1) & (r->cap - 1);
    replay_file *f = &r->v[k];
    if (f->id[0])
        return f;
    memcpy(f->id, id, ID_LEN);
    f->id[ID_LEN] = 0;
    r->n++;
    char path[4200];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", r->data_dir, f->id);
    f->fd = open(path, O_RDWR | O_CLOEXEC);
    if (f->fd >= 0 && fm_frames_scan(f->fd, &f->next, &f->end) != 0) {
        close(f->fd);
        f->fd = -1;
    }
    return f;
}

/* The frames of one record that the stream file lacks are appended to it. */
static void replay_record(replay *r, const char *id, const unsigned char *p, size_t len)
{
    replay_file *f = replay_get(r, id);
    if (!f || f->fd < 0)
        return;
    for (size_t at = 0; at + 8 <= len;) {
        uint32_t seq = get_u32(p + at), n = get_u32(p + at + 4);
        if (at + 8 + n > len)
            break;
        if (seq == f->next) {
            if (pwrite(f->fd, p + at, 8 + n, f->end) != (ssize_t)(8 + n))
                return;
            f->end += 8 + n;
            f->next++;
            r->applied++;
        } else {
            r->skipped++; /* already there (or, never expected, a gap: not invented) */
        }
        at += 8 + n;
    }
}

/* Reads one log's records into the stream files; returns its generation (0: no valid log). */
static uint64_t replay_log(replay *r, int fd, int apply)
{
    unsigned char h[LOG_HEADER];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, LOG_MAGIC, 8))
        return 0;
    uint64_t gen = 0;
    for (int i = 0; i < 8; i++)
        gen |= (uint64_t)h[8 + i] << (8 * i);
    if (!apply)
        return gen;
    off_t at = LOG_HEADER;
    unsigned char rh[REC_HEADER];
    unsigned char *buf = NULL;
    while (pread(fd, rh, sizeof rh, at) == (ssize_t)sizeof rh && !memcmp(rh, REC_MAGIC, 4)) {
        uint32_t len = get_u32(rh + 20), crc = get_u32(rh + 24);
        if (len > REC_MAX)
            break;
        unsigned char *b = realloc(buf, len ? len : 1);
        if (!b)
            break;
        buf = b;
        if (pread(fd, buf, len, at + REC_HEADER) != (ssize_t)len || crc32_of(buf, len) != crc)
            break; /* torn: the round it belonged to was never acknowledged */
        char id[ID_LEN + 1];
        memcpy(id, rh + 4, ID_LEN);
        id[ID_LEN] = 0;
        replay_record(r, id, buf, len);
        at += REC_HEADER + len;
    }
    free(buf);
    return gen;
}

static int open_log(fm_ingest_log *l, int i)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/log%d", l->dir, i);
    l->fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return l->fd[i] < 0 ? -1 : 0;
}

/* Empties log i and gives it a header of generation gen (unsynced). */
static int reset_log(fm_ingest_log *l, int i, uint64_t gen)
{
    unsigned char h[LOG_HEADER];
    memcpy(h, LOG_MAGIC, 8);
    for (int k = 0; k < 8; k++)
        h[8 + k] = (unsigned char)(gen >> (8 * k));
    if (ftruncate(l->fd[i], 0) != 0 || lseek(l->fd[i], 0, SEEK_SET) != 0)
        return -1;
    return gen ? write_all(l->fd[i], h, sizeof h) : 0;
}

/* Syncs the stream files written while log i was active, then empties log i. Every stream
 * file write that went into log i happened before this: once those files are synced they are
 * durable without the log. A file that is gone belongs to a finished stream, whose WAV was
 * synced before the frames file was removed. */
static int checkpoint(fm_ingest_log *l, int i)
{
    int ok = 1;
    idset *t = &l->touched[i];
    for (size_t k = 0; k < t->cap; k++) {
        if (!t->v[k][0])
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/../recordings/%s.fmpcm", l->dir, t->v[k]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ok &= fdatasync(fd) == 0;
            close(fd);
        } else if (errno != ENOENT) {
            ok = 0;
        }
    }
    idset_clear(t);
    ok = ok && ftruncate(l->fd[i], 0) == 0 && fdatasync(l->fd[i]) == 0;
    if (!ok)
        fm_log("error", "ingest_checkpoint_failed", NULL);
    return ok ? 0 : -1;
}

static void *checkpoint_thread(void *arg)
{
    fm_ingest_log *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->ckpt_pending < 0)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->ckpt_pending < 0)
            break;
        int i = l->ckpt_pending;
        l->ckpt_pending = -1;
        pthread_mutex_unlock(&l->mu);
        checkpoint(l, i);
        pthread_mutex_lock(&l->mu);
        l->ckpt_running = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

fm_ingest_log *fm_ingest_log_open(const char *data_dir, char *err, size_t err_len)
{
    fm_ingest_log *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    snprintf(l->dir, sizeof l->dir, "%s/ingest", data_dir);
    l->fd[0] = l->fd[1] = -1;
    l->ckpt_pending = -1;
    if (open_log(l, 0) != 0 || open_log(l, 1) != 0) {
        snprintf(err, err_len, "cannot open %s/log0, log1: %s", l->dir, strerror(errno));
        goto fail;
    }
    /* Replay the older log first: its records precede the other's. */
    replay r = {.data_dir = data_dir};
    uint64_t g0 = replay_log(&r, l->fd[0], 0), g1 = replay_log(&r, l->fd[1], 0);
    int first = g1 && (!g0 || g1 < g0) ? 1 : 0;
    replay_log(&r, l->fd[first], 1);
    replay_log(&r, l->fd[1 - first], 1);
    int sync_failed = 0;
    for (size_t i = 0; i < r.cap; i++) {
        if (r.v[i].id[0] && r.v[i].fd >= 0) {
            sync_failed |= fdatasync(r.v[i].fd) != 0;
            close(r.v[i].fd);
        }
    }
    free(r.v);
    if (sync_failed) {
        snprintf(err, err_len, "cannot sync the replayed stream files");
        goto fail;
    }
    if (r.applied) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"frames\":%zu,\"streams\":%zu", r.applied, r.n);
        fm_log("info", "ingest_log_replayed", extra);
    }
    l->gen = (g0 > g1 ? g0 : g1) + 1;
    l->active = 0;
    if (reset_log(l, 1, 0) != 0 || fdatasync(l->fd[1]) != 0 || reset_log(l, 0, l->gen) != 0 ||
        fdatasync(l->fd[0]) != 0 || fm_dir_fsync(l->dir) != FM_SVC_OK) {
        snprintf(err, err_len, "cannot reset %s: %s", l->dir, strerror(errno));
        goto fail;
    }
    l->size = LOG_HEADER;
    l->switched_ms = fm_now_ms();
    l->switch_bytes = FM_INGEST_LOG_SWITCH_BYTES;
    l->switch_ms = FM_INGEST_LOG_SWITCH_MS;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, checkpoint_thread, l) != 0) {
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cv);
        snprintf(err, err_len, "cannot start the checkpoint thread");
        goto fail;
    }
    return l;
fail:
    for (int i = 0; i < 2; i++)
        if (l->fd[i] >= 0)
            close(l->fd[i]);
    free(l);
    return NULL;
}

void fm_ingest_log_close(fm_ingest_log *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    /* A clean stop: the active log's stream files are synced and the log emptied, so the
     * next start has nothing to replay. */
    checkpoint(l, l->active);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    close(l->fd[0]);
    close(l->fd[1]);
    free(l->touched[0].v);
    free(l->touched[1].v);
    free(l->hdr);
    free(l->iov);
    free(l);
}

int fm_ingest_log_append(fm_ingest_log *l, const char *stream_id, int fd,
                         const unsigned char *frames, size_t len, uint32_t crc)
{
    if (strlen(stream_id) != ID_LEN || len > REC_MAX)
        return -1;
    if (write_all(fd, frames, len) != 0 || idset_add(&l->touched[l->active], stream_id) != 0)
        return -1;
    if (l->n_rec == l->cap_rec) {
        size_t cap = l->cap_rec ? l->cap_rec * 2 : 256;
        unsigned char(*h)[REC_HEADER] = realloc(l->hdr, cap * sizeof *h);
        if (h)
            l->hdr = h;
        struct iovec *v = h ? realloc(l->iov, 2 * cap * sizeof *v) : NULL;
        if (!v)
            return -1;
        l->iov = v;
        l->cap_rec = cap;
    }
    unsigned char *h = l->hdr[l->n_rec];
    memcpy(h, REC_MAGIC, 4);
    memcpy(h + 4, stream_id, ID_LEN);
    put_u32(h + 20, (uint32_t)len);
    put_u32(h + 24, crc);
    l->iov[2 * l->n_rec].iov_len = REC_HEADER;
    l->iov[2 * l->n_rec + 1].iov_base = (void *)frames;
    l->iov[2 * l->n_rec + 1].iov_len = len;
    l->n_rec++;
    l->len += REC_HEADER + len;
    l->records++;
    return 0;
}

/* Writes every iovec (headers are re-pointed here: hdr may have moved while growing). */
static int write_records(fm_ingest_log *l, int fd)
{
    for (size_t i = 0; i < l->n_rec; i++)
        l->iov[2 * i].iov_base = l->hdr[i];
    struct iovec *v = l->iov;
    size_t n = 2 * l->n_rec;
    while (n) {
        int k = n < IOV_BATCH ? (int)n : IOV_BATCH;
        ssize_t w = writev(fd, v, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (k && (size_t)w >= v->iov_len) { /* skip what went whole */
            w -= (ssize_t)v->iov_len;
            v++, n--, k--;
        }
        if (w > 0) { /* a partial one: the rest of it next time */
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int fm_ingest_log_commit(fm_ingest_log *l)
{
    int fd = l->fd[l->active];
    if (l->n_rec && write_records(l, fd) != 0) {
        /* Whatever part was written is a torn record for the replay; cut it off. */
        if (ftruncate(fd, (off_t)l->size) != 0 || lseek(fd, (off_t)l->size, SEEK_SET) < 0)
            fm_log("error", "ingest_log_truncate_failed", NULL);
        l->len = l->n_rec = 0;
        return -1;
    }
    l->n_rec = 0;
    if (fm_fault_hit("fsync_frames") || fdatasync(fd) != 0) {
        /* The round's records are not durable: cut them off, as after a failed write. */
        if (ftruncate(fd, (off_t)l->size) != 0 || lseek(fd, (off_t)l->size, SEEK_SET) < 0)
            fm_log("error", "ingest_log_truncate_failed", NULL);
        l->len = 0;
        return -1;
    }
    l->size += (int64_t)l->len;
    l->len = 0;
    l->rounds++;
    /* Switch rarely: by then the kernel has written most stream-file pages back on its own,
     * and the checkpoint's syncs are cheap. */
    int64_t now = fm_now_ms();
    if (l->size < l->switch_bytes && now - l->switched_ms < l->switch_ms)
        return 0;
    /* Switch logs when the other one is empty again (its checkpoint finished). */
    pthread_mutex_lock(&l->mu);
    if (!l->ckpt_running) {
        int old = l->active;
        if (reset_log(l, 1 - old, l->gen + 1) == 0) {
            l->gen++;
            l->active = 1 - old;
            l->size = LOG_HEADER;
            l->switched_ms = now;
            l->ckpt_running = 1;
            l->ckpt_pending = old;
            pthread_cond_signal(&l->cv);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return 0;
}

void fm_ingest_log_set_switch(fm_ingest_log *l, int64_t bytes, int64_t ms)
{
    l->switch_bytes = bytes;
    l->switch_ms = ms;
}

uint64_t fm_ingest_log_rounds(const fm_ingest_log *l)
{
    return l->rounds;
}

uint64_t fm_ingest_log_records(const fm_ingest_log *l)
{
    return l->records;
}
