/* Private to fetalmon_alerting: the webhook worker's HTTP/1.1 POST (http_post.c). Blocking with
 * a deadline: worker threads only. */
#ifndef FM_HTTP_POST_H
#define FM_HTTP_POST_H

#include <stddef.h>

typedef struct fm_http_url {
    char host[256];
    char port[8];
    char path[1024];
} fm_http_url;

/* 0 for a well-formed http:// URL, -1 otherwise (https:// included: not spoken yet). */
int fm_http_parse_url(const char *url, fm_http_url *u);

/* POSTs body with the extra header lines (without CRLF). Returns the HTTP status, or -1 with
 * err filled (resolve, connect, send, timeout, closed). The whole exchange ends by timeout_ms. */
int fm_http_post(const fm_http_url *u, const char *const *headers, size_t n_headers,
                 const char *body, size_t body_len, int timeout_ms, char *err, size_t err_len);

#endif
