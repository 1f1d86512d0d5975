/* End-to-end tests of the clinicians' live feed (WebSocket "fm-live" at /ws/live) against a
 * real `fetalmon serve`: sign-in over the socket, subscriptions limited by the care team,
 * recording events fanned out to every subscribed viewer and to no one else, garbage frames
 * answered with errors while the server keeps serving. */
#include "../check.h"
#include "srvtest.h"

static server_proc srv;
static char fixture[1024];

static srv_account acc[] = {
    {"alice", "patient", "alice-password", "drbob", ""},
    {"beth", "patient", "beth-password", "drcarol", ""},
    {"drbob", "clinician", "drbob-password", NULL, ""},
    {"drcarol", "clinician", "drcarol-password", NULL, ""},
    {"root", "admin", "root-password", NULL, ""},
};
enum { ALICE, BETH, DRBOB, DRCAROL, ROOT, N_ACC };

/* A signed-in viewer; < 0 when the upgrade or the sign-in failed. */
static int viewer(const char *token)
{
    return live_connect(srv.port, token, 10000);
}

static void the_upgrade_needs_the_right_path_and_protocol(void)
{
    int st;
    int fd = ws_connect(srv.port, "/ws/other", "fm-live", &st);
    CHECK(fd < 0 && st != 101);
    if (fd >= 0)
        close(fd);
    fd = ws_connect(srv.port, "/ws/live", NULL, &st);
    CHECK(fd < 0 && st != 101);
    if (fd >= 0)
        close(fd);
    fd = ws_connect(srv.port, "/ws/live", "fm-live", &st);
    CHECK(fd >= 0 && st == 101);
    if (fd >= 0)
        close(fd);
}

static void a_viewer_must_sign_in_with_a_valid_session(void)
{
    int st;
    int fd = ws_connect(srv.port, "/ws/live", "fm-live", &st);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    ws_send_text(fd, "{\"type\":\"subscribe\",\"patient\":\"alice\"}");
    CHECK(ws_got_error(fd, "unauthorized", 5000));
    ws_send_text(
        fd, "{\"type\":\"auth\",\"token\":\"fms_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    CHECK(ws_got_error(fd, "unauthorized", 5000));
    /* ... and is then disconnected. */
    char *m;
    size_t len;
    int op;
    while ((op = ws_recv(fd, &m, &len, 5000)) > 0 && op != 8)
        free(m);
    free(m);
    CHECK(op == 8 || op == -1);
    close(fd);
    /* Administrators do not watch clinical data. */
    CHECK(viewer(acc[ROOT].token) < 0);
}

static void subscriptions_follow_the_care_team(void)
{
    int fd = viewer(acc[DRBOB].token);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    ws_send_text(fd, "{\"type\":\"subscribe\",\"patient\":\"beth\"}");
    CHECK(ws_got_error(fd, "not_found", 5000));
    ws_send_text(fd, "{\"type\":\"subscribe\",\"patient\":\"nobody\"}");
    CHECK(ws_got_error(fd, "not_found", 5000));
    CHECK(live_subscribe(fd, "alice") == 0);
    close(fd);
}

static void recording_events_reach_every_subscribed_viewer_and_no_other(void)
{
    int bob = viewer(acc[DRBOB].token), alice = viewer(acc[ALICE].token),
        carol = viewer(acc[DRCAROL].token);
    CHECK(bob >= 0 && alice >= 0 && carol >= 0);
    if (bob < 0 || alice < 0 || carol < 0)
        return;
    CHECK(live_subscribe(bob, "alice") == 0);
    CHECK(live_subscribe(alice, "alice") == 0);
    CHECK(live_subscribe(carol, "beth") == 0);
    size_t len;
    char *data = read_whole(fixture, &len);
    http_resp r;
    CHECK(http_req(srv.port, "POST", "/api/recordings?name=live.fhr", acc[ALICE].token, data, len,
                   &r) == 0 &&
          r.status == 201);
    char id[32];
    snprintf(id, sizeof id, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "none");
    http_resp_free(&r);
    free(data);
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", id);
    int viewers[2] = {bob, alice};
    for (int v = 0; v < 2; v++) {
        cJSON *done = NULL;
        double t0 = now_s();
        while (!done && now_s() - t0 < 20) {
            cJSON *ev = ws_wait_type(viewers[v], "recording", needle, 20000);
            if (!ev)
                break;
            if (jstr(ev, "status") && !strcmp(jstr(ev, "status"), "done"))
                done = ev;
            else
                cJSON_Delete(ev);
        }
        CHECKF(done != NULL, "viewer %d saw no 'done' for %s", v, id);
        cJSON_Delete(done);
    }
    /* carol watches beth only: a ping answered before any event about alice's recording. */
    ws_send_text(carol, "{\"type\":\"ping\"}");
    char *m;
    int leaked = 0, pong = 0, op;
    while (!pong && (op = ws_recv(carol, &m, &len, 5000)) > 0) {
        leaked |= strstr(m, id) != NULL;
        pong = strstr(m, "pong") != NULL;
        free(m);
    }
    CHECK(pong && !leaked);
    close(bob);
    close(alice);
    close(carol);
}

static void a_new_live_stream_is_announced_to_viewers(void)
{
    int bob = viewer(acc[DRBOB].token);
    CHECK(bob >= 0 && live_subscribe(bob, "alice") == 0);
    int st;
    int dev = ws_connect(srv.port, "/ws/ingest", "fm-ingest", &st);
    CHECK(dev >= 0);
    if (bob < 0 || dev < 0)
        return;
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":8000}",
             acc[ALICE].token);
    ws_send_text(dev, msg);
    cJSON *o = ws_wait_type(dev, "opened", NULL, 10000);
    CHECK(o != NULL);
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", o && jstr(o, "stream") ? jstr(o, "stream") : "?");
    cJSON_Delete(o);
    cJSON *ev = ws_wait_type(bob, "recording", needle, 10000);
    CHECK(ev && jstr(ev, "status") && !strcmp(jstr(ev, "status"), "receiving") &&
          !strcmp(jstr(ev, "kind"), "stream"));
    cJSON_Delete(ev);
    close(dev);
    close(bob);
}

static void the_worklist_subscribes_to_all_her_patients(void)
{
    int fd = viewer(acc[DRCAROL].token);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    ws_send_text(fd, "{\"type\":\"subscribe\",\"worklist\":true}");
    cJSON *j = ws_wait_type(fd, "subscribed", NULL, 10000);
    const cJSON *pats = cJSON_GetObjectItemCaseSensitive(j, "patients");
    CHECK(cJSON_GetArraySize(pats) == 1 &&
          !strcmp(cJSON_GetArrayItem(pats, 0)->valuestring, "beth"));
    cJSON_Delete(j);
    /* beth's new stream reaches carol through the worklist. */
    int st;
    int dev = ws_connect(srv.port, "/ws/ingest", "fm-ingest", &st);
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":8000}",
             acc[BETH].token);
    if (dev >= 0)
        ws_send_text(dev, msg);
    cJSON *ev = ws_wait_type(fd, "recording", "receiving", 10000);
    CHECK(ev && jstr(ev, "patient") && !strcmp(jstr(ev, "patient"), "beth"));
    cJSON_Delete(ev);
    if (dev >= 0)
        close(dev);
    close(fd);
}

static void garbage_frames_get_errors_and_the_server_keeps_serving(void)
{
    int fd = viewer(acc[DRBOB].token);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    ws_send_text(fd, "this is not json");
    CHECK(ws_got_error(fd, "bad_json", 5000));
    ws_send_frame(fd, 2, "\x01\x02\x03", 3, 1);
    CHECK(ws_got_error(fd, "bad_request", 5000));
    ws_send_text(fd, "{\"type\":42}");
    CHECK(ws_got_error(fd, NULL, 5000));
    char *big = malloc(10000);
    memset(big, ' ', 9999);
    big[0] = '{';
    big[9998] = '}';
    big[9999] = 0;
    ws_send_text(fd, big);
    free(big);
    CHECK(ws_got_error(fd, "too_large", 5000));
    /* A message in two fragments is one message. */
    ws_send_frame(fd, 1, "{\"type\":", 8, 0);
    ws_send_frame(fd, 0, "\"ping\"}", 7, 1);
    cJSON *e = ws_wait_type(fd, "pong", NULL, 5000);
    CHECK(e != NULL);
    cJSON_Delete(e);
    close(fd);
    /* Raw garbage after the upgrade: the server drops that connection, nothing else. */
    int st;
    fd = ws_connect(srv.port, "/ws/live", "fm-live", &st);
    if (fd >= 0) {
        send_all(fd, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 10);
        char *m;
        size_t len;
        int op;
        while ((op = ws_recv(fd, &m, &len, 3000)) > 0 && op != 8)
            free(m);
        free(m);
        close(fd);
    }
    http_resp r;
    CHECK(http_get(srv.port, "/health", NULL, &r) == 0 && r.status == 200);
    http_resp_free(&r);
    CHECK(viewer(acc[DRBOB].token) >= 0);
}

static void shutdown_with_viewers_connected_is_clean(void)
{
    int fd = viewer(acc[DRBOB].token);
    CHECK(fd >= 0 && live_subscribe(fd, "alice") == 0);
    CHECK(server_stop(&srv, SIGTERM) == 0);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    srv_fixture_path(fixture, sizeof fixture);
    if (make_temp_dir(srv.data, sizeof srv.data, "live") != 0)
        return 1;
    if (srv_accounts_add(srv.data, acc, N_ACC, NULL) != 0)
        return 1;
    if (server_start(&srv, NULL) != 0) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    if (srv_login_all(srv.port, acc, N_ACC) != 0) {
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(the_upgrade_needs_the_right_path_and_protocol);
    RUN(a_viewer_must_sign_in_with_a_valid_session);
    RUN(subscriptions_follow_the_care_team);
    RUN(recording_events_reach_every_subscribed_viewer_and_no_other);
    RUN(a_new_live_stream_is_announced_to_viewers);
    RUN(the_worklist_subscribes_to_all_her_patients);
    RUN(garbage_frames_get_errors_and_the_server_keeps_serving);
    RUN(shutdown_with_viewers_connected_is_clean);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    rm_tree(srv.data);
    return CHECK_DONE();
}
