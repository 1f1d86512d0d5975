/* End-to-end tests of live ingest (WebSocket "fm-ingest" at /ws/ingest) against a real
 * `fetalmon serve`: acknowledgements only for durable frames, resume after a dropped connection
 * with no gap and no duplicate, SIGKILL after acknowledgements loses nothing, the finished stream
 * is one WAV holding exactly the frames sent, frames lost from a stream file (a power loss) come
 * back from the group-commit log, access rules, and bad frames refused. */
#include "../check.h"
#include "srvtest.h"

static server_proc srv;
/* This file runs the server with group commit (the other end-to-end tests use the default
 * per-stream syncs), so both durability paths are tested. */
static const char *const gc_args[] = {"--set", "ingest_group_commit=1", NULL};
static char tok_alice[128], tok_drbob[128], dev_alice[128];

enum { FRAME_SAMPLES = 2000 }; /* 0.25 s at 8 kHz */

static int login(const char *name, const char *pw, char *out, size_t cap)
{
    return srv_login(srv.port, name, pw, out, cap);
}

/* Frame `seq` of the test pattern (srvtest.h), so the stored WAV can be checked. */
static int send_frame(int fd, uint32_t seq)
{
    return pattern_send(fd, seq, FRAME_SAMPLES);
}

/* Opens a stream; returns the socket (stream id and next_seq filled) or -1. */
static int open_stream(const char *token, const char *extra, char *id, int *next_seq)
{
    return ingest_open_stream(srv.port, token, 8000, extra, id, next_seq);
}

/* Waits until an ack covers `seq`. */
static int wait_ack(int fd, int seq)
{
    return ingest_wait_ack(fd, seq, 10000);
}

/* The WAV of a finished stream holds frames 0..n-1 exactly. */
static int wav_holds_frames(const char *id, int n)
{
    return wav_holds_pattern(srv.data, id, n, FRAME_SAMPLES);
}

static void frames_are_acked_and_resume_has_no_gap_or_duplicate(void)
{
    char id[32], id2[32];
    int next;
    int fd = open_stream(dev_alice, NULL, id, &next);
    CHECK(fd >= 0 && next == 0 && strlen(id) == 16);
    if (fd < 0)
        return;
    for (uint32_t s = 0; s < 20; s++)
        send_frame(fd, s);
    CHECK(wait_ack(fd, 19) == 0);
    close(fd); /* the network drops, no goodbye */

    char extra[64];
    snprintf(extra, sizeof extra, ",\"stream\":\"%s\"", id);
    fd = open_stream(dev_alice, extra, id2, &next);
    CHECK(fd >= 0 && next == 20 && !strcmp(id, id2));
    if (fd < 0)
        return;
    for (uint32_t s = 15; s < 30; s++) /* 15..19 again: ignored */
        send_frame(fd, s);
    CHECK(wait_ack(fd, 29) == 0);
    send_frame(fd, 35);
    cJSON *e = ws_wait_type(fd, "error", "\"gap\"", 5000);
    CHECK(e && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "expected")) == 30);
    cJSON_Delete(e);
    ws_send_text(fd, "{\"type\":\"close\"}");
    cJSON *c = ws_wait_type(fd, "closed", NULL, 10000);
    CHECK(c != NULL);
    cJSON_Delete(c);
    close(fd);
    CHECK(wav_holds_frames(id, 30));
    char p[64];
    snprintf(p, sizeof p, "/api/recordings/%s", id);
    http_resp r;
    CHECK(http_get(srv.port, p, tok_alice, &r) == 0 && r.status == 200);
    CHECK(jstr(r.json, "kind") && !strcmp(jstr(r.json, "kind"), "stream"));
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r.json, "size_bytes")) ==
          44 + 30 * 2 * FRAME_SAMPLES);
    http_resp_free(&r);
    /* A finished stream cannot be resumed. */
    CHECK(open_stream(dev_alice, extra, id2, &next) < 0);
}

static void sigkill_after_acks_loses_nothing(void)
{
    char id[32], id2[32];
    int next;
    int fd = open_stream(tok_alice, NULL, id, &next);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    for (uint32_t s = 0; s < 12; s++)
        send_frame(fd, s);
    CHECK(wait_ack(fd, 11) == 0);
    CHECK(server_stop(&srv, SIGKILL) == 128 + SIGKILL);
    close(fd);
    CHECK(server_start(&srv, gc_args) == 0);
    char extra[64];
    snprintf(extra, sizeof extra, ",\"stream\":\"%s\"", id);
    fd = open_stream(tok_alice, extra, id2, &next);
    CHECK(fd >= 0 && next == 12);
    if (fd < 0)
        return;
    ws_send_text(fd, "{\"type\":\"close\"}");
    cJSON *c = ws_wait_type(fd, "closed", NULL, 10000);
    CHECK(c != NULL);
    cJSON_Delete(c);
    close(fd);
    CHECK(wav_holds_frames(id, 12));
}

/* A power loss, simulated: the server dies and its stream file loses the tail the kernel had
 * not written yet (cut mid-frame). The acknowledged frames were in the group-commit log, synced
 * before the acks: the restart puts them back. */
static void frames_only_in_the_log_survive_a_power_loss(void)
{
    char id[32], id2[32];
    int next;
    int fd = open_stream(dev_alice, NULL, id, &next);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    for (uint32_t s = 0; s < 16; s++)
        send_frame(fd, s);
    CHECK(wait_ack(fd, 15) == 0);
    CHECK(server_stop(&srv, SIGKILL) == 128 + SIGKILL);
    close(fd);
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", srv.data, id);
    CHECK(truncate(path, 16 + 5 * (8 + 2 * FRAME_SAMPLES) + 100) == 0);
    CHECK(server_start(&srv, gc_args) == 0);
    char extra[64];
    snprintf(extra, sizeof extra, ",\"stream\":\"%s\"", id);
    fd = open_stream(dev_alice, extra, id2, &next);
    CHECKF(fd >= 0 && next == 16, "next_seq %d after the replay", next);
    if (fd < 0)
        return;
    send_frame(fd, 16);
    CHECK(wait_ack(fd, 16) == 0);
    ws_send_text(fd, "{\"type\":\"close\"}");
    cJSON *c = ws_wait_type(fd, "closed", NULL, 10000);
    CHECK(c != NULL);
    cJSON_Delete(c);
    close(fd);
    CHECK(wav_holds_frames(id, 17));
}

static void streams_follow_the_access_rules(void)
{
    char id[32];
    int next, fd;
    fd = open_stream(tok_drbob, ",\"patient\":\"alice\"", id, &next);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK(open_stream(tok_drbob, ",\"patient\":\"beth\"", id, &next) < 0);
    CHECK(open_stream(tok_alice, ",\"patient\":\"beth\"", id, &next) < 0);
    CHECK(open_stream(dev_alice, ",\"patient\":\"beth\"", id, &next) < 0);
    CHECK(open_stream("fms_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, id, &next) < 0);
    /* Another patient's stream cannot be resumed. */
    char beth_tok[128];
    CHECK(login("beth", "beth-password", beth_tok, sizeof beth_tok) == 200);
    fd = open_stream(tok_alice, NULL, id, &next);
    if (fd >= 0)
        close(fd);
    char extra[64], id2[32];
    snprintf(extra, sizeof extra, ",\"stream\":\"%s\"", id);
    CHECK(open_stream(beth_tok, extra, id2, &next) < 0);
}

static void bad_frames_and_messages_are_refused(void)
{
    int st;
    int fd = ws_connect(srv.port, "/ws/ingest", "fm-ingest", &st);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unsigned char b[8] = {0};
    ws_send_frame(fd, 2, b, sizeof b, 1);
    CHECK(ws_got_error(fd, "bad_request", 5000));
    ws_send_text(fd, "{\"type\":\"open\",\"token\":\"x\",\"format\":\"f32\",\"rate_hz\":8000}");
    CHECK(ws_got_error(fd, "bad_format", 5000));
    ws_send_text(fd, "{\"type\":\"open\",\"token\":\"x\",\"format\":\"s16le\",\"rate_hz\":1}");
    CHECK(ws_got_error(fd, "bad_format", 5000));
    ws_send_text(fd, "not json");
    CHECK(ws_got_error(fd, "bad_json", 5000));
    close(fd);
    char id[32];
    int next;
    fd = open_stream(dev_alice, NULL, id, &next);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unsigned char odd[7] = {0, 0, 0, 0, 1, 2, 3};
    ws_send_frame(fd, 2, odd, sizeof odd, 1);
    CHECK(ws_got_error(fd, "bad_frame", 5000));
    unsigned char *big = calloc(1, 40000);
    ws_send_frame(fd, 2, big, 40000, 1);
    free(big);
    CHECK(ws_got_error(fd, "too_large", 5000));
    send_frame(fd, 0); /* still usable */
    CHECK(wait_ack(fd, 0) == 0);
    close(fd);
    http_resp r;
    CHECK(http_get(srv.port, "/health", NULL, &r) == 0 && r.status == 200);
    http_resp_free(&r);
}

int main(void)
{
    if (make_temp_dir(srv.data, sizeof srv.data, "ingest") != 0)
        return 1;
    if (srv_add_care_teams(srv.data) != 0)
        return 1;
    srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice);
    if (server_start(&srv, gc_args) != 0 ||
        login("alice", "alice-password", tok_alice, sizeof tok_alice) != 200 ||
        login("drbob", "drbob-password", tok_drbob, sizeof tok_drbob) != 200) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(frames_are_acked_and_resume_has_no_gap_or_duplicate);
    RUN(sigkill_after_acks_loses_nothing);
    RUN(frames_only_in_the_log_survive_a_power_loss);
    RUN(streams_follow_the_access_rules);
    RUN(bad_frames_and_messages_are_refused);
    CHECK(server_stop(&srv, SIGTERM) == 0);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    rm_tree(srv.data);
    return CHECK_DONE();
}
