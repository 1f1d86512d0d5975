/* fm_ingest_log: group commit for live-stream frames. Every commit round appends the frames of
 * all streams that have some waiting (one record per stream) to one log file and makes them
 * durable with a single fdatasync, however many streams there are; the frames are also written
 * (not synced) to each stream's own file, DATA/recordings/ID.fmpcm, where everything else reads
 * them. So 2000 streams cost one sync per round instead of 2000.
 *
 * The log only matters after a power loss (a killed process leaves its writes in the page
 * cache): at start, its records are replayed into the stream files (frames they lack are
 * appended; frames they have are skipped), the files are synced and the log emptied. While
 * running, two log files alternate: every FM_INGEST_LOG_SWITCH_MS (or SWITCH_BYTES) the other
 * becomes active, and a checkpoint thread syncs the stream files written meanwhile (they are
 * then durable on their own) and empties the old log.
 *
 * Files: DATA/ingest/log0, DATA/ingest/log1: a 16-byte header ("FMILOG1\n", u64 generation),
 * then records: "FMIR", stream id (16 bytes), u32 length, u32 CRC-32 of the payload, payload =
 * frames as in the stream file (u32 seq, u32 n_bytes, PCM)... A torn or corrupt record ends
 * the replay of its log.
 *
 * Threads: append/commit from one thread at a time (the ingest worker that runs a round);
 * the checkpoint runs on the object's own thread. Not for the socket side of ingest (ingest.c),
 * nor for how a stream file is turned into a WAV. */
#ifndef FM_INGEST_LOG_H
#define FM_INGEST_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "svc.h"

/* The active log switches after this long or this size, whichever comes first. */
#define FM_INGEST_LOG_SWITCH_MS 20000
#define FM_INGEST_LOG_SWITCH_BYTES (512LL << 20)
#define FM_PCM_MAGIC "FMPCM1\n"
#define FM_PCM_HEADER 16 /* stream file header: magic (8), u32 rate_hz, u32 0 */

typedef struct fm_ingest_log fm_ingest_log;

/* Replays what a previous run left (see above), then opens the log for appending. */
fm_ingest_log *fm_ingest_log_open(const char *data_dir, char *err, size_t err_len);
/* Waits for a running checkpoint, then checkpoints the active log (a clean stop leaves nothing
 * to replay). */
void fm_ingest_log_close(fm_ingest_log *l);

/* Writes `frames` (len bytes, stream-file format) at the end of the stream file fd and adds
 * them to the log; crc is fm_ingest_crc32(0, frames, len) (computed by the caller as the frames
 * arrive, off the commit path). frames must stay valid until the commit (it is not copied).
 * Durable only after fm_ingest_log_commit. 0 on success. */
int fm_ingest_log_append(fm_ingest_log *l, const char *stream_id, int fd,
                         const unsigned char *frames, size_t len, uint32_t crc);
/* CRC-32 (IEEE) of n bytes continuing crc (0 to start), as zlib's crc32(). */
uint32_t fm_ingest_crc32(uint32_t crc, const void *data, size_t n);
/* One write and one fdatasync for everything appended since the last commit. 0 on success. */
int fm_ingest_log_commit(fm_ingest_log *l);

/* Committer thread: other switch thresholds than the defaults (tests). */
void fm_ingest_log_set_switch(fm_ingest_log *l, int64_t bytes, int64_t ms);
/* Metrics: rounds committed, records in them. */
uint64_t fm_ingest_log_rounds(const fm_ingest_log *l);
uint64_t fm_ingest_log_records(const fm_ingest_log *l);

/* Scans a stream file's frames from its header on: the next sequence number and the offset
 * after the last complete frame (a torn last frame is not counted). -1 when the header is not
 * a frames file's. */
int fm_frames_scan(int fd, uint32_t *next_seq, off_t *end);

#endif
