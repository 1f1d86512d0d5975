/* Unit tests of the live-frame group-commit log (server/service/ingest_log.c) on a temporary
 * data directory, the writer being a forked child that dies without closing (a crash): committed
 * frames lost from their stream files (a power loss) come back at the next open,
 * also after the log switched files and checkpointed (records in both logs, replayed oldest
 * first); frames a stream file already has are not duplicated; a torn last record is ignored;
 * records of a finished stream (no frames file) are skipped; a clean close leaves nothing to
 * replay. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "files.h"
#include "ingest_log.h"
#include "srvtest.h"

enum { PCM = 4000 };
#define SWITCH_BYTES (8LL << 20) /* small, so the test switches logs quickly */
static char dir[512];

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static int append(fm_ingest_log *l, const char *id, int fd, const unsigned char *buf, size_t len)
{
    return fm_ingest_log_append(l, id, fd, buf, len, fm_ingest_crc32(0, buf, len));
}

/* A stream file with its header, open for appending. */
static int new_stream(const char *id)
{
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", dir, id);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    unsigned char h[FM_PCM_HEADER] = {0};
    memcpy(h, FM_PCM_MAGIC, 8);
    put_u32(h + 8, 8000);
    if (fd >= 0 && write(fd, h, sizeof h) != (ssize_t)sizeof h) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Frames [from, from + n) of a stream, in the frames-file format. */
static size_t frames(unsigned char *b, uint32_t from, uint32_t n, uint32_t salt)
{
    size_t len = 0;
    for (uint32_t s = from; s < from + n; s++) {
        put_u32(b + len, s);
        put_u32(b + len + 4, PCM);
        for (int i = 0; i < PCM; i++)
            b[len + 8 + i] = (unsigned char)(s * 31 + (uint32_t)i + salt);
        len += 8 + PCM;
    }
    return len;
}

/* The stream file holds exactly frames 0..n-1. */
static int stream_has(const char *id, uint32_t n, uint32_t salt)
{
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", dir, id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint32_t next;
    off_t end;
    int ok = fm_frames_scan(fd, &next, &end) == 0 && next == n;
    struct stat st;
    ok = ok && fstat(fd, &st) == 0 && st.st_size == end;
    unsigned char *want = malloc(8 + PCM), *got = malloc(8 + PCM);
    for (uint32_t s = 0; ok && s < n; s++) {
        frames(want, s, 1, salt);
        ok = pread(fd, got, 8 + PCM, FM_PCM_HEADER + (off_t)s * (8 + PCM)) == 8 + PCM &&
             !memcmp(want, got, 8 + PCM);
    }
    free(want);
    free(got);
    close(fd);
    return ok;
}

static void cut_stream(const char *id, uint32_t keep_frames, int extra_bytes)
{
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", dir, id);
    CHECK(truncate(path, FM_PCM_HEADER + (off_t)keep_frames * (8 + PCM) + extra_bytes) == 0);
}

static void committed_frames_come_back_from_the_log(void)
{
    char err[256] = "";
    const char *a = "00000000000000aa", *b = "00000000000000bb";
    unsigned char *buf = malloc(40 * (8 + PCM)), *buf2 = malloc(40 * (8 + PCM));
    fm_ingest_log *l;
    pid_t pid = fork();
    if (pid == 0) { /* the server: writes, then dies without a clean close */
        l = fm_ingest_log_open(dir, err, sizeof err);
        int fa = new_stream(a), fb = new_stream(b);
        int bad = !l || fa < 0 || fb < 0;
    /* Rounds with both streams, then one with a alone. */
        for (uint32_t r = 0; r < 4 && !bad; r++) {
            /* payloads are not copied before the commit: one buffer per append */
            bad |= append(l, a, fa, buf, frames(buf, r * 3, 3, 1)) != 0;
            bad |= append(l, b, fb, buf2, frames(buf2, r * 2, 2, 2)) != 0;
            bad |= fm_ingest_log_commit(l) != 0;
        }
        bad |= append(l, a, fa, buf, frames(buf, 12, 1, 1)) != 0;
        bad |= fm_ingest_log_commit(l) != 0;
        /* An append without its commit (the crash came before the round's sync). */
        bad |= append(l, b, fb, buf, frames(buf, 8, 1, 2)) != 0;
        bad |= fm_ingest_log_rounds(l) != 5 || fm_ingest_log_records(l) != 10;
        _exit(bad);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The power went: a kept 4 frames and half of one, b nothing past its header. */
    cut_stream(a, 4, 1000);
    cut_stream(b, 0, 0);
    l = fm_ingest_log_open(dir, err, sizeof err);
    CHECK(l != NULL);
    CHECK(stream_has(a, 13, 1));
    CHECK(stream_has(b, 8, 2)); /* frame 8 was never committed: not in the log */
    fm_ingest_log_close(l);
    /* The log was emptied: a second open replays nothing and changes nothing. */
    cut_stream(a, 13, 0);
    l = fm_ingest_log_open(dir, err, sizeof err);
    CHECK(stream_has(a, 13, 1) && stream_has(b, 8, 2));
    /* A clean close leaves an empty log (nothing to replay at the next start). */
    int fa = new_stream(a);
    CHECK(append(l, a, fa, buf, frames(buf, 0, 2, 1)) == 0);
    CHECK(fm_ingest_log_commit(l) == 0);
    fm_ingest_log_close(l);
    close(fa);
    char log0[700];
    struct stat lst;
    snprintf(log0, sizeof log0, "%s/ingest/log0", dir);
    CHECK(stat(log0, &lst) == 0 && lst.st_size == 0);
    free(buf);
    free(buf2);
}

static void the_log_switches_and_checkpoints_without_losing_a_frame(void)
{
    char err[256] = "";
    fm_ingest_log *l;
    const char *c = "00000000000000cc", *gone = "00000000000000dd";
    enum { PER_ROUND = 64 };
    unsigned char *buf = malloc(PER_ROUND * (8 + PCM));
    /* A bit more than two logs' worth: the active log switches at least twice. */
    uint32_t n = 0, rounds = (uint32_t)(2.2 * SWITCH_BYTES / (PER_ROUND * (8 + PCM)));
    for (uint32_t r = 0; r < rounds; r++)
        n += PER_ROUND;
    char log0[700], log1[700];
    snprintf(log0, sizeof log0, "%s/ingest/log0", dir);
    snprintf(log1, sizeof log1, "%s/ingest/log1", dir);
    pid_t pid = fork();
    if (pid == 0) { /* the server: writes, then dies without a clean close */
        l = fm_ingest_log_open(dir, err, sizeof err);
        int fc = new_stream(c), fd = new_stream(gone), bad = !l || fc < 0 || fd < 0;
        if (l)
            fm_ingest_log_set_switch(l, SWITCH_BYTES, 3600 * 1000);
        for (uint32_t r = 0, k = 0; r < rounds && !bad; r++, k += PER_ROUND) {
            bad |= append(l, c, fc, buf, frames(buf, k, PER_ROUND, 3)) != 0;
            unsigned char one[8 + PCM];
            if (r == rounds - 1)
                bad |= append(l, gone, fd, one, frames(one, 0, 1, 4)) != 0;
            bad |= fm_ingest_log_commit(l) != 0;
        }
        /* Let the last checkpoint finish: the inactive log is then empty. */
        for (int i = 0; i < 500; i++) {
            struct stat a, b;
            if (stat(log0, &a) == 0 && stat(log1, &b) == 0 && (a.st_size == 0 || b.st_size == 0))
                break;
            usleep(10000);
        }
        _exit(bad);
    }
    int wst = -1;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    /* The stream d finished meanwhile (its frames file became a WAV): its records are skipped. */
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", dir, gone);
    CHECK(unlink(path) == 0);
    /* What the active log holds was never checkpointed: a power loss may take it from the
     * stream file (what the checkpoints synced it cannot). Lose half of it, cut mid-frame. */
    struct stat st0, st1;
    CHECK(stat(log0, &st0) == 0 && stat(log1, &st1) == 0);
    CHECKF(st0.st_size <= 16 || st1.st_size <= 16, "both logs hold records: %lld, %lld",
           (long long)st0.st_size, (long long)st1.st_size);
    off_t active = st0.st_size > st1.st_size ? st0.st_size : st1.st_size;
    uint32_t in_log = (uint32_t)((active - 16) / (28 + PER_ROUND * (8 + PCM))) * PER_ROUND;
    CHECK(in_log > 0 && in_log < n / 2);
    cut_stream(c, n - in_log / 2, 7);
    l = fm_ingest_log_open(dir, err, sizeof err);
    CHECKF(l != NULL, "%s", err);
    CHECK(stream_has(c, n, 3));
    CHECK(access(path, F_OK) != 0);
    fm_ingest_log_close(l);
    free(buf);
}

static void a_torn_last_record_is_ignored(void)
{
    char err[256] = "";
    fm_ingest_log *l;
    const char *e = "00000000000000ee";
    unsigned char *buf = malloc(4 * (8 + PCM));
    pid_t pid = fork();
    if (pid == 0) {
        l = fm_ingest_log_open(dir, err, sizeof err);
        int fe = new_stream(e), bad = !l || fe < 0;
        bad = bad || append(l, e, fe, buf, frames(buf, 0, 2, 5)) != 0 ||
              fm_ingest_log_commit(l) != 0 ||
              append(l, e, fe, buf, frames(buf, 2, 2, 5)) != 0 ||
              fm_ingest_log_commit(l) != 0;
        _exit(bad);
    }
    int wst = -1;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    /* The last record loses its end (the round was never acknowledged). */
    char log0[700];
    snprintf(log0, sizeof log0, "%s/ingest/log0", dir);
    struct stat st;
    CHECK(stat(log0, &st) == 0);
    CHECK(truncate(log0, st.st_size - 10) == 0);
    cut_stream(e, 0, 0);
    l = fm_ingest_log_open(dir, err, sizeof err);
    CHECK(l != NULL);
    CHECK(stream_has(e, 2, 5));
    fm_ingest_log_close(l);
    free(buf);
}

int main(void)
{
    char err[256];
    if (make_temp_dir(dir, sizeof dir, "ingestlog") != 0 ||
        fm_datadir_prepare(dir, err, sizeof err) != FM_SVC_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(committed_frames_come_back_from_the_log);
    RUN(the_log_switches_and_checkpoints_without_losing_a_frame);
    RUN(a_torn_last_record_is_ignored);
    rm_tree(dir);
    return CHECK_DONE();
}
