/* fm_fault: the fault-injection hook of test builds (see fault.h). Empty otherwise. */
#include "fault.h"

#ifdef FM_FAULT_INJECTION
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FM_FAULT_SITES 8

typedef struct fault_site {
    char name[32];
    long nth;       /* the call that fails (1 = the first) */
    int and_after;  /* "N+": that call and every later one */
    long calls;     /* calls so far */
} fault_site;

static fault_site sites[FM_FAULT_SITES];
static int n_sites;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Parses FM_FAULT once: "site:N[+]" items separated by commas; malformed items are ignored. */
static void parse_env(void)
{
    const char *env = getenv("FM_FAULT");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", env ? env : "");
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item && n_sites < FM_FAULT_SITES;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (!colon || colon == item || (size_t)(colon - item) >= sizeof sites[0].name)
            continue;
        char *end;
        long n = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || n < 1 || (*end && strcmp(end, "+")))
            continue;
        fault_site *s = &sites[n_sites++];
        memcpy(s->name, item, (size_t)(colon - item));
        s->name[colon - item] = 0;
        s->nth = n;
        s->and_after = *end == '+';
    }
}

int fm_fault_hit(const char *site)
{
    pthread_once(&once, parse_env);
    int hit = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_sites; i++) {
        fault_site *s = &sites[i];
        if (strcmp(s->name, site))
            continue;
        s->calls++;
        hit = s->calls == s->nth || (s->and_after && s->calls > s->nth);
    }
    pthread_mutex_unlock(&mu);
    if (hit)
        errno = EIO;
    return hit;
}
#else
typedef int fm_fault_not_compiled; /* ISO C: no empty translation unit */
#endif
