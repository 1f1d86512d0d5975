/* End-to-end tests of how `fetalmon serve` starts and stops: with --demo, SIGTERM lets the
 * simulated home device close its live stream over the socket before the server exits (the
 * stream becomes a WAV recording queued for analysis, never left "receiving"); with tls_cert and
 * tls_key set (a self-signed certificate made with the openssl command at test time; skipped
 * with a message when openssl or curl is missing) the API answers over HTTPS only. */
#include <sys/stat.h>

#include "../check.h"
#include "srvtest.h"

static server_proc srv;

static void sigterm_closes_the_demo_stream_cleanly(void)
{
    const char *demo[] = {"--demo", NULL};
    CHECK(server_start(&srv, demo) == 0);
    char tok[128] = "";
    CHECK(srv_login(srv.port, "demo-clinician", "demo-clinician-pw", tok, sizeof tok) == 200);
    /* The device streams: wait until its recording shows up as receiving. */
    char id[32] = "";
    double t0 = now_s();
    while (!id[0] && now_s() - t0 < 20) {
        http_resp r;
        if (http_get(srv.port, "/api/patients/demo-patient/recordings", tok, &r) == 0) {
            const cJSON *rec;
            cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(r.json, "recordings"))
            {
                const char *st = jstr(rec, "status");
                if (st && !strcmp(st, "receiving") && jstr(rec, "id"))
                    snprintf(id, sizeof id, "%s", jstr(rec, "id"));
            }
        }
        http_resp_free(&r);
        if (!id[0])
            usleep(200000);
    }
    CHECK(id[0] != 0);
    sleep(2); /* a few seconds of audio */
    double t_stop = now_s();
    CHECK(server_stop(&srv, SIGTERM) == 0);
    printf("     SIGTERM to exit with the demo stream closed: %.2f s\n", now_s() - t_stop);
    if (!id[0])
        return;
    /* The frames became a WAV file and the stream file is gone. */
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/recordings/%s.wav", srv.data, id);
    CHECKF(stat(path, &st) == 0 && st.st_size > 44 + 16000, "%s", path);
    snprintf(path, sizeof path, "%s/recordings/%s.fmpcm", srv.data, id);
    CHECK(stat(path, &st) != 0);
    /* After a restart (no demo) the recording is a closed one: queued, analysing or done. */
    CHECK(server_start(&srv, NULL) == 0);
    CHECK(srv_login(srv.port, "demo-clinician", "demo-clinician-pw", tok, sizeof tok) == 200);
    snprintf(path, sizeof path, "/api/recordings/%s", id);
    http_resp r;
    CHECK(http_get(srv.port, path, tok, &r) == 0 && r.status == 200);
    const char *status = jstr(r.json, "status");
    CHECKF(status && strcmp(status, "receiving") && strcmp(status, "failed"), "%s",
           r.body ? r.body : "");
    http_resp_free(&r);
    CHECK(server_stop(&srv, SIGTERM) == 0);
}

/* Runs a shell command; its stdout (up to cap) into out; returns the exit status. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = out ? fread(out, 1, cap - 1, p) : 0;
    if (out)
        out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void the_api_answers_over_tls(void)
{
    if (run_cmd("command -v openssl >/dev/null && command -v curl >/dev/null", NULL, 0) != 0) {
        printf("     skipped: the openssl and curl commands are needed to test TLS\n");
        return;
    }
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-keyout '%s/key.pem' -out '%s/cert.pem' >/dev/null 2>&1",
             srv.data, srv.data);
    if (run_cmd(cmd, NULL, 0) != 0) {
        printf("     skipped: openssl could not make a self-signed certificate\n");
        return;
    }
    /* Our own start: the usual one probes /health in plain HTTP, which a TLS port refuses. */
    char cert[700], key[700];
    snprintf(cert, sizeof cert, "tls_cert=%s/cert.pem", srv.data);
    snprintf(key, sizeof key, "tls_key=%s/key.pem", srv.data);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    srv.pid = fork();
    if (srv.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl(fetalmon_bin(), fetalmon_bin(), "serve", "--data", srv.data, "--listen",
              "127.0.0.1:0", "--set", cert, "--set", key, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[256] = "";
    srv.port = 0;
    if (f && fgets(line, sizeof line, f) && strrchr(line, ':'))
        srv.port = atoi(strrchr(line, ':') + 1);
    if (f)
        fclose(f);
    CHECK(srv.port > 0);
    if (srv.port <= 0) {
        server_stop(&srv, SIGKILL);
        return;
    }
    /* HTTPS: health, then a login and /api/me with its token. */
    int ok = 0;
    double t0 = now_s();
    while (!ok && now_s() - t0 < 20) {
        snprintf(cmd, sizeof cmd, "curl -sk --max-time 5 https://127.0.0.1:%d/health", srv.port);
        ok = run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "\"ok\"");
        if (!ok)
            usleep(100000);
    }
    CHECKF(ok, "no answer over https: %s", out);
    snprintf(cmd, sizeof cmd,
             "curl -sk --max-time 10 -H 'Content-Type: application/json' -d "
             "'{\"username\":\"tlsuser\",\"password\":\"tlsuser-password\"}' "
             "https://127.0.0.1:%d/api/login",
             srv.port);
    CHECK(run_cmd(cmd, out, sizeof out) == 0);
    cJSON *j = cJSON_Parse(out);
    const char *tok = jstr(j, "token");
    CHECKF(tok != NULL, "login over https: %s", out);
    if (tok) {
        snprintf(cmd, sizeof cmd,
                 "curl -sk --max-time 10 -D - -H 'Authorization: Bearer %s' "
                 "https://127.0.0.1:%d/api/me",
                 tok, srv.port);
        CHECK(run_cmd(cmd, out, sizeof out) == 0);
        CHECK(strstr(out, "\"name\":\"tlsuser\"") != NULL);
        int code = 0;
        CHECKF(sscanf(out, "HTTP/%*s %d", &code) == 1 && code == 200, "%.40s", out);
    }
    cJSON_Delete(j);
    /* The login cookie is Secure under TLS. */
    snprintf(cmd, sizeof cmd,
             "curl -sk --max-time 10 -D - -o /dev/null -d "
             "'{\"username\":\"tlsuser\",\"password\":\"tlsuser-password\"}' "
             "https://127.0.0.1:%d/api/login",
             srv.port);
    CHECK(run_cmd(cmd, out, sizeof out) == 0);
    CHECK(strcasestr(out, "set-cookie: fm_session=") && strstr(out, "; Secure"));
    /* Plain HTTP on the TLS port gets no API answer. */
    http_resp r;
    int plain = http_get(srv.port, "/health", NULL, &r);
    CHECK(plain != 0 || r.status != 200);
    http_resp_free(&r);
    CHECK(server_stop(&srv, SIGTERM) == 0);
}

int main(void)
{
    if (make_temp_dir(srv.data, sizeof srv.data, "shutdown") != 0)
        return 1;
    if (srv_user_add(srv.data, "patient", "tlsuser", "tlsuser-password", NULL) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(sigterm_closes_the_demo_stream_cleanly);
    RUN(the_api_answers_over_tls);
    if (srv.pid)
        server_stop(&srv, SIGKILL);
    rm_tree(srv.data);
    return CHECK_DONE();
}
