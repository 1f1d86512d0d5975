/* Service status strings and the clock. See svc.h. */
#include "svc.h"

#include <time.h>

const char *fm_svc_strerror(fm_svc_status s)
{
    switch (s) {
    case FM_SVC_OK: return "ok";
    case FM_SVC_NOTFOUND: return "not found";
    case FM_SVC_EXISTS: return "already exists";
    case FM_SVC_INVAL: return "invalid input";
    case FM_SVC_DENIED: return "not allowed";
    case FM_SVC_BUSY: return "busy";
    case FM_SVC_IO: return "storage error";
    case FM_SVC_NOMEM: return "out of memory";
    case FM_SVC_LIMIT: return "limit exceeded";
    }
    return "unknown error";
}

int64_t fm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
