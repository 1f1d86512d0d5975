/* The messages of the live ingest protocol ("fm-ingest", docs/api.md) as pure functions from the
 * bytes a client sent to a checked value: JSON text messages (open, close, movement) and binary
 * audio frames (u32 sequence number + 16-bit PCM). No socket, no state, no store: ingest.c
 * decides what a valid message means for the stream (already open, gaps, duplicates), and the
 * fuzz target tests/fuzz/fuzz_ingest.c drives these functions with arbitrary bytes. */
#ifndef FM_INGEST_MSG_H
#define FM_INGEST_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define FM_INGEST_FRAME_MAX 32768 /* PCM bytes per frame */
#define FM_INGEST_TEXT_MAX 4096   /* bytes of one JSON message */
#define FM_INGEST_TOKEN_MAX 160
#define FM_INGEST_RATE_MIN_HZ 4000
#define FM_INGEST_RATE_MAX_HZ 192000

typedef enum fm_ingest_type {
    FM_IMSG_BAD = 0, /* not a JSON object with a string "type" */
    FM_IMSG_OPEN,
    FM_IMSG_CLOSE,
    FM_IMSG_MOVEMENT,
    FM_IMSG_UNKNOWN /* a "type" the protocol does not have */
} fm_ingest_type;

typedef struct fm_ingest_msg {
    fm_ingest_type type;
    /* open */
    char token[FM_INGEST_TOKEN_MAX];
    char patient[FM_NAME_MAX];  /* "" when absent */
    char stream[FM_REC_ID_MAX]; /* stream to resume, "" for a new one */
    int rate_hz;
    /* movement */
    int has_t; /* "t_s" given */
    double t_s;
    /* When the message is refused: the protocol's error code ("bad_json", "unauthorized",
     * "bad_format", "bad_request"), a message for the client, and whether the connection then
     * closes. error[0] == 0 when the message is valid. */
    char error[24];
    const char *message;
    int fatal;
} fm_ingest_msg;

/* Parses one text message of len bytes (not NUL-terminated). Always fills out->type; out->error
 * says why a message of that type is refused. */
void fm_ingest_parse_text(const char *text, size_t len, fm_ingest_msg *out);

/* Checks one binary frame of n bytes: 0 with *seq, *pcm and *pcm_len (> 0, even, at most
 * FM_INGEST_FRAME_MAX) set, or -1 when it is not "u32 seq + 16-bit samples". */
int fm_ingest_parse_frame(const unsigned char *b, size_t n, uint32_t *seq,
                          const unsigned char **pcm, size_t *pcm_len);

#endif
