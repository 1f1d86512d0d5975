/* fm_auth: see auth.h. Argon2id password hashes, bearer tokens stored as BLAKE2b hashes, and
 * a bounded login rate limiter. */
#include "auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* libsodium's INTERACTIVE limits (2 passes, 64 MiB) are its recommendation for online logins. */
#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

fm_svc_status fm_auth_init(void)
{
    return sodium_init() < 0 ? FM_SVC_IO : FM_SVC_OK;
}

fm_svc_status fm_auth_hash_password(const char *password, char out[FM_PWHASH_MAX])
{
    size_t n = strnlen(password, FM_PASSWORD_MAX + 1);
    if (n < FM_PASSWORD_MIN || n > FM_PASSWORD_MAX)
        return FM_SVC_INVAL;
    _Static_assert(crypto_pwhash_STRBYTES <= FM_PWHASH_MAX, "hash buffer");
    if (crypto_pwhash_str(out, password, n, PW_OPSLIMIT, PW_MEMLIMIT) != 0)
        return FM_SVC_NOMEM;
    return FM_SVC_OK;
}

fm_svc_status fm_auth_verify_password(const char *hash, const char *password)
{
    size_t n = strnlen(password, FM_PASSWORD_MAX + 1);
    if (n > FM_PASSWORD_MAX || !hash[0])
        return FM_SVC_DENIED;
    return crypto_pwhash_str_verify(hash, password, n) == 0 ? FM_SVC_OK : FM_SVC_DENIED;
}

/* The hash burned for unknown users: of a random password, made once. */
static char burn_hash[FM_PWHASH_MAX];
static pthread_once_t burn_once = PTHREAD_ONCE_INIT;

static void make_burn_hash(void)
{
    char pw[33];
    uint8_t r[16];
    randombytes_buf(r, sizeof r);
    sodium_bin2hex(pw, sizeof pw, r, sizeof r);
    if (crypto_pwhash_str(burn_hash, pw, strlen(pw), PW_OPSLIMIT, PW_MEMLIMIT) != 0)
        burn_hash[0] = 0;
}

void fm_auth_burn_verify(const char *password)
{
    pthread_once(&burn_once, make_burn_hash);
    (void)fm_auth_verify_password(burn_hash, password);
}

static char kind_letter(fm_token_kind k)
{
    return k == FM_TOKEN_DEVICE ? 'd' : 's';
}

fm_svc_status fm_auth_token_new(fm_token_kind kind, char out[FM_TOKEN_MAX], uint8_t hash[32])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    out[0] = 'f';
    out[1] = 'm';
    out[2] = kind_letter(kind);
    out[3] = '_';
    sodium_bin2base64(out + 4, FM_TOKEN_MAX - 4, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    return fm_auth_token_hash(out, hash);
}

fm_svc_status fm_auth_token_hash(const char *token, uint8_t hash[32])
{
    size_t n = strnlen(token, FM_TOKEN_MAX);
    if (n != 47 || token[0] != 'f' || token[1] != 'm' || (token[2] != 's' && token[2] != 'd') ||
        token[3] != '_')
        return FM_SVC_INVAL;
    for (size_t i = 4; i < n; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return FM_SVC_INVAL;
    }
    /* 256 random bits need no salt or slow hash: a fast keyless hash is enough to make a stolen
     * database useless for logging in. */
    crypto_generichash(hash, 32, (const unsigned char *)token, n, NULL, 0);
    return FM_SVC_OK;
}

fm_svc_status fm_auth_resolve(fm_store *s, const char *authorization, int64_t now_ms,
                              fm_principal *p)
{
    memset(p, 0, sizeof *p);
    if (!authorization)
        return FM_SVC_DENIED;
    const char *tok = authorization;
    if (!strncasecmp(tok, "Bearer ", 7))
        tok += 7;
    while (*tok == ' ')
        tok++;
    if (fm_auth_token_hash(tok, p->token_hash) != FM_SVC_OK)
        return FM_SVC_DENIED;
    fm_token_row row;
    fm_svc_status rc = fm_store_token_get(s, p->token_hash, now_ms, &row);
    if (rc == FM_SVC_NOTFOUND)
        return FM_SVC_DENIED;
    if (rc != FM_SVC_OK)
        return rc;
    /* The kind letter in the token must match what was issued. */
    if ((tok[2] == 'd') != (row.kind == FM_TOKEN_DEVICE))
        return FM_SVC_DENIED;
    rc = fm_store_user_by_id(s, row.user_id, &p->user);
    if (rc == FM_SVC_NOTFOUND || (rc == FM_SVC_OK && p->user.disabled))
        return FM_SVC_DENIED;
    if (rc != FM_SVC_OK)
        return rc;
    p->kind = row.kind;
    p->device_patient_id = row.patient_id;
    return FM_SVC_OK;
}

/* ---- rate limiter ---- */

#define RL_SLOTS 4096
#define RL_KEY 80

typedef struct rl_slot {
    char key[RL_KEY];
    int failures;
    int64_t window_start_ms;
} rl_slot;

struct fm_ratelimit {
    pthread_mutex_t mu;
    int64_t window_ms;
    rl_slot slots[RL_SLOTS];
};

fm_ratelimit *fm_ratelimit_create(int window_s)
{
    fm_ratelimit *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->window_ms = (int64_t)window_s * 1000;
    return r;
}

void fm_ratelimit_destroy(fm_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 16777619u;
    return h;
}

/* The slot of a key: probes 8 slots from its hash; when none holds the key, takes an empty or
 * expired one, else the one with the oldest window (bounded memory, graceful under floods). */
static rl_slot *find(fm_ratelimit *r, const char *key, int64_t now_ms, int create)
{
    uint32_t h = key_hash(key);
    rl_slot *victim = NULL;
    for (int i = 0; i < 8; i++) {
        rl_slot *s = &r->slots[(h + (uint32_t)i) % RL_SLOTS];
        if (s->key[0] && !strncmp(s->key, key, RL_KEY - 1))
            return s;
        if (!s->key[0]) {
            if (!victim || victim->key[0])
                victim = s; /* an empty slot beats any used one */
        } else if (!victim || (victim->key[0] && s->window_start_ms < victim->window_start_ms)) {
            victim = s;
        }
    }
    if (!create)
        return NULL;
    snprintf(victim->key, RL_KEY, "%s", key);
    victim->failures = 0;
    victim->window_start_ms = now_ms;
    return victim;
}

fm_svc_status fm_ratelimit_check(fm_ratelimit *r, const char *key, int max_failures, int64_t now_ms)
{
    pthread_mutex_lock(&r->mu);
    rl_slot *s = find(r, key, now_ms, 0);
    fm_svc_status rc = FM_SVC_OK;
    if (s && now_ms - s->window_start_ms < r->window_ms && s->failures >= max_failures)
        rc = FM_SVC_LIMIT;
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void fm_ratelimit_fail(fm_ratelimit *r, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&r->mu);
    rl_slot *s = find(r, key, now_ms, 1);
    if (now_ms - s->window_start_ms >= r->window_ms) {
        s->failures = 0;
        s->window_start_ms = now_ms;
    }
    s->failures++;
    pthread_mutex_unlock(&r->mu);
}

void fm_ratelimit_clear(fm_ratelimit *r, const char *key)
{
    pthread_mutex_lock(&r->mu);
    rl_slot *s = find(r, key, 0, 0);
    if (s)
        s->key[0] = 0;
    pthread_mutex_unlock(&r->mu);
}
