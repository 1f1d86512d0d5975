/* The SQLite backend's resumable uploads table (statements in store_sqlite.c). What an upload
 * row promises: `offset` bytes of DATA/uploads/ID.part were fdatasynced before the row said so.
 * Not for the bytes themselves (upload.c). */
#include <string.h>

#include "store_sqlite_int.h"

static void read_upload(sqlite3_stmt *st, void *out)
{
    fm_upload *u = out;
    memset(u, 0, sizeof *u);
    sq_col_text(st, 0, u->id, sizeof u->id);
    sq_col_text(st, 1, u->recording_id, sizeof u->recording_id);
    u->patient_id = sqlite3_column_int64(st, 2);
    u->opened_by = sqlite3_column_int64(st, 3);
    sq_col_text(st, 4, u->source_name, sizeof u->source_name);
    u->size_bytes = sqlite3_column_int64(st, 5);
    u->offset = sqlite3_column_int64(st, 6);
    u->state = (fm_upload_state)sqlite3_column_int(st, 7);
    u->incomplete = sqlite3_column_int(st, 8);
    u->created_ms = sqlite3_column_int64(st, 9);
    u->updated_ms = sqlite3_column_int64(st, 10);
}

fm_svc_status sq_upload_add(fm_store *s, const fm_upload *u)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_ADD);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, u->id);
    sq_bind_str(st, 2, u->recording_id);
    sqlite3_bind_int64(st, 3, u->patient_id);
    sqlite3_bind_int64(st, 4, u->opened_by);
    sq_bind_str(st, 5, u->source_name);
    sqlite3_bind_int64(st, 6, u->size_bytes);
    sqlite3_bind_int64(st, 7, u->offset);
    sqlite3_bind_int(st, 8, u->state);
    sqlite3_bind_int(st, 9, u->incomplete);
    sqlite3_bind_int64(st, 10, u->created_ms);
    sqlite3_bind_int64(st, 11, u->updated_ms ? u->updated_ms : u->created_ms);
    return sq_run(st);
}

fm_svc_status sq_upload_get(fm_store *s, const char *id, fm_upload *u)
{
    return sq_get_by_text(s, S_UPLOAD_GET, id, read_upload, u);
}

fm_svc_status sq_upload_advance(fm_store *s, const char *id, int64_t from, int64_t to,
                                int64_t t_ms)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_ADVANCE);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    sqlite3_bind_int64(st, 4, t_ms);
    return sq_update_one(s, st);
}

fm_svc_status sq_upload_set_state(fm_store *s, const char *id, fm_upload_state state)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_SET_STATE);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int64(st, 3, fm_now_ms());
    return sq_update_one(s, st);
}

fm_svc_status sq_upload_set_incomplete(fm_store *s, const char *id, int incomplete)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_SET_INCOMPLETE);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    sqlite3_bind_int(st, 2, incomplete);
    return sq_update_one(s, st);
}

/* The recording row and the upload's DONE state commit together: after a crash either both
 * are there or neither (and the upload is still open at its full length). */
fm_svc_status sq_upload_complete(fm_store *s, const char *id, const fm_recording *r)
{
    fm_svc_status rc = sq_run(sq_stmt(s, S_BEGIN));
    if (rc != FM_SVC_OK)
        return rc;
    rc = sq_recording_insert(s, r);
    if (rc == FM_SVC_OK) {
        sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_DONE);
        if (st) {
            sq_bind_str(st, 1, id);
            sqlite3_bind_int64(st, 2, r->created_ms);
            rc = sq_update_one(s, st);
        } else {
            rc = FM_SVC_IO;
        }
    }
    if (rc == FM_SVC_OK)
        rc = sq_run(sq_stmt(s, S_COMMIT));
    if (rc != FM_SVC_OK)
        sq_run(sq_stmt(s, S_ROLLBACK));
    return rc;
}

fm_svc_status sq_upload_delete(fm_store *s, const char *id)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_DELETE);
    if (!st)
        return FM_SVC_IO;
    sq_bind_str(st, 1, id);
    return sq_run(st);
}

static void each_upload(sqlite3_stmt *st, void *c)
{
    cbpair *p = c;
    fm_upload u;
    read_upload(st, &u);
    ((fm_upload_cb)p->cb)(p->ctx, &u);
}

fm_svc_status sq_upload_open_list(fm_store *s, fm_upload_cb cb, void *ctx)
{
    cbpair p = {(void *)cb, ctx};
    return sq_each_row(sq_stmt(s, S_UPLOAD_OPEN_LIST), each_upload, &p);
}

fm_svc_status sq_upload_purge(fm_store *s, int64_t before_ms)
{
    sqlite3_stmt *st = sq_stmt(s, S_UPLOAD_PURGE);
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, before_ms);
    return sq_run(st);
}
