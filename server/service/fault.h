/* fm_fault: a tiny fault-injection hook for tests. Call sites ask fm_fault_hit("fsync") just
 * before the operation they guard and fail it (errno = EIO) when the hook says so.
 *
 * Only test builds (-DFM_FAULT_INJECTION=ON, which tools/test.sh uses) compile the hook in; in
 * every other build fm_fault_hit is a constant 0 the compiler removes. The faults come from the
 * environment of the process: FM_FAULT="SITE:N[,SITE:N...]" fails the N-th call at SITE (counted
 * from 1 over the whole process), "SITE:N+" fails the N-th call and every one after it. Sites:
 *   fsync_recording  the fsync committing a recording's file (an upload, a finished stream's WAV)
 *   fsync_frames     the fdatasync of a live stream's frames before they are acknowledged
 *   slow_frames      not a failure: that flush takes 1.5 s more, between its write and its
 *                    fdatasync (a slow disk; tests/server/test_server_resume.c)
 *   fsync            any other file commit (analysis results)
 *   worker_init  an API/analysis worker thread failing to open its store at start
 * Not for production error handling, nor for faults the tests can make for real (a full disk on
 * a small tmpfs, a locked database, a vanishing client). */
#ifndef FM_FAULT_H
#define FM_FAULT_H

#ifdef FM_FAULT_INJECTION
/* 1 when this call at `site` must fail (errno is then EIO), else 0. Thread-safe. */
int fm_fault_hit(const char *site);
#else
static inline int fm_fault_hit(const char *site)
{
    (void)site;
    return 0;
}
#endif

#endif
