/* End-to-end tests of resumable uploads (docs/api.md "Resumable uploads") over real sockets:
 * a recording sent in uneven pieces arrives byte for byte and is analysed; a piece at the wrong
 * offset is refused with the server's offset; only the owner sees an upload; cancel; refused
 * kinds, sizes and content; SIGKILL in the middle of a piece, then a resume from the
 * acknowledged offset gives a byte-identical file; an upload left without progress raises the
 * "upload_incomplete" alert and later expires. A browser form upload (multipart/form-data)
 * whose delimiters are split across network reads stores exactly the file part. */
#include <netinet/tcp.h>
#include <sys/stat.h>

#include "../check.h"
#include "srvtest.h"

static server_proc srv;
static char fixture[1024];
static char *data; /* the fixture's bytes */
static size_t data_len;

static srv_account acc[] = {
    {"drbob", "clinician", "drbob-password", NULL, ""},
    {"drcarol", "clinician", "drcarol-password", NULL, ""},
    {"alice", "patient", "alice-password", "drbob", ""},
    {"beth", "patient", "beth-password", "drcarol", ""},
};
enum { DRBOB, DRCAROL, ALICE, BETH, N_ACC };
static char dev_alice[128];

static int login_all(void)
{
    return srv_login_all(srv.port, acc, N_ACC);
}

/* Opens an upload; returns the status, the id in id (when 201). */
static int open_upload(const char *token, const char *query, const char *json, char *id,
                       size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "/api/uploads%s", query ? query : "");
    http_resp r;
    int st = http_post_json(srv.port, path, token, json, &r) == 0 ? r.status : -1;
    if (id)
        snprintf(id, cap, "%s", st == 201 && jstr(r.json, "upload") ? jstr(r.json, "upload") : "");
    if (st == 201) {
        CHECK(jnum(r.json, "offset") == 0);
    }
    http_resp_free(&r);
    return st;
}

/* Sends one piece; the response is left in r. */
static int put_piece(const char *token, const char *id, int64_t offset, const void *buf,
                     size_t len, http_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%lld", id, (long long)offset);
    return http_req(srv.port, "POST", path, token, buf, len, r) == 0 ? r->status : -1;
}

static int get_upload(const char *token, const char *id, http_resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/api/uploads/%s", id);
    return http_get(srv.port, path, token, r) == 0 ? r->status : -1;
}

static int wait_done(const char *token, const char *rec_id, http_resp *out)
{
    return srv_wait_analysed(srv.port, token, rec_id, out);
}

static int file_equals_fixture(const char *rec_id)
{
    char file[700];
    snprintf(file, sizeof file, "%s/recordings/%s.fhr", srv.data, rec_id);
    size_t n;
    char *stored = read_whole(file, &n);
    int same = stored && n == data_len && !memcmp(stored, data, n);
    free(stored);
    return same;
}

static long part_size(const char *id)
{
    char file[700];
    snprintf(file, sizeof file, "%s/uploads/%s.part", srv.data, id);
    struct stat st;
    return stat(file, &st) == 0 ? (long)st.st_size : -1;
}

static char open_json[128];

static void pieces_arrive_byte_for_byte_and_are_analysed(void)
{
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, id, sizeof id) == 201);
    /* Uneven pieces, the first smaller than the content check's look at the head. */
    const size_t cuts[] = {3, 1000, 17, 9000, 5000};
    size_t off = 0;
    for (size_t i = 0; i <= sizeof cuts / sizeof cuts[0] && off < data_len; i++) {
        size_t n = i < sizeof cuts / sizeof cuts[0] ? cuts[i] : data_len - off;
        if (off + n > data_len)
            n = data_len - off;
        http_resp r;
        CHECK(put_piece(acc[ALICE].token, id, (int64_t)off, data + off, n, &r) == 200);
        off += n;
        CHECKF(jnum(r.json, "offset") == (double)off, "%s", r.body ? r.body : "");
        CHECK(jnum(r.json, "size_bytes") == (double)data_len);
        if (off < data_len) {
            CHECK(jstr(r.json, "id") == NULL);
            CHECK(part_size(id) == (long)off);
        } else {
            CHECK(jstr(r.json, "id") != NULL);
            CHECK(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "queued"));
        }
        if (off == data_len) {
            char rec[64];
            snprintf(rec, sizeof rec, "%s", jstr(r.json, "id") ? jstr(r.json, "id") : "");
            http_resp_free(&r);
            CHECK(get_upload(acc[ALICE].token, id, &r) == 200);
            CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "done"));
            CHECK(jstr(r.json, "id") && !strcmp(jstr(r.json, "id"), rec));
            http_resp_free(&r);
            CHECK(part_size(id) == -1);
            CHECK(file_equals_fixture(rec));
            CHECK(wait_done(acc[ALICE].token, rec, &r) == 0);
            CHECKF(jstr(r.json, "status") && !strcmp(jstr(r.json, "status"), "done"), "%s",
                   r.body ? r.body : "");
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(r.json, "analysis");
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(an, "fhr")) == 4800);
            /* Her clinician sees the recording like any upload. */
            http_resp_free(&r);
            char path[128];
            snprintf(path, sizeof path, "/api/recordings/%s", rec);
            CHECK(http_get(srv.port, path, acc[DRBOB].token, &r) == 0 && r.status == 200);
        }
        http_resp_free(&r);
    }
    /* A finished upload takes no more bytes. */
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, (int64_t)data_len, "x", 1, &r) == 409);
    http_resp_free(&r);
}

static void a_piece_at_the_wrong_offset_gets_409_with_the_servers_offset(void)
{
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, id, sizeof id) == 201);
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, 0, data, 5000, &r) == 200);
    http_resp_free(&r);
    /* Ahead of the server, behind it (a resend of acknowledged bytes), and no offset at all. */
    const int64_t wrong[] = {6000, 0, 4999};
    for (size_t i = 0; i < 3; i++) {
        CHECK(put_piece(acc[ALICE].token, id, wrong[i], data + wrong[i], 100, &r) == 409);
        CHECK(jstr(r.json, "error") && !strcmp(jstr(r.json, "error"), "offset_mismatch"));
        CHECK(jstr(r.json, "message") != NULL);
        CHECK(jnum(r.json, "offset") == 5000);
        http_resp_free(&r);
    }
    char path[128];
    snprintf(path, sizeof path, "/api/uploads/%s", id);
    CHECK(http_req(srv.port, "POST", path, acc[ALICE].token, "abc", 3, &r) == 0 &&
          r.status == 400);
    http_resp_free(&r);
    snprintf(path, sizeof path, "/api/uploads/%s?offset=-1", id);
    CHECK(http_req(srv.port, "POST", path, acc[ALICE].token, "abc", 3, &r) == 0 &&
          r.status == 400);
    http_resp_free(&r);
    CHECK(part_size(id) == 5000);
    /* Past the announced size: 413, nothing written. */
    char *big = calloc(1, data_len);
    CHECK(put_piece(acc[ALICE].token, id, 5000, big, data_len, &r) == 413);
    free(big);
    http_resp_free(&r);
    CHECK(get_upload(acc[ALICE].token, id, &r) == 200 && jnum(r.json, "offset") == 5000);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "open"));
    http_resp_free(&r);
    CHECK(part_size(id) == 5000);
    /* The right offset still works. */
    CHECK(put_piece(acc[ALICE].token, id, 5000, data + 5000, 100, &r) == 200);
    CHECK(jnum(r.json, "offset") == 5100);
    http_resp_free(&r);
}

static void only_the_owner_sees_an_upload(void)
{
    char by_alice[64], by_bob[64], by_dev[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, by_alice, sizeof by_alice) == 201);
    CHECK(open_upload(acc[DRBOB].token, "?patient=alice", open_json, by_bob, sizeof by_bob) ==
          201);
    CHECK(open_upload(dev_alice, NULL, open_json, by_dev, sizeof by_dev) == 201);
    http_resp r;
    /* alice, her device and drbob (who opened it) see the ones they own. */
    CHECK(get_upload(acc[ALICE].token, by_alice, &r) == 200);
    http_resp_free(&r);
    CHECK(get_upload(dev_alice, by_alice, &r) == 200);
    http_resp_free(&r);
    CHECK(get_upload(acc[ALICE].token, by_dev, &r) == 200);
    http_resp_free(&r);
    CHECK(get_upload(acc[DRBOB].token, by_bob, &r) == 200);
    http_resp_free(&r);
    CHECK(get_upload(acc[ALICE].token, by_bob, &r) == 200);
    http_resp_free(&r);
    /* Another patient, another clinician, and drbob for an upload he did not open: 404 for
     * every method, and nothing moved. */
    const char *others[] = {acc[BETH].token, acc[DRCAROL].token, acc[DRBOB].token};
    for (int i = 0; i < 3; i++) {
        CHECK(get_upload(others[i], by_alice, &r) == 404);
        CHECK(jstr(r.json, "upload") == NULL);
        http_resp_free(&r);
        CHECK(put_piece(others[i], by_alice, 0, data, 100, &r) == 404);
        http_resp_free(&r);
        char path[128];
        snprintf(path, sizeof path, "/api/uploads/%s", by_alice);
        CHECK(http_req(srv.port, "DELETE", path, others[i], NULL, 0, &r) == 0 && r.status == 404);
        http_resp_free(&r);
    }
    CHECK(get_upload(acc[ALICE].token, by_alice, &r) == 200 && jnum(r.json, "offset") == 0);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "open"));
    http_resp_free(&r);
    /* Unknown and malformed ids are 404 too; no token is 401. */
    CHECK(get_upload(acc[ALICE].token, "0123456789abcdef", &r) == 404);
    http_resp_free(&r);
    CHECK(get_upload(acc[ALICE].token, "..%2f..%2fetc", &r) == 404);
    http_resp_free(&r);
    CHECK(get_upload(NULL, by_alice, &r) == 401);
    http_resp_free(&r);
    /* beth cannot open one for alice, nor drcarol (not on her care team). */
    CHECK(open_upload(acc[BETH].token, "?patient=alice", open_json, NULL, 0) == 404);
    CHECK(open_upload(acc[DRCAROL].token, "?patient=alice", open_json, NULL, 0) == 404);
}

static void an_upload_can_be_cancelled(void)
{
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, id, sizeof id) == 201);
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, 0, data, 1000, &r) == 200);
    http_resp_free(&r);
    CHECK(part_size(id) == 1000);
    char path[128];
    snprintf(path, sizeof path, "/api/uploads/%s", id);
    CHECK(http_req(srv.port, "DELETE", path, acc[ALICE].token, NULL, 0, &r) == 0 &&
          r.status == 200);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "cancelled"));
    http_resp_free(&r);
    CHECK(part_size(id) == -1);
    CHECK(get_upload(acc[ALICE].token, id, &r) == 200);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "cancelled"));
    http_resp_free(&r);
    CHECK(put_piece(acc[ALICE].token, id, 1000, data + 1000, 10, &r) == 409);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "cancelled"));
    http_resp_free(&r);
    /* Cancelling twice is harmless. */
    CHECK(http_req(srv.port, "DELETE", path, acc[ALICE].token, NULL, 0, &r) == 0 &&
          r.status == 200);
    http_resp_free(&r);
}

static void refused_opens_and_refused_content(void)
{
    /* The test server's max_upload_bytes is 1M. */
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"a.wav\",\"size_bytes\":2000000}", NULL,
                      0) == 413);
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"a.exe\",\"size_bytes\":10}", NULL, 0) ==
          415);
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"a.wav\"}", NULL, 0) == 400);
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"a.wav\",\"size_bytes\":0}", NULL, 0) ==
          400);
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"a.wav\",\"size_bytes\":1.5}", NULL,
                      0) == 400);
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":7,\"size_bytes\":10}", NULL, 0) == 400);
    CHECK(open_upload(acc[ALICE].token, NULL, "[1,2", NULL, 0) == 400);
    CHECK(open_upload(acc[DRBOB].token, NULL, "{\"name\":\"a.wav\",\"size_bytes\":10}", NULL, 0) ==
          400); /* a clinician names the patient */
    CHECK(open_upload(NULL, NULL, "{\"name\":\"a.wav\",\"size_bytes\":10}", NULL, 0) == 401);
    /* A .wav whose bytes are not RIFF: 415 at the last piece, and the upload is gone. */
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, "{\"name\":\"fake.wav\",\"size_bytes\":8}", id,
                      sizeof id) == 201);
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, 0, "NOTR", 4, &r) == 200);
    http_resp_free(&r);
    CHECK(put_piece(acc[ALICE].token, id, 4, "IFF!", 4, &r) == 415);
    CHECK(jstr(r.json, "error") && !strcmp(jstr(r.json, "error"), "bad_content"));
    http_resp_free(&r);
    CHECK(get_upload(acc[ALICE].token, id, &r) == 404);
    http_resp_free(&r);
    CHECK(part_size(id) == -1);
}

/* Sends the headers of a piece of `total` bytes and only `sent` of them. */
static int start_partial_piece(const char *id, int64_t offset, size_t total, size_t sent)
{
    int fd = tcp_connect(srv.port, 10);
    if (fd < 0)
        return -1;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /api/uploads/%s?offset=%lld HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                     id, (long long)offset, acc[ALICE].token, total);
    send_all(fd, head, (size_t)n);
    send_all(fd, data + offset, sent);
    return fd;
}

/* POST /api/recordings with a multipart body sent in pieces cut at `cuts` (each its own TCP
 * segment, apart in time so the server reads them separately). */
static int post_form(const char *ctype, const char *body, size_t len, const size_t *cuts,
                     size_t n_cuts, http_resp *r)
{
    int fd = tcp_connect(srv.port, 30);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /api/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     acc[ALICE].token, ctype, len);
    int rc = send_all(fd, head, (size_t)n);
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts && rc == 0; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        rc = send_all(fd, body + at, end - at);
        at = end;
        usleep(30000);
    }
    if (rc == 0)
        rc = http_read(fd, r);
    close(fd);
    return rc == 0 ? r->status : -1;
}

static void a_browser_form_upload_stores_exactly_the_file(void)
{
    const char *b = "----formBoundary7MA4YWxkTrZu0gW";
    size_t cap = data_len + 1024, len = 0;
    char *body = malloc(cap);
    len += (size_t)snprintf(body, cap,
                            "--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfrom "
                            "home\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                            "filename=\"evening.fhr\"\r\nContent-Type: application/octet-stream"
                            "\r\n\r\n",
                            b, b);
    size_t file_at = len;
    memcpy(body + len, data, data_len);
    len += data_len;
    size_t tail_at = len;
    len += (size_t)snprintf(body + len, cap - len, "\r\n--%s--\r\n", b);
    /* Cuts inside the first delimiter, inside the file part's headers, in the file, and three
     * inside the closing delimiter (after its CR, after "--", in the boundary). */
    char ctype[128];
    snprintf(ctype, sizeof ctype, "multipart/form-data; boundary=%s", b);
    const size_t cuts[] = {5, 60, file_at - 3, file_at + 1000, tail_at + 1, tail_at + 4,
                           tail_at + 15};
    http_resp r;
    CHECK(post_form(ctype, body, len, cuts, sizeof cuts / sizeof cuts[0], &r) == 201);
    const char *id = jstr(r.json, "id");
    CHECKF(id != NULL, "%s", r.body ? r.body : "");
    CHECK(jnum(r.json, "size_bytes") == (double)data_len);
    if (id) {
        CHECK(file_equals_fixture(id));
        http_resp d;
        CHECK(wait_done(acc[ALICE].token, id, &d) == 0);
        CHECK(jstr(d.json, "status") && !strcmp(jstr(d.json, "status"), "done"));
        CHECK(jstr(d.json, "source_name") && !strcmp(jstr(d.json, "source_name"), "evening.fhr"));
        http_resp_free(&d);
    }
    http_resp_free(&r);
    /* Truncated (no closing delimiter), no file part, no boundary: 400, nothing stored. */
    CHECK(post_form(ctype, body, tail_at + 4, NULL, 0, &r) == 400);
    http_resp_free(&r);
    char nofile[256];
    int n = snprintf(nofile, sizeof nofile,
                     "--%s\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--%s--\r\n",
                     b, b);
    CHECK(post_form(ctype, nofile, (size_t)n, NULL, 0, &r) == 400);
    http_resp_free(&r);
    CHECK(post_form("multipart/form-data", nofile, (size_t)n, NULL, 0, &r) == 400);
    http_resp_free(&r);
    free(body);
}

static const char *const base_args[] = {"--set", "max_upload_bytes=1M", NULL};

static void sigkill_mid_upload_then_resume_from_the_acknowledged_offset(void)
{
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, id, sizeof id) == 201);
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, 0, data, 7000, &r) == 200);
    http_resp_free(&r);
    CHECK(put_piece(acc[ALICE].token, id, 7000, data + 7000, 3000, &r) == 200);
    http_resp_free(&r);
    /* A third piece half-way through its body when the server dies. */
    int fd = start_partial_piece(id, 10000, 15000, 6000);
    CHECK(fd >= 0);
    usleep(200000);
    CHECK(server_stop(&srv, SIGKILL) == 128 + SIGKILL);
    if (fd >= 0)
        close(fd);
    /* Bytes written past the offset and never acknowledged (as a crash between the fdatasync
     * and the commit leaves them): they must not survive the restart. */
    char part[700];
    snprintf(part, sizeof part, "%s/uploads/%s.part", srv.data, id);
    FILE *f = fopen(part, "ab");
    CHECK(f != NULL);
    if (f) {
        fwrite("JUNKJUNKJUNK", 1, 12, f);
        fclose(f);
    }
    CHECK(part_size(id) == 10012);

    CHECK(server_start(&srv, base_args) == 0);
    CHECK(login_all() == 0);
    CHECK(part_size(id) == 10000);
    CHECK(get_upload(acc[ALICE].token, id, &r) == 200);
    CHECK(jnum(r.json, "offset") == 10000);
    CHECK(jstr(r.json, "state") && !strcmp(jstr(r.json, "state"), "open"));
    http_resp_free(&r);
    /* The client resumes where the server says. */
    CHECK(put_piece(acc[ALICE].token, id, 10000, data + 10000, data_len - 10000, &r) == 200);
    const char *rec = jstr(r.json, "id");
    CHECK(rec != NULL);
    if (rec) {
        CHECK(file_equals_fixture(rec));
        http_resp d;
        CHECK(wait_done(acc[ALICE].token, rec, &d) == 0);
        CHECK(jstr(d.json, "status") && !strcmp(jstr(d.json, "status"), "done"));
        http_resp_free(&d);
    }
    http_resp_free(&r);
}

static void an_idle_upload_raises_upload_incomplete_then_expires(void)
{
    /* Restart with short timers: incomplete after 1 s without progress, expired after 5 s. */
    CHECK(server_stop(&srv, SIGTERM) == 0);
    const char *args[] = {"--set", "max_upload_bytes=1M", "--set", "upload_incomplete_s=1",
                          "--set", "upload_expire_s=5", NULL};
    CHECK(server_start(&srv, args) == 0);
    CHECK(login_all() == 0);
    char id[64];
    CHECK(open_upload(acc[ALICE].token, NULL, open_json, id, sizeof id) == 201);
    http_resp r;
    CHECK(put_piece(acc[ALICE].token, id, 0, data, 1000, &r) == 200);
    http_resp_free(&r);
    int seen = 0;
    double t0 = now_s();
    while (!seen && now_s() - t0 < 4) {
        usleep(200000);
        CHECK(http_get(srv.port, "/api/patients/alice/alerts", acc[DRBOB].token, &r) == 0);
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(r.json, "alerts"))
        {
            const char *rule = jstr(a, "rule"), *rec = jstr(a, "recording");
            seen |= rule && rec && !strcmp(rule, "upload_incomplete") && !strcmp(rec, id);
        }
        http_resp_free(&r);
    }
    CHECKF(seen, "no upload_incomplete alert after %.1f s", now_s() - t0);
    printf("     upload_incomplete raised after %.1f s idle\n", now_s() - t0);
    /* No progress for upload_expire_s: deleted, and it says so. */
    const char *st = NULL;
    t0 = now_s();
    do {
        usleep(250000);
        http_resp_free(&r);
        CHECK(get_upload(acc[ALICE].token, id, &r) == 200);
        st = jstr(r.json, "state");
    } while (st && !strcmp(st, "open") && now_s() - t0 < 10);
    CHECKF(st && !strcmp(st, "expired"), "%s", r.body ? r.body : "");
    http_resp_free(&r);
    CHECK(part_size(id) == -1);
    CHECK(put_piece(acc[ALICE].token, id, 1000, data + 1000, 10, &r) == 409);
    http_resp_free(&r);
}

int main(void)
{
    srv_fixture_path(fixture, sizeof fixture);
    data = read_whole(fixture, &data_len);
    if (!data || make_temp_dir(srv.data, sizeof srv.data, "upload") != 0) {
        fprintf(stderr, "setup failed (fixture %s)\n", fixture);
        return 1;
    }
    snprintf(open_json, sizeof open_json, "{\"name\":\"home.fhr\",\"size_bytes\":%zu}", data_len);
    if (srv_accounts_add(srv.data, acc, N_ACC, NULL) != 0)
        return 1;
    srv_device_token(srv.data, "alice", dev_alice, sizeof dev_alice);
    snprintf(srv.log, sizeof srv.log, "%s/server.log", srv.data);
    if (server_start(&srv, base_args) != 0 || login_all() != 0) {
        fprintf(stderr, "fetalmon serve did not start\n");
        server_stop(&srv, SIGKILL);
        return 1;
    }
    RUN(pieces_arrive_byte_for_byte_and_are_analysed);
    RUN(a_piece_at_the_wrong_offset_gets_409_with_the_servers_offset);
    RUN(only_the_owner_sees_an_upload);
    RUN(an_upload_can_be_cancelled);
    RUN(refused_opens_and_refused_content);
    RUN(a_browser_form_upload_stores_exactly_the_file);
    RUN(sigkill_mid_upload_then_resume_from_the_acknowledged_offset);
    RUN(an_idle_upload_raises_upload_incomplete_then_expires);
    CHECK(server_stop(&srv, SIGTERM) == 0);
    free(data);
    rm_tree(srv.data);
    return CHECK_DONE();
}
