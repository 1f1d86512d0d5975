/* fm_config: the server's settings. Defaults work with no file at all (127.0.0.1:8080, data in
 * ./fetalmon-data); a config file of "key = value" lines (# comments) overrides them, and
 * command-line flags override the file. Not for per-user or per-patient settings (the store). */
#ifndef FM_CONFIG_H
#define FM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

#define FM_PATH_MAX 1024
#define FM_WEBHOOK_URLS_MAX 8

typedef struct fm_config {
    char data_dir[FM_PATH_MAX];
    char listen_host[128];
    int port;
    char tls_cert[FM_PATH_MAX]; /* both set: serve HTTPS/WSS only */
    char tls_key[FM_PATH_MAX];
    int64_t max_upload_bytes;  /* one uploaded recording */
    int64_t max_json_bytes;    /* one JSON request body */
    int session_ttl_s;         /* login session lifetime */
    int device_token_ttl_s;    /* device token lifetime */
    int api_workers;           /* threads for requests that touch the store */
    int analysis_workers;      /* threads running the engine on recordings */
    int ingest_workers;        /* threads writing live streams to disk */
    int login_max_failures;    /* failed logins per user name ... */
    int login_ip_max_failures; /* ... and per client address ... */
    int login_window_s;        /* ... within this window */
    int http_timeout_s;        /* idle / slow-client timeout */
    int max_connections;       /* 0 = libwebsockets default (the process fd limit) */
    int live_workers;          /* threads running the engine on live streams */
    int stream_stall_s;        /* no frame for this long: "stream stalled" alert (30) */
    int alert_escalate_s;      /* unacknowledged HIGH alert -> next clinician (120) */
    /* Webhooks (docs/alerts.md 3): every alert transition is POSTed to each URL, signed with
     * the secret, from a worker thread; pending deliveries are spooled in DATA/webhooks. */
    char webhook_urls[FM_WEBHOOK_URLS_MAX][512]; /* "webhook_url", repeatable or a list */
    int n_webhook_urls;
    char webhook_secret[256];          /* >= 16 bytes; or read from webhook_secret_file */
    int webhook_timeout_ms;            /* per attempt (5000) */
    int webhook_max_attempts;          /* 0 = until delivered (default; dead letter after N) */
    int webhook_backoff_initial_ms;    /* first retry (500), doubling ... */
    int webhook_backoff_max_ms;        /* ... up to this (60000) */
    int webhook_queue_max;             /* deliveries in memory (10000); more wait on disk */
    char web_dir[FM_PATH_MAX]; /* the web app's files; "" = found next to the program */
    int upload_incomplete_s;   /* resumable upload without progress: "upload incomplete" (1800) */
    int upload_expire_s;       /* ... and then deleted (7 days) */
    int ingest_group_commit;   /* 1: live frames durable in commit rounds (one log sync for all
                                  streams); 0 (default): one fdatasync per stream flush */
    int ingest_checkpoint_s;   /* the group-commit log switches (and the stream files written
                                  meanwhile are synced) this often */
    int stream_finish_s;       /* a live stream without its device this long is finished by the
                                  server (7200) */
    int malloc_arenas;         /* at most this many malloc arenas (glibc M_ARENA_MAX); 0 = the
                                  allocator's default, 8 per core */
    int memory_trim_s;         /* freed heap pages go back to the system this often (60); 0 =
                                  never */
} fm_config;

void fm_config_defaults(fm_config *c);
/* Sets one key from its text value. FM_SVC_INVAL with a message for unknown keys or bad values. */
fm_svc_status fm_config_set(fm_config *c, const char *key, const char *value, char *err,
                            size_t err_len);
/* Reads a config file. FM_SVC_NOTFOUND when it does not exist (callers decide if that is fine). */
fm_svc_status fm_config_load(fm_config *c, const char *path, char *err, size_t err_len);
/* "HOST:PORT", ":PORT", "PORT" or "HOST" into listen_host / port. */
fm_svc_status fm_config_set_listen(fm_config *c, const char *hostport, char *err, size_t err_len);

#endif
