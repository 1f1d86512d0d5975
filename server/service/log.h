/* fm_log: structured logs, one JSON object per line on stderr, for operators and log shippers.
 * Never secrets (tokens, passwords) nor patient data: request paths are logged with patient
 * names replaced by ":name" and unknown segments by ":x". Not an audit log (the store keeps that, with who and what). */
#ifndef FM_LOG_H
#define FM_LOG_H

#include <stddef.h>

/* {"t_ms":..., "level":"info", "event":EVENT, <extra>} where extra is pre-formatted JSON members
 * ("\"port\":8080") or NULL. Thread-safe (one write per line). */
void fm_log(const char *level, const char *event, const char *extra);
/* Copies a request path with the patient name of /api/patients/NAME... replaced by ":name" and
 * every other segment that is not a route word or an id replaced by ":x" (a name or a file name
 * a client put in the URL never reaches the log; the result is safe inside a JSON string). */
void fm_log_path(const char *path, char *out, size_t cap);

#endif
