/* Process memory for the service: what the heap holds (in use, free but kept), the resident set,
 * and giving freed heap pages back to the system. For /metrics and the housekeeping trim of
 * server.c; not a per-stream account (the engine objects have their own sizes). */
#ifndef FM_MEMSTAT_H
#define FM_MEMSTAT_H

#include <stddef.h>

typedef struct {
    size_t rss_bytes;   /* resident set (/proc/self/statm) */
    size_t heap_in_use; /* bytes the program has allocated and not freed (arenas + mmap) */
    size_t heap_free;   /* freed bytes the allocator keeps in its arenas */
    size_t heap_mmap;   /* of heap_in_use: large blocks mapped on their own */
} fm_memstat;

/* At most `arenas` malloc arenas (glibc M_ARENA_MAX) for the threads made after this call;
 * 0 keeps the allocator's default (8 per core). Returns 0, or -1 if the allocator refused. */
int fm_mem_set_arenas(int arenas);

void fm_mem_stat(fm_memstat *out);

/* Gives the free pages of every arena back to the system (malloc_trim). Returns the resident
 * bytes it released (0 when none or unknown); *ms how long it took. */
size_t fm_mem_trim(double *ms);

#endif
