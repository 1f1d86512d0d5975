/* Test support for the server: a minimal HTTP/1.1 client over plain sockets (loopback only),
 * starting and stopping a real `fetalmon serve` process on a temporary data directory, running
 * `fetalmon user ...`, and the steps every end-to-end test repeats: accounts and sign-in,
 * uploads waited on until analysed, live ingest streams (/ws/ingest) with a checkable test
 * pattern, live feed viewers (/ws/live). Header-only so each test file is one executable. */
#ifndef FM_SRVTEST_H
#define FM_SRVTEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct http_resp {
    int status;
    char headers[4096];
    char *body; /* NUL-terminated */
    size_t len;
    cJSON *json; /* parsed body, or NULL */
} http_resp;

static inline void http_resp_free(http_resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static inline int tcp_connect(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one response (headers, then content-length bytes or until EOF). 0 on success. */
static inline int http_read(int fd, http_resp *r)
{
    memset(r, 0, sizeof *r);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    long clen = -1;
    size_t hdr_end = 0;
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = recv(fd, buf + n, cap - n - 1, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        buf[n] = 0;
        if (!hdr_end) {
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                hdr_end = (size_t)(e - buf) + 4;
                char *cl = strcasestr(buf, "\ncontent-length:");
                if (cl && cl < e)
                    clen = strtol(cl + 16, NULL, 10);
            }
        }
        if (hdr_end && clen >= 0 && n >= hdr_end + (size_t)clen)
            break;
    }
    buf[n] = 0;
    if (!hdr_end || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        return -1;
    }
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)hdr_end, buf);
    r->len = n - hdr_end;
    r->body = malloc(r->len + 1);
    memcpy(r->body, buf + hdr_end, r->len);
    r->body[r->len] = 0;
    r->json = cJSON_ParseWithLength(r->body, r->len);
    free(buf);
    return 0;
}

/* One request on a fresh connection. token may be NULL. Returns 0 when a response came. */
static inline int http_req(int port, const char *method, const char *path, const char *token,
                           const void *body, size_t len, http_resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = tcp_connect(port, 60);
    if (fd < 0)
        return -1;
    char head[2048];
    int hl =
        snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s", method, path,
                 token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    if (body || !strcmp(method, "POST"))
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %zu\r\n", len);
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
    int rc = send_all(fd, head, (size_t)hl);
    if (rc == 0 && body && len)
        rc = send_all(fd, body, len);
    if (rc == 0)
        rc = http_read(fd, r);
    close(fd);
    return rc;
}

static inline int http_get(int port, const char *path, const char *token, http_resp *r)
{
    return http_req(port, "GET", path, token, NULL, 0, r);
}

static inline int http_post_json(int port, const char *path, const char *token, const char *json,
                                 http_resp *r)
{
    return http_req(port, "POST", path, token, json, strlen(json), r);
}

/* Sends raw bytes, then reads a response. */
static inline int http_raw(int port, const void *req, size_t len, http_resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = tcp_connect(port, 30);
    if (fd < 0)
        return -1;
    int rc = send_all(fd, req, len);
    if (rc == 0)
        rc = http_read(fd, r);
    close(fd);
    return rc;
}

static inline const char *jstr(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

/* ---- a minimal WebSocket client (RFC 6455; client frames masked) ---- */

/* Connects and upgrades; returns the socket, or -1 (status of the refusal in *status). */
static inline int ws_connect(int port, const char *path, const char *protocol, int *status)
{
    int fd = tcp_connect(port, 10);
    *status = 0;
    if (fd < 0)
        return -1;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                     protocol ? "\r\n" : "");
    if (send_all(fd, req, (size_t)n) != 0) {
        close(fd);
        return -1;
    }
    /* Read the response headers byte by byte so no frame data is swallowed. */
    char h[2048];
    size_t k = 0;
    while (k + 1 < sizeof h && recv(fd, h + k, 1, 0) == 1) {
        k++;
        if (k >= 4 && !memcmp(h + k - 4, "\r\n\r\n", 4))
            break;
    }
    h[k] = 0;
    if (sscanf(h, "HTTP/1.%*d %d", status) != 1 || *status != 101) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int ws_send_frame(int fd, int opcode, const void *data, size_t len, int fin)
{
    unsigned char hdr[14];
    size_t hl = 0;
    hdr[hl++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        hdr[hl++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[hl++] = 0x80 | 126;
        hdr[hl++] = (unsigned char)(len >> 8);
        hdr[hl++] = (unsigned char)len;
    } else {
        hdr[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[hl++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(hdr + hl, mask, 4);
    hl += 4;
    unsigned char *buf = malloc(hl + len + 1);
    memcpy(buf, hdr, hl);
    for (size_t i = 0; i < len; i++)
        buf[hl + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
    int rc = send_all(fd, buf, hl + len);
    free(buf);
    return rc;
}

static inline int ws_send_text(int fd, const char *text)
{
    return ws_send_frame(fd, 1, text, strlen(text), 1);
}

static inline int recv_exact(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Receives one frame (server frames are unmasked). Returns the opcode (1 text, 2 binary,
 * 8 close...) with the payload NUL-terminated in *out (caller frees), or -1 on timeout/EOF. */
static inline int ws_recv(int fd, char **out, size_t *len, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char h[2];
    *out = NULL;
    if (recv_exact(fd, h, 2) != 0)
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        unsigned char e[2];
        if (recv_exact(fd, e, 2) != 0)
            return -1;
        n = (uint64_t)e[0] << 8 | e[1];
    } else if (n == 127) {
        unsigned char e[8];
        if (recv_exact(fd, e, 8) != 0)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | e[i];
    }
    if (n > (64u << 20))
        return -1;
    *out = malloc(n + 1);
    if (recv_exact(fd, *out, n) != 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    (*out)[n] = 0;
    *len = n;
    return h[0] & 0x0f;
}

/* Waits for a text message whose JSON "type" is `type` (and, if given, that contains
 * `needle`), skipping others; returns the parsed message (caller deletes) or NULL. */
static inline cJSON *ws_wait_type(int fd, const char *type, const char *needle, int timeout_ms)
{
    double t_end = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t_end = (double)ts.tv_sec + ts.tv_nsec / 1e9 + timeout_ms / 1000.0;
    }
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = t_end - ((double)ts.tv_sec + ts.tv_nsec / 1e9);
        if (left <= 0)
            return NULL;
        char *m;
        size_t len;
        int op = ws_recv(fd, &m, &len, (int)(left * 1000) + 1);
        if (op < 0)
            return NULL;
        if (op == 8) {
            free(m);
            return NULL;
        }
        cJSON *j = op == 1 ? cJSON_Parse(m) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        int match =
            cJSON_IsString(t) && !strcmp(t->valuestring, type) && (!needle || strstr(m, needle));
        free(m);
        if (match)
            return j;
        cJSON_Delete(j);
    }
}

/* Waits for an "error" message naming code (NULL: any error); 1 when it came. */
static inline int ws_got_error(int fd, const char *code, int timeout_ms)
{
    cJSON *e = ws_wait_type(fd, "error", code, timeout_ms);
    cJSON_Delete(e);
    return e != NULL;
}

/* ---- the server process ---- */

typedef struct server_proc {
    pid_t pid;
    int port;
    char data[512];
    char log[600]; /* when set, the server's stderr is appended to this file */
} server_proc;

static inline const char *fetalmon_bin(void)
{
    static char path[1024];
    const char *b = getenv("FM_BINARY_DIR");
    snprintf(path, sizeof path, "%s/fetalmon", b ? b : ".");
    return path;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Starts `fetalmon serve --data DATA --listen 127.0.0.1:0 [extra...]` and waits until /health
 * answers 200. extra is a NULL-terminated list of more arguments (may be NULL). */
static inline int server_start(server_proc *s, const char *const *extra)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    s->pid = fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that dies takes its server with it */
        dup2(pfd[1], 1);
        if (s->log[0]) {
            FILE *lf = fopen(s->log, "a");
            if (lf)
                dup2(fileno(lf), 2);
        }
        close(pfd[0]);
        close(pfd[1]);
        const char *argv[32] = {fetalmon_bin(), "serve",    "--data",
                                s->data,        "--listen", "127.0.0.1:0"};
        int n = 6;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[256] = "";
    s->port = 0;
    if (f && fgets(line, sizeof line, f)) {
        char *colon = strrchr(line, ':');
        if (colon)
            s->port = atoi(colon + 1);
    }
    if (f)
        fclose(f);
    if (s->port <= 0)
        return -1;
    double t0 = now_s();
    while (now_s() - t0 < 20) {
        http_resp r;
        if (http_get(s->port, "/health", NULL, &r) == 0 && r.status == 200) {
            http_resp_free(&r);
            return 0;
        }
        http_resp_free(&r);
        usleep(20000);
    }
    return -1;
}

/* Sends sig and waits for the exit; returns the exit status (or 128 + signal). */
static inline int server_stop(server_proc *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, sig);
    int st = 0;
    double t0 = now_s();
    while (waitpid(s->pid, &st, WNOHANG) == 0) {
        if (now_s() - t0 > 30) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            return -2;
        }
        usleep(10000);
    }
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs `fetalmon user ARGS...` with `password` (may be NULL) on stdin; returns the exit code.
 * stdout goes to out (may be NULL). */
static inline int run_user(const char *password, char *out, size_t out_cap, const char *const *args)
{
    int in[2], o[2];
    if (pipe(in) != 0 || pipe(o) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        close(in[0]);
        close(in[1]);
        close(o[0]);
        close(o[1]);
        const char *argv[32] = {fetalmon_bin(), "user"};
        int n = 2;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (password) {
        ssize_t w = write(in[1], password, strlen(password));
        w += write(in[1], "\n", 1);
        (void)w;
    }
    close(in[1]);
    size_t n = 0;
    char tmp[512];
    ssize_t k;
    while ((k = read(o[0], tmp, sizeof tmp)) > 0) {
        if (out && n + (size_t)k < out_cap) {
            memcpy(out + n, tmp, (size_t)k);
            n += (size_t)k;
        }
    }
    if (out && out_cap)
        out[n < out_cap ? n : out_cap - 1] = 0;
    close(o[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int make_temp_dir(char *out, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, cap, "%s/fm-%s-XXXXXX", t ? t : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

/* ---- accounts and sessions ---- */

/* POST /api/login: the HTTP status (-1 without an answer); on 200 the token goes to token (cap
 * bytes; token may be NULL). */
static inline int srv_login(int port, const char *name, const char *password, char *token,
                            size_t cap)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", name, password);
    http_resp r;
    int st = http_post_json(port, "/api/login", NULL, body, &r) == 0 ? r.status : -1;
    const char *t = jstr(r.json, "token");
    if (st == 200 && t && token)
        snprintf(token, cap, "%s", t);
    http_resp_free(&r);
    return st;
}

/* `fetalmon user add --data DATA --role ROLE --name NAME --password-stdin [more...]` with the
 * password on stdin; more is a NULL-terminated list of further arguments ("--clinician", "drbob",
 * "--due-date", ...) or NULL. Returns the exit code. */
static inline int srv_user_add(const char *data, const char *role, const char *name,
                               const char *password, const char *const *more)
{
    const char *args[28] = {"add",  "--data", data, "--role", role, "--name", name,
                            "--password-stdin"};
    int n = 8;
    for (int i = 0; more && more[i] && n < 27; i++)
        args[n++] = more[i];
    args[n] = NULL;
    return run_user(password, NULL, 0, args);
}

/* `fetalmon user device-token` of patient `name`: the token, without its newline, in out.
 * Returns the exit code. */
static inline int srv_device_token(const char *data, const char *name, char *out, size_t cap)
{
    const char *args[] = {"device-token", "--data", data, "--name", name, NULL};
    int rc = run_user(NULL, out, cap, args);
    out[strcspn(out, "\n")] = 0;
    return rc;
}

/* An account of a test: name, role, password, and for a patient the clinician whose care team
 * she is in (NULL otherwise); token, once signed in. */
typedef struct srv_account {
    const char *name, *role, *password, *clinician;
    char token[128];
} srv_account;

/* `fetalmon user add` of one account; a patient with a clinician gets `--clinician` and, when
 * due_date is not NULL, `--due-date due_date`. Returns the exit code. */
static inline int srv_account_add(const char *data, const srv_account *a, const char *due_date)
{
    const char *care[] = {"--clinician", a->clinician, due_date ? "--due-date" : NULL, due_date,
                          NULL};
    return srv_user_add(data, a->role, a->name, a->password, a->clinician ? care : NULL);
}

/* Every account of acc[0..n): first those without a clinician, then the patients who name one,
 * each group in table order. 0, or -1 at the first refused (said on stderr). */
static inline int srv_accounts_add(const char *data, const srv_account *acc, int n,
                                   const char *due_date)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++)
            if ((acc[i].clinician != NULL) == pass &&
                srv_account_add(data, &acc[i], due_date) != 0) {
                fprintf(stderr, "fetalmon user add %s failed\n", acc[i].name);
                return -1;
            }
    return 0;
}

/* The two care teams of the stream tests: clinicians drbob and drcarol, patients alice
 * (drbob's) and beth (drcarol's), each with the password NAME-password. 0, or -1. */
static inline int srv_add_care_teams(const char *data)
{
    static const srv_account acc[] = {
        {"drbob", "clinician", "drbob-password", NULL, ""},
        {"drcarol", "clinician", "drcarol-password", NULL, ""},
        {"alice", "patient", "alice-password", "drbob", ""},
        {"beth", "patient", "beth-password", "drcarol", ""},
    };
    return srv_accounts_add(data, acc, (int)(sizeof acc / sizeof acc[0]), NULL);
}

/* Signs every account of acc[0..n) in (its token): 0, or -1 at the first that does not get 200
 * (said on stderr). */
static inline int srv_login_all(int port, srv_account *acc, int n)
{
    for (int i = 0; i < n; i++)
        if (srv_login(port, acc[i].name, acc[i].password, acc[i].token, sizeof acc[i].token) !=
            200) {
            fprintf(stderr, "login %s failed\n", acc[i].name);
            return -1;
        }
    return 0;
}

/* A number of a JSON object, NAN when absent or not a number. */
static inline double jnum(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- recordings ---- */

/* The path of the FHRMA trace the upload tests send (FM_SOURCE_DIR/fixtures/traces/...). */
static inline void srv_fixture_path(char *out, size_t cap)
{
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(out, cap, "%s/fixtures/traces/fhrma_train01_20min.fhr", src ? src : ".");
}

/* POST /api/recordings QUERY (e.g. "?name=x.fhr&patient=alice") with body: the status (-1
 * without an answer); the new id into id (id_cap bytes; "" unless 201; id may be NULL); the
 * answer into out when out is not NULL (caller frees). */
static inline int srv_upload(int port, const char *token, const char *query, const void *body,
                             size_t len, char *id, size_t id_cap, http_resp *out)
{
    char path[512];
    snprintf(path, sizeof path, "/api/recordings%s", query);
    http_resp r;
    int st = http_req(port, "POST", path, token, body, len, &r) == 0 ? r.status : -1;
    const char *v = jstr(r.json, "id");
    if (id && id_cap)
        snprintf(id, id_cap, "%s", st == 201 && v ? v : "");
    if (out)
        *out = r;
    else
        http_resp_free(&r);
    return st;
}

/* Asks GET /api/recordings/ID every 50 ms until its status is "done" or "failed", at most 60 s:
 * 0 with that answer in out (caller frees), -1 otherwise (out freed). */
static inline int srv_wait_analysed(int port, const char *token, const char *id, http_resp *out)
{
    char path[128];
    snprintf(path, sizeof path, "/api/recordings/%s", id);
    double t0 = now_s();
    memset(out, 0, sizeof *out);
    while (now_s() - t0 < 60) {
        if (http_get(port, path, token, out) != 0)
            return -1;
        const char *st = jstr(out->json, "status");
        if (st && (!strcmp(st, "done") || !strcmp(st, "failed")))
            return 0;
        http_resp_free(out);
        usleep(50000);
    }
    return -1;
}

/* ---- live ingest: /ws/ingest, protocol fm-ingest (docs/api.md "Live ingest") ---- */

/* Connects and opens a stream of s16le at rate_hz with token; extra is more members of the open
 * message (",\"stream\":\"ID\"" resumes, ",\"patient\":\"NAME\"" names the patient) or NULL.
 * Returns the socket, with the stream id in id (32 bytes) and next_seq filled, or -1 (refused,
 * or no answer within 10 s). */
static inline int ingest_open_stream(int port, const char *token, int rate_hz, const char *extra,
                                     char *id, int *next_seq)
{
    int st;
    int fd = ws_connect(port, "/ws/ingest", "fm-ingest", &st);
    if (fd < 0)
        return -1;
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":%d%s}", token,
             rate_hz, extra ? extra : "");
    ws_send_text(fd, msg);
    cJSON *o = ws_wait_type(fd, "opened", NULL, 10000);
    if (!o) {
        close(fd);
        return -1;
    }
    snprintf(id, 32, "%s", jstr(o, "stream") ? jstr(o, "stream") : "");
    *next_seq = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "next_seq"));
    cJSON_Delete(o);
    return fd;
}

/* Sends frame seq: its u32 little-endian number, then n samples (s16 little-endian). */
static inline int ingest_send(int fd, uint32_t seq, const int16_t *pcm, size_t n)
{
    unsigned char *b = malloc(4 + 2 * n);
    if (!b)
        return -1;
    b[0] = (unsigned char)seq, b[1] = (unsigned char)(seq >> 8);
    b[2] = (unsigned char)(seq >> 16), b[3] = (unsigned char)(seq >> 24);
    for (size_t i = 0; i < n; i++) {
        b[4 + 2 * i] = (unsigned char)((uint16_t)pcm[i] & 0xff);
        b[5 + 2 * i] = (unsigned char)((uint16_t)pcm[i] >> 8);
    }
    int rc = ws_send_frame(fd, 2, b, 4 + 2 * n, 1);
    free(b);
    return rc;
}

/* Waits until an ack covers seq (each message within timeout_ms): 0, or -1. */
static inline int ingest_wait_ack(int fd, int seq, int timeout_ms)
{
    for (;;) {
        cJSON *a = ws_wait_type(fd, "ack", NULL, timeout_ms);
        if (!a)
            return -1;
        int got = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "seq"));
        cJSON_Delete(a);
        if (got >= seq)
            return 0;
    }
}

/* Waits up to 15 s for an ack covering seq (1) or an error (0, its code in err); -1 when the
 * connection closes or nothing comes. */
static inline int ingest_ack_or_error(int fd, uint32_t seq, char *err, size_t cap)
{
    double t0 = now_s();
    while (now_s() - t0 < 15) {
        char *m = NULL;
        size_t len;
        int op = ws_recv(fd, &m, &len, 15000);
        if (op < 0 || op == 8) {
            free(m);
            return -1;
        }
        cJSON *j = cJSON_Parse(m);
        free(m);
        const char *type = jstr(j, "type");
        int r = -2;
        if (type && !strcmp(type, "ack") &&
            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "seq")) >= seq)
            r = 1;
        else if (type && !strcmp(type, "error")) {
            snprintf(err, cap, "%s", jstr(j, "error") ? jstr(j, "error") : "?");
            r = 0;
        }
        cJSON_Delete(j);
        if (r != -2)
            return r;
    }
    return -1;
}

/* Sends {"type":"close"} and waits up to timeout_ms for "closed": 0 when it came. The socket
 * stays open (the caller closes it). */
static inline int ingest_close(int fd, int timeout_ms)
{
    ws_send_text(fd, "{\"type\":\"close\"}");
    cJSON *c = ws_wait_type(fd, "closed", NULL, timeout_ms);
    int ok = c != NULL;
    cJSON_Delete(c);
    return ok ? 0 : -1;
}

/* The test pattern of frame seq (n samples): deterministic, different in every frame, so the
 * WAV of a finished stream can be checked frame by frame (wav_holds_pattern). */
static inline void pattern_frame(uint32_t seq, int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)((seq * 131 + (uint32_t)i * 7) & 0x7fff);
}

/* Sends frame seq of the test pattern, n samples. */
static inline int pattern_send(int fd, uint32_t seq, size_t n)
{
    int16_t *pcm = malloc(n * sizeof *pcm);
    if (!pcm)
        return -1;
    pattern_frame(seq, pcm, n);
    int rc = ingest_send(fd, seq, pcm, n);
    free(pcm);
    return rc;
}

/* 1 when DATA/recordings/ID.wav holds exactly frames 0..n_frames-1 of the test pattern (each
 * frame_samples long) after its 44-byte header, in order. */
static inline int wav_holds_pattern(const char *data, const char *id, int n_frames,
                                    size_t frame_samples)
{
    char path[700];
    snprintf(path, sizeof path, "%s/recordings/%s.wav", data, id);
    size_t len;
    unsigned char *w = (unsigned char *)read_whole(path, &len);
    if (!w || len != 44 + (size_t)n_frames * 2 * frame_samples || memcmp(w, "RIFF", 4)) {
        free(w);
        return 0;
    }
    int16_t *pcm = malloc(frame_samples * sizeof *pcm);
    int ok = pcm != NULL;
    for (int s = 0; s < n_frames && ok; s++) {
        pattern_frame((uint32_t)s, pcm, frame_samples);
        const unsigned char *f = w + 44 + (size_t)s * 2 * frame_samples;
        for (size_t i = 0; i < frame_samples && ok; i++)
            ok = f[2 * i] == ((uint16_t)pcm[i] & 0xff) && f[2 * i + 1] == (uint16_t)pcm[i] >> 8;
    }
    free(pcm);
    free(w);
    return ok;
}

/* ---- live feed: /ws/live, protocol fm-live (docs/api.md "Live feed") ---- */

/* Connects and signs in with token: the socket once "hello" came within timeout_ms; -1 when
 * the upgrade failed, -2 when the sign-in was refused or not answered. */
static inline int live_connect(int port, const char *token, int timeout_ms)
{
    int st;
    int fd = ws_connect(port, "/ws/live", "fm-live", &st);
    if (fd < 0)
        return -1;
    char msg[256];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"token\":\"%s\"}", token);
    ws_send_text(fd, msg);
    cJSON *hello = ws_wait_type(fd, "hello", NULL, timeout_ms);
    if (!hello) {
        close(fd);
        return -2;
    }
    cJSON_Delete(hello);
    return fd;
}

/* Subscribes to patient: 0 once "subscribed" came for her (within 10 s), else -1 (a refusal is
 * an error message, skipped while waiting). */
static inline int live_subscribe(int fd, const char *patient)
{
    char msg[128];
    snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"patient\":\"%s\"}", patient);
    ws_send_text(fd, msg);
    cJSON *j = ws_wait_type(fd, "subscribed", NULL, 10000);
    int ok = j && jstr(j, "patient") && !strcmp(jstr(j, "patient"), patient);
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

#endif
