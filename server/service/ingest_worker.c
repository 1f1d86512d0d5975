/* The worker side of live ingest (ingest.c has the protocol and the loop side): what an ingest
 * job does, off the event loop, to a stream's frames file and the store. Opening a stream
 * (token, access, a new frames file or the recording to resume), counting a resumed stream's
 * durable frames, appending and syncing frames (alone, or many streams in one commit round with
 * ingest_log.h), and turning the frames into the recording's WAV. Not for anything that touches
 * a connection, a stream slot or the commit queue: those belong to the loop (ingest.c). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "fault.h"
#include "files.h"
#include "ingest_int.h"
#include "ingest_log.h"
#include "ingest_stages.h"
#include "log.h"
/* Opens a stream's frames file for appending: a new one with its header, or an existing one
 * scanned for its complete frames (a torn last frame is cut off). */
static int open_frames(ingest_job *j, const char *path, int create)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (fd < 0)
        return -1;
    unsigned char h[FM_PCM_HEADER];
    if (create) {
        memset(h, 0, sizeof h);
        memcpy(h, FM_PCM_MAGIC, 8);
        put_u32(h + 8, (uint32_t)j->rate_hz);
        if (write(fd, h, sizeof h) != (ssize_t)sizeof h || fsync(fd) != 0) {
            close(fd);
            return -1;
        }
        j->next_seq = 0;
        return fd;
    }
    if (read(fd, h, sizeof h) != (ssize_t)sizeof h || memcmp(h, FM_PCM_MAGIC, 8) ||
        get_u32(h + 8) != (uint32_t)j->rate_hz) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    off_t good = FM_PCM_HEADER;
    uint32_t seq = 0;
    unsigned char fh[8];
    struct stat st;
    fstat(fd, &st);
    while (pread(fd, fh, 8, good) == 8 && get_u32(fh) == seq &&
           good + 8 + (off_t)get_u32(fh + 4) <= st.st_size) {
        good += 8 + (off_t)get_u32(fh + 4);
        seq++;
    }
    if (ftruncate(fd, good) != 0 || lseek(fd, good, SEEK_SET) != good) {
        close(fd);
        return -1;
    }
    j->next_seq = seq;
    return fd;
}

static void run_open(ingest_job *j, fm_store *s)
{
    fm_principal p;
    if (fm_auth_resolve(s, j->token, fm_now_ms(), &p) != FM_SVC_OK) {
        snprintf(j->error, sizeof j->error, "unauthorized");
        return;
    }
    /* Whose stream: the device's patient, the patient herself, or a clinician's ?patient. */
    int64_t pid = p.kind == FM_TOKEN_DEVICE ? p.device_patient_id : p.user.id;
    if (p.kind == FM_TOKEN_SESSION && p.user.role == FM_ROLE_CLINICIAN) {
        fm_user u;
        pid = fm_user_name_valid(j->patient) &&
                      fm_store_user_by_name(s, j->patient, &u, NULL, 0) == FM_SVC_OK &&
                      u.role == FM_ROLE_PATIENT
                  ? u.id
                  : -1;
    } else if (j->patient[0] && strcmp(j->patient, p.user.name)) { /* patient or her device */
        pid = -1;
    }
    if (pid <= 0 || fm_access_patient(s, &p, pid, FM_ACCESS_INGEST) != FM_SVC_OK) {
        snprintf(j->error, sizeof j->error, "not_found");
        return;
    }
    j->patient_id = pid;
    fm_patient pt;
    j->gestation_weeks = fm_store_patient_get(s, pid, &pt) == FM_SVC_OK
                             ? fm_api_gestation_at(&pt, fm_now_ms())
                             : NAN;
    const char *data = j->srv->cfg.data_dir;
    char path[FM_PATH_MAX + FM_TEXT_MAX];
    fm_recording r;
    if (j->resume[0]) {
        if (fm_store_recording_get(s, j->resume, &r) != FM_SVC_OK || r.patient_id != pid ||
            strcmp(r.kind, "stream") || r.status != FM_REC_RECEIVING) {
            snprintf(j->error, sizeof j->error, "no_stream");
            return;
        }
        snprintf(j->id, sizeof j->id, "%s", r.id);
        j->fd = -2; /* its frames are counted by a J_SCAN, once no job holds the file */
    } else {
        memset(&r, 0, sizeof r);
        fm_random_id(r.id);
        snprintf(j->id, sizeof j->id, "%s", r.id);
        snprintf(r.file, sizeof r.file, "recordings/%s.fmpcm", r.id);
        snprintf(path, sizeof path, "%s/%s", data, r.file);
        j->fd = open_frames(j, path, 1);
        if (j->fd >= 0) {
            r.patient_id = pid;
            r.uploaded_by = p.user.id;
            r.created_ms = r.updated_ms = fm_now_ms();
            snprintf(r.kind, sizeof r.kind, "stream");
            snprintf(r.source_name, sizeof r.source_name, "live.wav");
            r.status = FM_REC_RECEIVING;
            char dir[FM_PATH_MAX + 16];
            snprintf(dir, sizeof dir, "%s/recordings", data);
            fm_dir_fsync(dir);
            if (fm_store_recording_add(s, &r) != FM_SVC_OK) {
                close(j->fd);
                j->fd = -1;
                unlink(path);
            } else {
                fm_api_publish_recording(&j->srv->api, s, &r); /* viewers see it go live */
            }
        }
    }
    if (j->fd == -1) {
        snprintf(j->error, sizeof j->error, "storage");
        return;
    }
    if (j->fd == -2)
        j->fd = -1;
    fm_audit_entry e = {.t_ms = fm_now_ms(), .actor_id = p.user.id, .status = 200};
    snprintf(e.actor, sizeof e.actor, "%.55s%s", p.user.name,
             p.kind == FM_TOKEN_DEVICE ? "/device" : "");
    snprintf(e.action, sizeof e.action, j->resume[0] ? "stream.resume" : "stream.open");
    snprintf(e.object, sizeof e.object, "recording:%s", j->id);
    snprintf(e.peer, sizeof e.peer, "ws");
    fm_store_audit_add(s, &e);
    j->ok = 1;
}

/* A resumed stream (after its J_OPEN): its frames are counted, now that no other job writes its
 * file; the recording may have been closed meanwhile (by the connection this one supersedes). */
static void run_scan(ingest_job *j, fm_store *s)
{
    fm_recording r;
    if (fm_store_recording_get(s, j->id, &r) != FM_SVC_OK || r.status != FM_REC_RECEIVING) {
        snprintf(j->error, sizeof j->error, "no_stream");
        return;
    }
    char path[FM_PATH_MAX + FM_TEXT_MAX];
    snprintf(path, sizeof path, "%s/%s", j->srv->cfg.data_dir, r.file);
    j->fd = open_frames(j, path, 0);
    if (j->fd < 0) {
        snprintf(j->error, sizeof j->error, "storage");
        return;
    }
    j->ok = 1;
}

/* A flush that failed leaves the stream file as it was before it: frames that were written but
 * whose sync failed may be gone after a crash (a failed fsync marks the pages clean), so they
 * must not count at the next resume (open_frames counts the complete frames in the file). */
static void cut_back(ingest_job *j)
{
    if (j->ok || j->before < 0)
        return;
    if (ftruncate(j->fd, j->before) != 0 || lseek(j->fd, j->before, SEEK_SET) != j->before)
        fm_log("error", "ingest_cut_back_failed", NULL);
}

/* A commit round (worker): every stream's frames to its file and the log, one log sync. */
void ingest_round_run(fm_job *job, void *store)
{
    (void)store;
    round_job *r = (round_job *)job;
    fm_ingest_log *log = r->srv->ingest_log;
    int64_t t0 = fm_stage_on() ? fm_stage_now_us() : 0;
    for (size_t i = 0; i < r->n; i++) {
        ingest_job *j = r->v[i];
        fm_stage_since(FM_STAGE_FLUSH_WAIT, j->t_arrive_us);
        j->before = lseek(j->fd, 0, SEEK_CUR);
        j->ok = fm_ingest_log_append(log, j->id, j->fd, j->buf, j->len, j->crc) == 0;
    }
    int committed = fm_ingest_log_commit(log) == 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!committed)
            r->v[i]->ok = 0;
        cut_back(r->v[i]);
    }
    fm_stage_since(FM_STAGE_FLUSH_RUN, t0);
    for (size_t i = 0; t0 && i < r->n; i++)
        r->v[i]->t_done_us = fm_stage_now_us();
}

/* Without group commit (ingest_group_commit = 0): one stream's frames, one fdatasync. */
static void run_flush(ingest_job *j)
{
    size_t off = 0;
    int64_t t0 = fm_stage_on() ? fm_stage_now_us() : 0;
    fm_stage_since(FM_STAGE_FLUSH_WAIT, j->t_arrive_us);
    j->before = lseek(j->fd, 0, SEEK_CUR);
    while (off < j->len) {
        ssize_t n = write(j->fd, j->buf + off, j->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cut_back(j);
            return;
        }
        off += (size_t)n;
    }
    if (fm_fault_hit("slow_frames")) /* tests: a slow disk (fault.h) */
        usleep(1500000);
    j->ok = !fm_fault_hit("fsync_frames") && fdatasync(j->fd) == 0;
    cut_back(j);
    fm_stage_since(FM_STAGE_FLUSH_RUN, t0);
    j->t_done_us = t0 ? fm_stage_now_us() : 0;
}

static void wav_header(unsigned char *h, uint32_t rate, uint32_t data_bytes)
{
    memcpy(h, "RIFF", 4);
    put_u32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_u32(h + 16, 16);
    h[20] = 1, h[21] = 0; /* PCM */
    h[22] = 1, h[23] = 0; /* mono */
    put_u32(h + 24, rate);
    put_u32(h + 28, rate * 2);
    h[32] = 2, h[33] = 0;
    h[34] = 16, h[35] = 0;
    memcpy(h + 36, "data", 4);
    put_u32(h + 40, data_bytes);
}

/* The frames, in order, become one WAV file; then the recording is queued for analysis. */
static void run_finish(ingest_job *j, fm_store *s)
{
    const char *data = j->srv->cfg.data_dir;
    char src[FM_PATH_MAX + 64], tmp[FM_PATH_MAX + 64], dst[FM_PATH_MAX + 64], rel[64];
    snprintf(src, sizeof src, "%s/recordings/%s.fmpcm", data, j->id);
    snprintf(rel, sizeof rel, "recordings/%s.wav", j->id);
    snprintf(dst, sizeof dst, "%s/%s", data, rel);
    snprintf(tmp, sizeof tmp, "%s/incoming/%s.wav.part", data, j->id);
    FILE *in = fopen(src, "rb"), *out = fopen(tmp, "wb");
    unsigned char h[44], fh[8];
    uint32_t total = 0, rate = 0;
    int bad = !in || !out || fread(h, 1, FM_PCM_HEADER, in) != FM_PCM_HEADER;
    if (!bad) {
        rate = get_u32(h + 8);
        bad = fwrite(h, 1, 44, out) != 44; /* placeholder, rewritten below */
    }
    unsigned char *buf = malloc(FM_INGEST_FRAME_MAX);
    while (!bad && buf && fread(fh, 1, 8, in) == 8) {
        uint32_t n = get_u32(fh + 4);
        bad = n > FM_INGEST_FRAME_MAX || fread(buf, 1, n, in) != n || fwrite(buf, 1, n, out) != n;
        total += n;
    }
    free(buf);
    if (!bad) {
        wav_header(h, rate, total);
        bad = fseek(out, 0, SEEK_SET) != 0 || fwrite(h, 1, 44, out) != 44;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        bad = 1;
    if (bad || fm_file_commit(tmp, dst) != FM_SVC_OK ||
        fm_store_recording_set_file(s, j->id, rel, 44 + (int64_t)total) != FM_SVC_OK ||
        fm_store_recording_set_status(s, j->id, FM_REC_QUEUED, 0, "", NULL) != FM_SVC_OK) {
        unlink(tmp);
        snprintf(j->error, sizeof j->error, "storage");
        return;
    }
    unlink(src); /* the WAV holds every frame now */
    if (j->expired) {
        fm_audit_entry e = {.t_ms = fm_now_ms(), .actor_id = 0, .status = 200};
        snprintf(e.actor, sizeof e.actor, "server");
        snprintf(e.action, sizeof e.action, "stream.finish_idle");
        snprintf(e.object, sizeof e.object, "recording:%s", j->id);
        snprintf(e.peer, sizeof e.peer, "ws");
        fm_store_audit_add(s, &e);
    }
    fm_api_queue_analysis(&j->srv->api, j->id);
    fm_recording r;
    if (fm_store_recording_get(s, j->id, &r) == FM_SVC_OK)
        fm_api_publish_recording(&j->srv->api, s, &r);
    j->ok = 1;
}

/* The sweep (J_EXPIRE): which receiving streams have had no frame for stream_finish_s. Their
 * frames file's time is the last durable frame (each flush writes it; the group-commit rounds
 * too); a stream without one (nothing to finish here) is left alone. */
typedef struct expire_ctx {
    ingest_job *j;
    int64_t cutoff_ms;
} expire_ctx;

static void expire_one(void *ctx, const fm_recording *r)
{
    expire_ctx *c = ctx;
    ingest_job *j = c->j;
    char path[FM_PATH_MAX + FM_TEXT_MAX];
    struct stat st;
    if (j->n_ids >= FM_INGEST_EXPIRE_MAX || strcmp(r->kind, "stream"))
        return;
    snprintf(path, sizeof path, "%s/%s", j->srv->cfg.data_dir, r->file);
    if (stat(path, &st) != 0)
        return;
    int64_t last_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (r->updated_ms > last_ms)
        last_ms = r->updated_ms;
    if (last_ms <= c->cutoff_ms)
        snprintf(j->ids[j->n_ids++], FM_REC_ID_MAX, "%s", r->id);
}

static void run_expire(ingest_job *j, fm_store *s)
{
    if (!(j->ids = calloc(FM_INGEST_EXPIRE_MAX, sizeof *j->ids)))
        return;
    expire_ctx c = {j, fm_now_ms() - (int64_t)j->srv->cfg.stream_finish_s * 1000};
    j->ok = fm_store_recording_receiving(s, expire_one, &c) == FM_SVC_OK;
}

void ingest_job_run(fm_job *job, void *store)
{
    ingest_job *j = (ingest_job *)job;
    if (!store) {
        snprintf(j->error, sizeof j->error, "storage");
        return;
    }
    if (j->kind == J_OPEN)
        run_open(j, store);
    else if (j->kind == J_SCAN)
        run_scan(j, store);
    else if (j->kind == J_FLUSH)
        run_flush(j);
    else if (j->kind == J_EXPIRE)
        run_expire(j, store);
    else
        run_finish(j, store);
}
