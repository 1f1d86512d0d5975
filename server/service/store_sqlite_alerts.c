/* The SQLite backend's alert delivery state (store.h: fm_alert_delivery): the escalation level
 * and the clinicians told of each alert, so that the alert life cycle resumes after a restart,
 * and the list of open alerts delivered to one clinician (escalation targets outside the care
 * team). These statements run a few times per alert transition and once at start, so they are
 * prepared per call rather than cached in store_sqlite.c's table.
 * Not for the alerts rows themselves (store_sqlite_log.c). */
#include <string.h>

#include "store_sqlite_int.h"

#define ALERT_COLS                                                                                 \
    "a.id, a.patient_id, a.recording_id, a.rule, a.priority, a.state, a.t_from_s, a.t_to_s,"       \
    " a.created_ms, a.ack_by, a.ack_ms"

/* Columns from `first` on: episode_id, level, cleared, delivered_ms, notified, escalated. */
static void read_delivery(sqlite3_stmt *st, int first, int64_t id, fm_alert_delivery *d)
{
    memset(d, 0, sizeof *d);
    d->alert_id = id;
    d->episode_id = (uint64_t)sqlite3_column_int64(st, first);
    d->level = sqlite3_column_int(st, first + 1);
    d->cleared = sqlite3_column_int(st, first + 2);
    d->delivered_ms = sqlite3_column_int64(st, first + 3);
    sq_col_text(st, first + 4, d->notified, sizeof d->notified);
    sq_col_text(st, first + 5, d->escalated, sizeof d->escalated);
}

static sqlite3_stmt *prepare(fm_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(DB(s), sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

fm_svc_status sq_alert_delivery_put(fm_store *s, const fm_alert_delivery *d)
{
    sqlite3_stmt *st = prepare(s, "INSERT OR REPLACE INTO alert_delivery(alert_id, episode_id,"
                                  " level, cleared, delivered_ms, notified, escalated)"
                                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, d->alert_id);
    sqlite3_bind_int64(st, 2, (int64_t)d->episode_id);
    sqlite3_bind_int(st, 3, d->level);
    sqlite3_bind_int(st, 4, d->cleared);
    sqlite3_bind_int64(st, 5, d->delivered_ms);
    sq_bind_str(st, 6, d->notified);
    sq_bind_str(st, 7, d->escalated);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FM_SVC_OK : sq_map_rc(rc);
}

fm_svc_status sq_alert_delivery_get(fm_store *s, int64_t id, fm_alert_delivery *d)
{
    sqlite3_stmt *st = prepare(s, "SELECT episode_id, level, cleared, delivered_ms, notified,"
                                  " escalated FROM alert_delivery WHERE alert_id = ?1");
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_delivery(st, 0, id, d);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? FM_SVC_OK : rc == SQLITE_DONE ? FM_SVC_NOTFOUND : sq_map_rc(rc);
}

fm_svc_status sq_alert_open(fm_store *s, fm_alert_open_cb cb, void *ctx)
{
    sqlite3_stmt *st =
        prepare(s, "SELECT " ALERT_COLS ", d.alert_id, d.episode_id, d.level, d.cleared,"
                   " d.delivered_ms, d.notified, d.escalated FROM alerts a"
                   " LEFT JOIN alert_delivery d ON d.alert_id = a.id"
                   " WHERE a.state != 'resolved' ORDER BY a.id");
    if (!st)
        return FM_SVC_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_alert a;
        fm_alert_delivery d;
        sq_read_alert(st, &a);
        int has = sqlite3_column_type(st, 11) != SQLITE_NULL;
        if (has)
            read_delivery(st, 12, a.id, &d);
        cb(ctx, &a, has ? &d : NULL);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FM_SVC_OK : sq_map_rc(rc);
}

fm_svc_status sq_alert_list_notified(fm_store *s, int64_t clinician_id, fm_alert_cb cb, void *ctx)
{
    sqlite3_stmt *st = prepare(s, "SELECT " ALERT_COLS " FROM alerts a JOIN alert_delivery d"
                                  " ON d.alert_id = a.id WHERE a.state != 'resolved'"
                                  " AND instr(d.notified, ',' || ?1 || ',') > 0"
                                  " ORDER BY a.created_ms DESC, a.id DESC");
    if (!st)
        return FM_SVC_IO;
    sqlite3_bind_int64(st, 1, clinician_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fm_alert a;
        sq_read_alert(st, &a);
        cb(ctx, &a);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FM_SVC_OK : sq_map_rc(rc);
}
