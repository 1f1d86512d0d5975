/* Fuzz target: the JSON HTTP API as a worker runs it (fm_api_handle: routing, authentication,
 * access rules, every JSON request body: login, readings, alert acknowledgement, uploads ...)
 * against a real SQLite store in a temporary data directory (on /dev/shm when there is one).
 *
 * Input: byte 0 = who asks (0 nobody, 1 the patient, 2 her clinician, 3 an admin, 4 her device
 * token, 5 another patient, 6 a clinician off her care team, 7 the patient by cookie only),
 * byte 1 = method (GET, POST, DELETE, other), then '\n'-separated fields: path, ?patient=,
 * ?name=, ?limit=, Range header, and the rest is the body (POST /api/recordings: the uploaded
 * file). The store holds one recording 00112233aabbccdd (the patient's, with a file) and alert 7
 * on it, so seeds can name them. Logins are rate limited to about one Argon2id check a second
 * (login_window_s = 1) so the fuzzer spends its time in the parsers, not in the hash. Every
 * FUZZ_RESET inputs the data directory is made afresh, so the store does not grow without end
 * (uploads, readings and the audit log would slow every input down). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "store.h"

#define REC_ID "00112233aabbccdd"
#define ALERT_ID 7
#define FUZZ_RESET 4000
enum { WHO_N = 8 };

static char g_dir[256];
static fm_store *g_store;
static fm_config g_cfg;
static fm_api g_api;
static char g_tok[WHO_N][FM_TOKEN_MAX];
static int64_t g_uid[WHO_N]; /* user of each principal */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void)
{
    if (g_store)
        fm_store_close(g_store);
    g_store = NULL;
    if (g_api.login_rl)
        fm_ratelimit_destroy(g_api.login_rl);
    g_api.login_rl = NULL;
    if (g_dir[0])
        nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_dir[0] = 0;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_api: setup failed: %s (%s)\n", what, g_store ? fm_store_errmsg(g_store) : "");
    abort();
}

static int64_t add_user(const char *name, fm_role role, const char *hash)
{
    fm_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.display_name, sizeof u.display_name, "Fuzz %s", name);
    u.role = role;
    u.created_ms = fm_now_ms();
    int64_t id = 0;
    if (fm_store_user_add(g_store, &u, hash, &id) != FM_SVC_OK)
        die("user");
    if (role == FM_ROLE_PATIENT) {
        fm_patient p;
        memset(&p, 0, sizeof p);
        p.user_id = id;
        snprintf(p.name, sizeof p.name, "%s", name);
        snprintf(p.display_name, sizeof p.display_name, "Fuzz %s", name);
        snprintf(p.hospital_id, sizeof p.hospital_id, "H-%s", name);
        snprintf(p.due_date, sizeof p.due_date, "2027-03-01");
        if (fm_store_patient_put(g_store, &p) != FM_SVC_OK)
            die("patient");
    }
    return id;
}

static void mint(int who, fm_token_kind kind, int64_t patient_id)
{
    uint8_t h[32];
    fm_token_row t = {.user_id = g_uid[who], .kind = kind, .patient_id = patient_id};
    t.created_ms = fm_now_ms();
    t.expires_ms = t.created_ms + 365LL * 24 * 3600 * 1000;
    if (fm_auth_token_new(kind, g_tok[who], h) != FM_SVC_OK ||
        fm_store_token_add(g_store, h, &t) != FM_SVC_OK)
        die("token");
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/fm-fuzz-api-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(g_dir))
        die("mkdtemp");
    static int registered;
    if (!registered++)
        atexit(cleanup);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/recordings", g_dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/incoming", g_dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/analyses", g_dir);
    mkdir(sub, 0700);
    char err[256];
    if (fm_auth_init() != FM_SVC_OK || fm_store_open(g_dir, &g_store, err, sizeof err) != FM_SVC_OK)
        die("store");
    static char hash[FM_PWHASH_MAX]; /* one Argon2id hash for every reset */
    if (!hash[0] && fm_auth_hash_password("fuzz-password", hash) != FM_SVC_OK)
        die("hash");
    int64_t alice = add_user("alice", FM_ROLE_PATIENT, hash);
    int64_t drbob = add_user("drbob", FM_ROLE_CLINICIAN, hash);
    int64_t root = add_user("root", FM_ROLE_ADMIN, hash);
    int64_t carol = add_user("carol", FM_ROLE_PATIENT, hash);
    int64_t drx = add_user("drx", FM_ROLE_CLINICIAN, hash);
    if (fm_store_care_link(g_store, alice, drbob) != FM_SVC_OK ||
        fm_store_care_link(g_store, carol, drx) != FM_SVC_OK)
        die("care");
    g_uid[1] = g_uid[4] = g_uid[7] = alice;
    g_uid[2] = drbob;
    g_uid[3] = root;
    g_uid[5] = carol;
    g_uid[6] = drx;
    for (int w = 1; w < WHO_N; w++)
        mint(w, w == 4 ? FM_TOKEN_DEVICE : FM_TOKEN_SESSION, w == 4 ? alice : 0);

    fm_recording r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, REC_ID);
    r.patient_id = alice;
    r.uploaded_by = alice;
    r.created_ms = r.updated_ms = fm_now_ms();
    snprintf(r.kind, sizeof r.kind, "upload");
    snprintf(r.source_name, sizeof r.source_name, "t.csv");
    snprintf(r.file, sizeof r.file, "recordings/" REC_ID ".csv");
    static const char csv[] = "t_s,fhr_bpm\n0,140\n0.25,141\n0.5,139\n0.75,140\n";
    r.size_bytes = (int64_t)sizeof csv - 1;
    r.status = FM_REC_QUEUED;
    snprintf(sub, sizeof sub, "%s/%s", g_dir, r.file);
    FILE *f = fopen(sub, "wb");
    if (!f || fwrite(csv, 1, sizeof csv - 1, f) != sizeof csv - 1 || fclose(f) != 0)
        die("recording file");
    if (fm_store_recording_add(g_store, &r) != FM_SVC_OK)
        die("recording");
    fm_alert a;
    memset(&a, 0, sizeof a);
    a.id = ALERT_ID;
    a.patient_id = alice;
    snprintf(a.recording_id, sizeof a.recording_id, REC_ID);
    snprintf(a.rule, sizeof a.rule, "bradycardia");
    snprintf(a.priority, sizeof a.priority, "high");
    snprintf(a.state, sizeof a.state, "raised");
    a.t_from_s = 10;
    a.t_to_s = 200;
    a.created_ms = fm_now_ms();
    if (fm_store_alert_add(g_store, &a) != FM_SVC_OK)
        die("alert");

    fm_config_defaults(&g_cfg);
    snprintf(g_cfg.data_dir, sizeof g_cfg.data_dir, "%s", g_dir);
    g_cfg.login_window_s = 1;
    g_cfg.login_max_failures = 1;
    g_cfg.login_ip_max_failures = 1;
    g_api.cfg = &g_cfg;
    g_api.login_rl = fm_ratelimit_create(g_cfg.login_window_s);
    if (!g_api.login_rl)
        die("ratelimit");
}

/* Next '\n'-terminated field of the input into dst (truncated to cap - 1). */
static const uint8_t *field(const uint8_t *p, const uint8_t *end, char *dst, size_t cap)
{
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *stop = nl ? nl : end;
    size_t n = (size_t)(stop - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
    return nl ? nl + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static long n_inputs;
    if (g_store && ++n_inputs % FUZZ_RESET == 0)
        cleanup();
    if (!g_store)
        setup();
    if (size < 2)
        return 0;
    fm_http_req req;
    memset(&req, 0, sizeof req);
    int who = data[0] % WHO_N;
    static const fm_method methods[] = {FM_M_GET, FM_M_POST, FM_M_DELETE, FM_M_OTHER};
    req.method = methods[data[1] % 4];
    const uint8_t *p = data + 2, *end = data + size;
    p = field(p, end, req.path, sizeof req.path);
    p = field(p, end, req.q_patient, sizeof req.q_patient);
    p = field(p, end, req.q_name, sizeof req.q_name);
    p = field(p, end, req.q_limit, sizeof req.q_limit);
    p = field(p, end, req.range, sizeof req.range);
    snprintf(req.peer, sizeof req.peer, "127.0.0.1");
    if (who == 7)
        snprintf(req.cookie_token, sizeof req.cookie_token, "%s", g_tok[who]);
    else if (who)
        snprintf(req.authorization, sizeof req.authorization, "Bearer %s", g_tok[who]);
    size_t body_len = (size_t)(end - p);
    int upload = req.method == FM_M_POST && !strcmp(req.path, "/api/recordings");
    if (upload) { /* as http.c streams it: a temp file in incoming/ */
        snprintf(req.upload_tmp, sizeof req.upload_tmp, "%s/incoming/fuzz.part", g_dir);
        int fd = open(req.upload_tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, p, body_len) != (ssize_t)body_len)
            abort();
        close(fd);
        req.upload_bytes = (int64_t)body_len;
    } else if (req.method == FM_M_POST) { /* http.c: body NUL-terminated, body_len bytes */
        req.body = malloc(body_len + 1);
        memcpy(req.body, p, body_len);
        req.body[body_len] = 0;
        req.body_len = body_len;
    }
    fm_http_resp resp;
    fm_api_handle(&g_api, g_store, &req, &resp);
    /* Every answer is a status and, for JSON, a body that is JSON (never half written). */
    if (resp.status < 200 || resp.status > 599 || (!resp.has_file && !resp.body))
        abort();
    if (resp.has_file && (resp.file_off < 0 || resp.len > (size_t)1 << 30))
        abort();
    fm_http_resp_free(&resp);
    free(req.body);
    if (upload)
        unlink(req.upload_tmp);
    /* A logout revoked the principal's token: give it a fresh one for the next inputs. */
    if (who && req.method == FM_M_POST && !strcmp(req.path, "/api/logout"))
        mint(who, who == 4 ? FM_TOKEN_DEVICE : FM_TOKEN_SESSION, who == 4 ? g_uid[4] : 0);
    return 0;
}
