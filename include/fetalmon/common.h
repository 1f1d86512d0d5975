/* fetalmon common definitions: status codes and the per-sample signal state.
 *
 * Every engine function returns an fm_status (or NULL for constructors) and never prints or
 * exits; callers turn codes into messages with fm_strerror(). */
#ifndef FETALMON_COMMON_H
#define FETALMON_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fm_status {
    FM_OK = 0,
    FM_EINVAL,      /* invalid argument */
    FM_ENOMEM,      /* out of memory */
    FM_EIO,         /* read or write failed */
    FM_EFORMAT,     /* input is not in a format we read, or is corrupt */
    FM_ERATE,       /* sample rate outside what we accept */
    FM_EEMPTY,      /* input holds no samples */
    FM_ETRUNCATED,  /* input ends before its header says it should */
    FM_ERANGE,      /* a value is outside its allowed range */
    FM_EUNSUPPORTED /* a valid input we do not handle */
} fm_status;

const char *fm_strerror(fm_status s);

/* The FHR trace rate (CLINICAL 1): one value every 250 ms. */
#define FM_FHR_RATE_HZ 4

/* Per-sample state of an FHR value. Exactly one per sample. */
typedef enum fm_fhr_state {
    FM_STATE_OK = 0,        /* a fetal heart rate we stand behind */
    FM_STATE_LOST = 1,      /* no usable signal: shown as a gap (CLINICAL 2) */
    FM_STATE_MATERNAL = 2,  /* looks like the mother's pulse, never used as fetal (CLINICAL 2) */
    FM_STATE_DOUBTFUL = 3   /* a value exists but is not trusted (e.g. halving/doubling) */
} fm_fhr_state;

/* "ok", "lost", "maternal_suspected", "doubtful". */
const char *fm_state_name(fm_fhr_state s);

#ifdef __cplusplus
}
#endif
#endif
