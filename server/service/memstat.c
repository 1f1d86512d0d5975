/* Heap and resident-set figures (glibc mallinfo2, /proc/self/statm) and the trim. See memstat.h. */
#include "memstat.h"

#include <malloc.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int ok = fscanf(f, "%lu %lu", &size, &resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (size_t)resident * (size_t)page : 0;
}

int fm_mem_set_arenas(int arenas)
{
    if (arenas <= 0)
        return 0;
    return mallopt(M_ARENA_MAX, arenas) == 1 ? 0 : -1;
}

void fm_mem_stat(fm_memstat *out)
{
    struct mallinfo2 mi = mallinfo2();
    out->rss_bytes = rss_bytes();
    out->heap_in_use = mi.uordblks + mi.hblkhd;
    out->heap_free = mi.fordblks;
    out->heap_mmap = mi.hblkhd;
}

size_t fm_mem_trim(double *ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t before = rss_bytes();
    malloc_trim(0);
    size_t after = rss_bytes();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ms)
        *ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    return before > after ? before - after : 0;
}
