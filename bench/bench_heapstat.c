/* What reading the heap's figures (fm_mem_stat: glibc mallinfo2) and trimming it (fm_mem_trim)
 * cost, on a heap shaped like a busy server's: THREADS threads each allocate N blocks of 64-2063
 * bytes and free every other one, so the arenas hold many small free chunks (mallinfo2 walks
 * them all, under each arena's lock). Why server.c samples memory on an API worker and never on
 * the event loop. Usage: bench_heapstat [--blocks N] [--threads T]   (defaults 25000, 6:
 * about 75 MB in use and 75 MB free, like the 500-stream soak's heap) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memstat.h"

static long n_blocks = 25000;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    void **v = malloc((size_t)n_blocks * sizeof *v);
    if (!v)
        return NULL;
    for (long i = 0; i < n_blocks; i++)
        v[i] = malloc(64 + (size_t)(rand_r(&seed) % 2000));
    for (long i = 0; i < n_blocks; i += 2)
        free(v[i]);
    return v; /* the other half stays allocated */
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int threads = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--blocks") && i + 1 < argc)
            n_blocks = atol(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_heapstat [--blocks N] [--threads T]\n");
            return 2;
        }
    }
    if (n_blocks < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "bench_heapstat: --blocks >= 1, --threads 1-64\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, churn, (void *)(size_t)(i + 1));
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    fm_memstat ms;
    double worst = 0;
    for (int k = 0; k < 5; k++) {
        double t0 = now_ms();
        fm_mem_stat(&ms);
        double d = now_ms() - t0;
        worst = d > worst ? d : worst;
    }
    printf("heap in use %.1f MB, free %.1f MB, RSS %.1f MB (%d threads x %ld blocks)\n",
           (double)ms.heap_in_use / 1048576.0, (double)ms.heap_free / 1048576.0,
           (double)ms.rss_bytes / 1048576.0, threads, n_blocks);
    printf("fm_mem_stat (mallinfo2 + statm): %.2f ms (worst of 5)\n", worst);
    double trim_ms = 0;
    size_t back = fm_mem_trim(&trim_ms);
    printf("fm_mem_trim (malloc_trim): %.2f ms, %.1f MB given back\n", trim_ms,
           (double)back / 1048576.0);
    return 0;
}
