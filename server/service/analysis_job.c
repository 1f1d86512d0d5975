/* Analysis of accepted recordings on the analysis worker pool: queued -> analysing (with
 * progress) -> done (analysis JSON written durably to DATA/analyses/ID.json) or failed (with the
 * engine's reason). Each state change is stored, then published on the bus for live viewers.
 * The engine runs here, never on the event loop. Not for live streams (they feed the engine
 * frame by frame). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertsvc_tech.h"
#include "analysis.h"
#include "fault.h"
#include "api_internal.h"
#include "files.h"
#include "jsonw.h"

typedef struct analysis_job {
    fm_job job;
    fm_api *api;
    char id[FM_REC_ID_MAX];
} analysis_job;

typedef struct progress_ctx {
    fm_api *api;
    fm_store *s;
    fm_recording *r;
    double last;
} progress_ctx;

void *fm_api_worker_init(void *user)
{
    fm_api *api = user;
    fm_store *s = NULL;
    char err[256];
    if (fm_fault_hit("worker_init") ||
        fm_store_open(api->cfg->data_dir, &s, err, sizeof err) != FM_SVC_OK)
        return NULL; /* jobs see a NULL store and fail cleanly */
    return s;
}

void fm_api_worker_fini(void *store)
{
    fm_store_close(store);
}

void fm_api_publish_recording(fm_api *api, fm_store *s, const fm_recording *r)
{
    if (!api->bus)
        return;
    cJSON *j = api_recording_json(s, r);
    cJSON_AddStringToObject(j, "type", "recording");
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return;
    char topic[48];
    snprintf(topic, sizeof topic, "patient/%lld", (long long)r->patient_id);
    fm_bus_publish(api->bus, topic, text);
    free(text);
}

static void set_state(progress_ctx *c, fm_rec_status st, double progress, const char *error,
                      const char *analysis_file)
{
    fm_recording *r = c->r;
    r->status = st;
    r->progress = progress;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    if (analysis_file)
        snprintf(r->analysis_file, sizeof r->analysis_file, "%s", analysis_file);
    fm_store_recording_set_status(c->s, r->id, st, progress, r->error, analysis_file);
    fm_api_publish_recording(c->api, c->s, r);
}

/* Progress from the engine: stored and published every 10 %, not on every block. */
static void on_progress(void *user, double fraction)
{
    progress_ctx *c = user;
    if (fraction - c->last >= 0.1) {
        c->last = fraction;
        set_state(c, FM_REC_ANALYSING, fraction * 0.9, NULL, NULL);
    }
}

/* Gestational age at the time of the recording, from the patient's due date (NAN unknown). */
double fm_api_gestation_at(const fm_patient *pt, int64_t t_ms)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!pt->due_date[0] || !strptime(pt->due_date, "%Y-%m-%d", &tm))
        return NAN;
    tm.tm_hour = 12;
    double days_left = difftime(timegm(&tm), (time_t)(t_ms / 1000)) / 86400.0;
    double weeks = (280.0 - days_left) / 7.0;
    return weeks >= 20 && weeks <= 45 ? weeks : NAN;
}

static int write_analysis(const fm_analysis *an, const char *tmp, const char *dst)
{
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    jsonw w;
    jw_begin(&w, f);
    fm_analysis_write_json(an, &w);
    jw_end(&w);
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || fm_file_commit(tmp, dst) != FM_SVC_OK) {
        remove(tmp);
        return -1;
    }
    return 0;
}

typedef struct rules_ctx {
    fm_api *api;
    const fm_recording *r;
} rules_ctx;

static void on_alert(void *user, const fm_alert_event *ev)
{
    rules_ctx *c = user;
    fm_alertsvc_event(c->api->alerts, c->r->patient_id, c->r->id, ev);
}

/* An uploaded recording runs the same rules as a live stream, once, with the live cadence: the
 * samples in 2-minute blocks, each followed by the re-analysis of everything so far (as
 * livepipe.c does), then the final analysis. Pushing everything before any analysis would leave
 * the sample-level rules without a baseline (the prolonged deceleration is judged against it). */
#define FM_RULES_BLOCK 480 /* samples: 2 min at 4 Hz, FM_LIVE_ANALYSIS_EVERY_S */
static void run_rules(fm_api *api, const fm_recording *r, fm_analysis *an, double ga_weeks)
{
    const fm_ctg_result *res = NULL;
    if (!api->alerts || !an->trace || fm_ctg_get_result(an->ctg, &res) != FM_OK)
        return;
    rules_ctx c = {api, r};
    fm_alerts_config ac;
    fm_alerts_config_default(&ac);
    ac.gestation_weeks = ga_weeks;
    ac.sink = on_alert;
    ac.sink_user = &c;
    fm_alerts *al = fm_alerts_create(&ac);
    fm_ctg *ctg = fm_ctg_create(NULL);
    const fm_trace *t = an->trace;
    size_t mv = 0;
    for (size_t k0 = 0; al && ctg && k0 < t->n; k0 += FM_RULES_BLOCK) {
        size_t n = t->n - k0 < FM_RULES_BLOCK ? t->n - k0 : FM_RULES_BLOCK;
        for (; mv < t->n_movements && t->movements_s[mv] < (double)(k0 + n) / 4.0; mv++)
            fm_ctg_add_movement(ctg, t->movements_s[mv]);
        fm_ctg_update(ctg, t->fhr_bpm + k0, t->state + k0, n);
        fm_alerts_push(al, t->fhr_bpm + k0, t->state + k0, n);
        const fm_ctg_result *part;
        if (k0 + n < t->n && fm_ctg_get_result(ctg, &part) == FM_OK)
            fm_alerts_update(al, part);
    }
    if (al && ctg)
        fm_alerts_finish(al, res);
    fm_ctg_destroy(ctg);
    fm_alerts_destroy(al);
}

/* CLINICAL 5: an analysis that could not run is itself an alert (the rules are blind). Its own
 * episode (alertsvc_tech.h), apart from those the live rules raised on the same recording. */
static void raise_failed(fm_api *api, const fm_recording *r, const char *why)
{
    fm_alertsvc_technical(api->alerts, r->patient_id, r->id, FM_ALERT_ANALYSIS_FAILED, 1, why);
}

static void run_analysis(fm_job *job, void *ctx)
{
    analysis_job *aj = (analysis_job *)job;
    fm_store *s = ctx;
    fm_recording r;
    if (!s || fm_store_recording_get(s, aj->id, &r) != FM_SVC_OK)
        return; /* stays queued in the store; retried at the next start */
    progress_ctx c = {aj->api, s, &r, 0};
    set_state(&c, FM_REC_ANALYSING, 0, NULL, NULL);

    const char *data = aj->api->cfg->data_dir;
    char in[FM_PATH_MAX + 300], tmp[FM_PATH_MAX + 64], dst[FM_PATH_MAX + 64], rel[64];
    snprintf(in, sizeof in, "%s/%s", data, r.file);
    snprintf(rel, sizeof rel, "analyses/%s.json", r.id);
    snprintf(tmp, sizeof tmp, "%s/analyses/%s.json.tmp", data, r.id);
    snprintf(dst, sizeof dst, "%s/%s", data, rel);

    fm_analysis_opts o;
    fm_analysis_opts_default(&o);
    o.progress = 0;
    o.on_progress = on_progress;
    o.progress_user = &c;
    fm_patient pt;
    if (fm_store_patient_get(s, r.patient_id, &pt) == FM_SVC_OK)
        o.gestation_weeks = fm_api_gestation_at(&pt, r.created_ms);

    char err[512] = "";
    const int64_t t0_ms = fm_now_ms();
    fm_analysis *an = NULL;
    fm_status rc = fm_analysis_load(in, &o, &an, err, sizeof err);
    if (rc == FM_OK) {
        snprintf(an->source, sizeof an->source, "%s", r.source_name);
        rc = fm_analysis_run(an, err, sizeof err);
    }
    if (rc != FM_OK) {
        set_state(&c, FM_REC_FAILED, 1, err[0] ? err : fm_strerror(rc), NULL);
    } else if (write_analysis(an, tmp, dst) != 0) {
        set_state(&c, FM_REC_FAILED, 1, "the analysis could not be written", NULL);
    } else {
        set_state(&c, FM_REC_DONE, 1, NULL, rel);
        if (!strcmp(r.kind, "upload")) /* a live stream ran them as it arrived (livepipe.c) */
            run_rules(aj->api, &r, an, o.gestation_weeks);
    }
    if (rc != FM_OK && aj->api->alerts)
        raise_failed(aj->api, &r, err[0] ? err : fm_strerror(rc));
    fm_analysis_destroy(an);
    atomic_fetch_add(&aj->api->analyses_total, 1);
    atomic_fetch_add(&aj->api->analysis_ms_total, (uint_fast64_t)(fm_now_ms() - t0_ms));
}

static void free_job(fm_job *job)
{
    free(job);
}

fm_svc_status fm_api_queue_analysis(fm_api *api, const char *recording_id)
{
    if (!api->analysis)
        return FM_SVC_BUSY;
    analysis_job *aj = calloc(1, sizeof *aj);
    if (!aj)
        return FM_SVC_NOMEM;
    aj->job.run = run_analysis;
    aj->job.done = free_job;
    aj->api = api;
    snprintf(aj->id, sizeof aj->id, "%s", recording_id);
    fm_svc_status rc = fm_workq_submit(api->analysis, &aj->job);
    if (rc != FM_SVC_OK)
        free(aj);
    return rc;
}
