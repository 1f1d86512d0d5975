/* fm_server: the fetalmon service process: one libwebsockets event loop (HTTP API now, the
 * live WebSocket protocols next), worker pools for the store and the engine, the event bus.
 *
 * Life cycle: create (opens the data directory, migrates the store, binds the socket, resumes
 * analyses that a crash interrupted), run (until fm_server_stop), destroy (finishes the work
 * in hand, closes sockets). Not for account administration (cmd_user.c uses the store). */
#ifndef FM_SERVER_H
#define FM_SERVER_H

#include <stddef.h>

#include "config.h"
#include "svc.h"

typedef struct fm_server fm_server;

fm_svc_status fm_server_create(const fm_config *cfg, fm_server **out, char *err, size_t err_len);
/* The port actually bound (useful with port 0). */
int fm_server_port(const fm_server *s);
/* Serves until fm_server_stop. Returns 0, or -1 when the event loop failed. */
int fm_server_run(fm_server *s);
/* After fm_server_run returned: serves on until done(user) is true or timeout_ms passed (e.g.
 * while an in-process client closes its stream at shutdown). */
void fm_server_serve_until(fm_server *s, int (*done)(void *user), void *user, int timeout_ms);
/* Async-signal-safe: asks the loop to return. */
void fm_server_stop(fm_server *s);
void fm_server_destroy(fm_server *s);

#endif
