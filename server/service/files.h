/* Durable files in the data directory: its layout, creating it, and the write-fsync-rename-fsync
 * sequence that makes a file survive a crash before anything refers to it.
 *
 *   DATA/fetalmon.db (+ -wal, -shm)   the store (SQLite backend)
 *   DATA/incoming/     uploads being received (*.part); removed at startup, never acknowledged
 *   DATA/recordings/   accepted recording bytes, one file per recording id
 *   DATA/analyses/     analysis JSON, one file per recording id
 *   DATA/uploads/      resumable uploads' acknowledged bytes (ID.part), kept across restarts
 *   DATA/ingest/       the live-stream group-commit log (ingest_log.h)
 *
 * Not for the store's own files (the backend handles them). These calls block on the disk:
 * run them on workers, never on the event loop. */
#ifndef FM_FILES_H
#define FM_FILES_H

#include <stddef.h>

#include "svc.h"

/* Creates DATA and its subdirectories (mode 0700) when missing. */
fm_svc_status fm_datadir_prepare(const char *data_dir, char *err, size_t err_len);
/* Deletes leftovers of uploads that were never acknowledged (DATA/incoming/ *.part). */
void fm_datadir_clean_incoming(const char *data_dir);

/* fsync(path's file); then rename(tmp, dst); then fsync of dst's directory. */
fm_svc_status fm_file_commit(const char *tmp, const char *dst);
/* fsync of a directory (after creating or renaming entries in it). */
fm_svc_status fm_dir_fsync(const char *dir);

/* A new random id: 16 lowercase hex digits (64 bits; not guessable, not sequential). */
void fm_random_id(char out[17]);

/* A safe file name from a client's: keeps [A-Za-z0-9._-], at most 60 characters, never starts
 * with a dot; "" when nothing usable remains. */
void fm_safe_name(const char *in, char *out, size_t cap);

#endif
