/* Status strings and state names shared by every engine module. */
#include "fetalmon/common.h"

const char *fm_strerror(fm_status s)
{
    switch (s) {
    case FM_OK: return "success";
    case FM_EINVAL: return "invalid argument";
    case FM_ENOMEM: return "out of memory";
    case FM_EIO: return "input/output error";
    case FM_EFORMAT: return "unrecognised or corrupt input format";
    case FM_ERATE: return "unsupported sample rate";
    case FM_EEMPTY: return "input holds no samples";
    case FM_ETRUNCATED: return "input is truncated";
    case FM_ERANGE: return "value out of range";
    case FM_EUNSUPPORTED: return "unsupported input";
    }
    return "unknown error";
}

const char *fm_state_name(fm_fhr_state s)
{
    switch (s) {
    case FM_STATE_OK: return "ok";
    case FM_STATE_LOST: return "lost";
    case FM_STATE_MATERNAL: return "maternal_suspected";
    case FM_STATE_DOUBTFUL: return "doubtful";
    }
    return "lost";
}
