/* Durable files and the data directory layout. See files.h. */
#include "files.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static fm_svc_status mkdir_one(const char *p, char *err, size_t err_len)
{
    if (mkdir(p, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            return FM_SVC_OK;
    }
    snprintf(err, err_len, "cannot create directory %s: %s", p, strerror(errno));
    return FM_SVC_IO;
}

fm_svc_status fm_datadir_prepare(const char *data_dir, char *err, size_t err_len)
{
    static const char *const sub[] = {"incoming", "recordings", "analyses", "uploads", "ingest"};
    fm_svc_status rc = mkdir_one(data_dir, err, err_len);
    for (size_t i = 0; rc == FM_SVC_OK && i < sizeof sub / sizeof sub[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", data_dir, sub[i]);
        rc = mkdir_one(p, err, err_len);
    }
    return rc;
}

void fm_datadir_clean_incoming(const char *data_dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/incoming", data_dir);
    DIR *d = opendir(p);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".part")) {
            char f[4400];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            unlink(f);
        }
    }
    closedir(d);
}

fm_svc_status fm_dir_fsync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return FM_SVC_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? FM_SVC_OK : FM_SVC_IO;
}

fm_svc_status fm_file_commit(const char *tmp, const char *dst)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FM_SVC_IO;
    int rc = fm_fault_hit(strstr(dst, "/recordings/") ? "fsync_recording" : "fsync") ? -1
                                                                                     : fsync(fd);
    close(fd);
    if (rc != 0 || rename(tmp, dst) != 0)
        return FM_SVC_IO;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dst);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    return fm_dir_fsync(dir);
}

void fm_random_id(char out[17])
{
    uint8_t r[8];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(out, 17, r, sizeof r);
}

void fm_safe_name(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (cap > 61)
        cap = 61;
    for (const char *p = in ? in : ""; *p && n + 1 < cap; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && n > 0);
        if (c == '/' || c == '\\')
            n = 0; /* keep only the last path component */
        else if (ok)
            out[n++] = c;
    }
    out[n] = 0;
}
