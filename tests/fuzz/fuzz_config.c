/* Fuzz target: the configuration file parser (server/service/config.c fm_config_load, then the
 * listen address parser). A config file is local, but an operator's typo, a truncated file or a
 * file written by a deployment tool must give an error, never a crash or an out-of-range
 * setting. The input is the file's content (through a memfd: the real fopen/fgets path). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("fuzz_config", MFD_CLOEXEC)) < 0)
        abort();
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fm_config c;
    fm_config_defaults(&c);
    fm_svc_status rc = fm_config_load(&c, path, err, sizeof err);
    if (rc != FM_SVC_OK && !err[0])
        abort(); /* every refusal says why */
    /* Whatever was accepted is in range and terminated. */
    if (c.port < 0 || c.port > 65535 || c.max_json_bytes < 1024 || c.api_workers < 1 ||
        c.api_workers > 64 || c.http_timeout_s < 1 || c.session_ttl_s < 1 ||
        !memchr(c.data_dir, 0, sizeof c.data_dir) || !memchr(c.listen_host, 0, sizeof c.listen_host))
        abort();
    /* The same bytes as one --listen value. */
    char hp[300];
    size_t n = size < sizeof hp - 1 ? size : sizeof hp - 1;
    memcpy(hp, data, n);
    hp[n] = 0;
    fm_config_defaults(&c);
    if (fm_config_set_listen(&c, hp, err, sizeof err) == FM_SVC_OK &&
        (c.port < 0 || c.port > 65535 || !memchr(c.listen_host, 0, sizeof c.listen_host)))
        abort();
    return 0;
}
