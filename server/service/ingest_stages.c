/* fm_stage: see ingest_stages.h. One process-wide table of relaxed atomic counters (the stages are
 * recorded from the loop and every worker); buckets of 0.1 ms up to 10 ms, 1 ms up to 1 s,
 * 10 ms up to 10 s. Measurement only: not a metric, not for the API. */
#include "ingest_stages.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N_BUCKETS 1992

static const char *const stage_name[FM_STAGE_N] = {
    "flush_wait (frame in -> flush starts)",   "flush_run (write + fdatasync)",
    "flush_back (worker -> loop)",             "ack (frame in -> ack queued)",
    "pipe_wait (fed -> engine job starts)",    "pipe_run (one engine job)",
    "store_samples (one store write)",         "alert_event (life cycle)",
    "published (frame in -> samples on bus)",  "bus_wait (bus -> viewer queues)",
    "viewer_wait (queue -> socket)",           "written (frame in -> viewer socket)",
};

static _Atomic uint32_t hist[FM_STAGE_N][N_BUCKETS];
static _Atomic int64_t sum_us[FM_STAGE_N], max_us[FM_STAGE_N];
static int on = -1;

int64_t fm_stage_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int fm_stage_on(void)
{
    if (on < 0) /* benign race: every thread computes the same value */
        on = getenv("FM_STAGE_TIMES") != NULL;
    return on;
}

static int bucket(int64_t us)
{
    if (us < 10000)
        return (int)(us / 100);
    if (us < 1000000)
        return 100 + (int)((us - 10000) / 1000);
    if (us < 10000000)
        return 1090 + (int)((us - 1000000) / 10000);
    return N_BUCKETS - 1;
}

static double bucket_ms(int b)
{
    if (b < 100)
        return (b + 1) * 0.1;
    if (b < 1090)
        return 10.0 + (b - 100 + 1);
    return 1000.0 + (b - 1090 + 1) * 10.0;
}

void fm_stage_add(fm_stage s, int64_t us)
{
    if (!fm_stage_on() || s >= FM_STAGE_N)
        return;
    if (us < 0)
        us = 0;
    atomic_fetch_add_explicit(&hist[s][bucket(us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[s], us, memory_order_relaxed);
    int64_t m = atomic_load_explicit(&max_us[s], memory_order_relaxed);
    while (us > m && !atomic_compare_exchange_weak(&max_us[s], &m, us)) {
    }
}

void fm_stage_since(fm_stage s, int64_t t0_us)
{
    if (t0_us > 0 && fm_stage_on())
        fm_stage_add(s, fm_stage_now_us() - t0_us);
}

void fm_stage_reset(void)
{
    for (int s = 0; s < FM_STAGE_N; s++) {
        for (int b = 0; b < N_BUCKETS; b++)
            atomic_store_explicit(&hist[s][b], 0, memory_order_relaxed);
        atomic_store(&sum_us[s], 0);
        atomic_store(&max_us[s], 0);
    }
}

void fm_stage_dump(const char *title)
{
    const char *path = fm_stage_on() ? getenv("FM_STAGE_TIMES") : NULL;
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f, "# %s\n%-42s %9s %8s %8s %8s %8s %8s %8s\n", title, "stage (ms)", "n", "mean",
            "p50", "p90", "p99", "p99.9", "max");
    for (int s = 0; s < FM_STAGE_N; s++) {
        uint64_t n = 0;
        for (int b = 0; b < N_BUCKETS; b++)
            n += atomic_load(&hist[s][b]);
        if (!n)
            continue;
        static const double q[] = {0.5, 0.9, 0.99, 0.999};
        double v[4];
        uint64_t acc = 0;
        int qi = 0;
        for (int b = 0; b < N_BUCKETS && qi < 4; b++) {
            acc += atomic_load(&hist[s][b]);
            while (qi < 4 && (double)acc >= q[qi] * (double)n)
                v[qi++] = bucket_ms(b);
        }
        fprintf(f, "%-42s %9llu %8.2f %8.1f %8.1f %8.1f %8.1f %8.1f\n", stage_name[s],
                (unsigned long long)n, (double)atomic_load(&sum_us[s]) / 1e3 / (double)n, v[0],
                v[1], v[2], v[3], (double)atomic_load(&max_us[s]) / 1e3);
    }
    fclose(f);
}
