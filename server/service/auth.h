/* fm_auth: credentials. Password hashing (Argon2id through libsodium's crypto_pwhash_str),
 * random bearer tokens (sessions and device tokens; the store keeps only their hash), token
 * resolution to a principal, and the login rate limiter.
 *
 * Not for access decisions on patient data (access.c decides who may see what), nor for HTTP
 * parsing. Password hashing and verification cost ~0.1 s of CPU and 64 MiB: call them on a worker
 * thread, never on the event loop. */
#ifndef FM_AUTH_H
#define FM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "svc.h"

/* Must be called once before any other fm_auth function (initialises libsodium). */
fm_svc_status fm_auth_init(void);

#define FM_PASSWORD_MIN 8
#define FM_PASSWORD_MAX 256

/* Argon2id hash string of a password (FM_SVC_INVAL when shorter than FM_PASSWORD_MIN). */
fm_svc_status fm_auth_hash_password(const char *password, char out[FM_PWHASH_MAX]);
/* FM_SVC_OK when the password matches the stored hash, FM_SVC_DENIED when not. */
fm_svc_status fm_auth_verify_password(const char *hash, const char *password);
/* Spends the same time as a verification against a real hash: used for unknown users, so the
 * response time does not reveal which user names exist. */
void fm_auth_burn_verify(const char *password);

/* A token is "fm" + kind letter + "_" + 43 base64url characters (256 random bits). */
#define FM_TOKEN_MAX 64
fm_svc_status fm_auth_token_new(fm_token_kind kind, char out[FM_TOKEN_MAX], uint8_t hash[32]);
/* Hash of a presented token; FM_SVC_INVAL when it is not shaped like one of ours. */
fm_svc_status fm_auth_token_hash(const char *token, uint8_t hash[32]);

/* Who is making a request, once the token is resolved. */
typedef struct fm_principal {
    fm_user user;
    fm_token_kind kind;
    int64_t device_patient_id; /* device tokens only */
    uint8_t token_hash[32];
} fm_principal;

/* Resolves "Bearer <token>" (the Authorization header value) or a bare token to a principal:
 * FM_SVC_DENIED for a missing, malformed, unknown, expired or revoked token, or a disabled user. */
fm_svc_status fm_auth_resolve(fm_store *s, const char *authorization, int64_t now_ms,
                              fm_principal *p);

/* The login rate limiter: per key (a user name, a client address), at most `max_failures`
 * failed logins per window_s; further attempts are refused until the window has passed.
 * Thread-safe; memory is bounded (a fixed table; the oldest entries are recycled). */
typedef struct fm_ratelimit fm_ratelimit;
fm_ratelimit *fm_ratelimit_create(int window_s);
void fm_ratelimit_destroy(fm_ratelimit *r);
/* FM_SVC_OK when an attempt with this key may proceed, FM_SVC_LIMIT when the key has had
 * max_failures failures within the window. */
fm_svc_status fm_ratelimit_check(fm_ratelimit *r, const char *key, int max_failures,
                                 int64_t now_ms);
void fm_ratelimit_fail(fm_ratelimit *r, const char *key, int64_t now_ms);
void fm_ratelimit_clear(fm_ratelimit *r, const char *key);

#endif
