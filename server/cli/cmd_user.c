/* fetalmon user: account administration on a data directory (add, passwd, list, disable,
 * enable, device-token). Works beside a running server: the store handles concurrent access.
 * Every change is written to the audit log with peer "cli". Not for patient data. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "cli.h"
#include "files.h"
#include "store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fetalmon user <action> [options]\n"
               "\n"
               "actions:\n"
               "  add      --role patient|clinician|admin --name NAME --password-stdin\n"
               "           [--display-name TEXT] [--clinician NAME]... (patients: her care team)\n"
               "           [--hospital-id ID] [--due-date YYYY-MM-DD] [--risk-notes TEXT]\n"
               "  passwd   --name NAME --password-stdin   (also signs the user out everywhere)\n"
               "  list     all accounts: name, role, state, display name\n"
               "  disable  --name NAME   (refuses logins and revokes every token)\n"
               "  enable   --name NAME\n"
               "  device-token --name PATIENT   prints a token that may only ingest recordings\n"
               "           for that patient (give it to her home device)\n"
               "\n"
               "common options:\n"
               "  --data DIR    the data directory (default ./fetalmon-data)\n"
               "  -h, --help    this text\n"
               "\n"
               "The password is read from the first line of standard input (8..256 characters).\n"
               "Exit status: 0 success, 1 failure (reason on stderr), 2 bad usage.\n");
}

typedef struct opts {
    const char *action, *data, *role, *name, *display, *hospital, *due, *risk;
    const char *clinicians[16];
    int n_clinicians;
    int password_stdin;
} opts;

static int read_password(char *pw, size_t cap)
{
    if (!fgets(pw, (int)cap, stdin))
        return -1;
    size_t n = strlen(pw);
    while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        pw[--n] = 0;
    return 0;
}

static void audit(fm_store *s, const char *action, const char *name)
{
    fm_audit_entry e;
    memset(&e, 0, sizeof e);
    e.t_ms = fm_now_ms();
    snprintf(e.actor, sizeof e.actor, "cli");
    snprintf(e.action, sizeof e.action, "%s", action);
    snprintf(e.object, sizeof e.object, "user:%s", name);
    snprintf(e.peer, sizeof e.peer, "cli");
    fm_store_audit_add(s, &e);
}

static int valid_date(const char *d)
{
    int y, m, day;
    char tail;
    return sscanf(d, "%4d-%2d-%2d%c", &y, &m, &day, &tail) == 3 && strlen(d) == 10 && y >= 2000 &&
           y <= 2200 && m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

static int do_add(fm_store *s, const opts *o)
{
    fm_role role = fm_role_parse(o->role);
    if (role == FM_ROLE_NONE || !o->name || !o->password_stdin) {
        fprintf(stderr, "fetalmon user add: needs --role patient|clinician|admin, --name and "
                        "--password-stdin\n");
        return FM_EXIT_USAGE;
    }
    if (o->n_clinicians && role != FM_ROLE_PATIENT) {
        fprintf(stderr, "fetalmon user add: --clinician applies to patients only\n");
        return FM_EXIT_USAGE;
    }
    if (o->due && !valid_date(o->due)) {
        fprintf(stderr, "fetalmon user add: --due-date wants YYYY-MM-DD\n");
        return FM_EXIT_USAGE;
    }
    fm_user cl[16];
    for (int i = 0; i < o->n_clinicians; i++) {
        if (fm_store_user_by_name(s, o->clinicians[i], &cl[i], NULL, 0) != FM_SVC_OK ||
            cl[i].role != FM_ROLE_CLINICIAN) {
            fprintf(stderr, "fetalmon user add: no clinician named '%s'\n", o->clinicians[i]);
            return FM_EXIT_INPUT;
        }
    }
    char pw[FM_PASSWORD_MAX + 2], hash[FM_PWHASH_MAX];
    if (read_password(pw, sizeof pw) != 0 || fm_auth_hash_password(pw, hash) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user add: the password on stdin must be %d..%d characters\n",
                FM_PASSWORD_MIN, FM_PASSWORD_MAX);
        return FM_EXIT_INPUT;
    }
    fm_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", o->name);
    snprintf(u.display_name, sizeof u.display_name, "%s", o->display ? o->display : o->name);
    u.role = role;
    u.created_ms = fm_now_ms();
    int64_t id;
    fm_svc_status rc = fm_store_user_add(s, &u, hash, &id);
    if (rc == FM_SVC_EXISTS) {
        fprintf(stderr, "fetalmon user add: a user named '%s' already exists\n", o->name);
        return FM_EXIT_INPUT;
    }
    if (rc == FM_SVC_OK && role == FM_ROLE_PATIENT) {
        fm_patient p;
        memset(&p, 0, sizeof p);
        p.user_id = id;
        snprintf(p.hospital_id, sizeof p.hospital_id, "%s", o->hospital ? o->hospital : "");
        snprintf(p.due_date, sizeof p.due_date, "%s", o->due ? o->due : "");
        snprintf(p.risk_notes, sizeof p.risk_notes, "%s", o->risk ? o->risk : "");
        rc = fm_store_patient_put(s, &p);
        for (int i = 0; rc == FM_SVC_OK && i < o->n_clinicians; i++)
            rc = fm_store_care_link(s, id, cl[i].id);
    }
    if (rc != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user add: %s: %s\n", fm_svc_strerror(rc), fm_store_errmsg(s));
        return FM_EXIT_INPUT;
    }
    audit(s, "user.add", o->name);
    printf("added %s %s\n", fm_role_name(role), o->name);
    return FM_EXIT_OK;
}

static int find_user(fm_store *s, const char *action, const char *name, fm_user *u)
{
    if (!name) {
        fprintf(stderr, "fetalmon user %s: needs --name\n", action);
        return FM_EXIT_USAGE;
    }
    if (fm_store_user_by_name(s, name, u, NULL, 0) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user %s: no user named '%s'\n", action, name);
        return FM_EXIT_INPUT;
    }
    return FM_EXIT_OK;
}

static int do_passwd(fm_store *s, const opts *o)
{
    fm_user u;
    int ex = find_user(s, "passwd", o->name, &u);
    if (ex)
        return ex;
    if (!o->password_stdin) {
        fprintf(stderr, "fetalmon user passwd: needs --password-stdin\n");
        return FM_EXIT_USAGE;
    }
    char pw[FM_PASSWORD_MAX + 2], hash[FM_PWHASH_MAX];
    if (read_password(pw, sizeof pw) != 0 || fm_auth_hash_password(pw, hash) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user passwd: the password must be %d..%d characters\n",
                FM_PASSWORD_MIN, FM_PASSWORD_MAX);
        return FM_EXIT_INPUT;
    }
    if (fm_store_user_set_password(s, u.id, hash) != FM_SVC_OK ||
        fm_store_token_revoke_user(s, u.id) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user passwd: %s\n", fm_store_errmsg(s));
        return FM_EXIT_INPUT;
    }
    audit(s, "user.passwd", u.name);
    return FM_EXIT_OK;
}

static int do_disable(fm_store *s, const opts *o, int disable)
{
    fm_user u;
    const char *act = disable ? "disable" : "enable";
    int ex = find_user(s, act, o->name, &u);
    if (ex)
        return ex;
    fm_svc_status rc = fm_store_user_set_disabled(s, u.id, disable);
    if (rc == FM_SVC_OK && disable)
        rc = fm_store_token_revoke_user(s, u.id);
    if (rc != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user %s: %s\n", act, fm_store_errmsg(s));
        return FM_EXIT_INPUT;
    }
    audit(s, disable ? "user.disable" : "user.enable", u.name);
    return FM_EXIT_OK;
}

static void print_user(void *ctx, const fm_user *u)
{
    (void)ctx;
    printf("%-24s %-9s %-8s %s\n", u->name, fm_role_name(u->role),
           u->disabled ? "disabled" : "active", u->display_name);
}

static int do_device_token(fm_store *s, const opts *o, int ttl_s)
{
    fm_user u;
    int ex = find_user(s, "device-token", o->name, &u);
    if (ex)
        return ex;
    if (u.role != FM_ROLE_PATIENT) {
        fprintf(stderr, "fetalmon user device-token: '%s' is not a patient\n", u.name);
        return FM_EXIT_INPUT;
    }
    char tok[FM_TOKEN_MAX];
    uint8_t hash[32];
    fm_token_row t = {.user_id = u.id, .kind = FM_TOKEN_DEVICE, .patient_id = u.id};
    t.created_ms = fm_now_ms();
    t.expires_ms = t.created_ms + (int64_t)ttl_s * 1000;
    if (fm_auth_token_new(FM_TOKEN_DEVICE, tok, hash) != FM_SVC_OK ||
        fm_store_token_add(s, hash, &t) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user device-token: %s\n", fm_store_errmsg(s));
        return FM_EXIT_INPUT;
    }
    audit(s, "device_token.add", u.name);
    printf("%s\n", tok);
    return FM_EXIT_OK;
}

int cmd_user(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},
        {"role", required_argument, 0, 'r'},
        {"name", required_argument, 0, 'n'},
        {"display-name", required_argument, 0, 'D'},
        {"clinician", required_argument, 0, 'c'},
        {"hospital-id", required_argument, 0, 'H'},
        {"due-date", required_argument, 0, 'u'},
        {"risk-notes", required_argument, 0, 'R'},
        {"password-stdin", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    opts o;
    memset(&o, 0, sizeof o);
    o.data = "./fetalmon-data";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FM_EXIT_USAGE : FM_EXIT_OK;
    }
    o.action = argv[1];
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o.data = optarg; break;
        case 'r': o.role = optarg; break;
        case 'n': o.name = optarg; break;
        case 'D': o.display = optarg; break;
        case 'H': o.hospital = optarg; break;
        case 'u': o.due = optarg; break;
        case 'R': o.risk = optarg; break;
        case 'p': o.password_stdin = 1; break;
        case 'c':
            if (o.n_clinicians == 16) {
                fprintf(stderr, "fetalmon user: at most 16 --clinician\n");
                return FM_EXIT_USAGE;
            }
            o.clinicians[o.n_clinicians++] = optarg;
            break;
        case 'h': usage(stdout); return FM_EXIT_OK;
        default: usage(stderr); return FM_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "fetalmon user: unexpected argument '%s'\n", argv[optind + 1]);
        return FM_EXIT_USAGE;
    }
    if (o.name && !fm_user_name_valid(o.name)) {
        fprintf(stderr, "fetalmon user: a name is 1..63 of A-Z a-z 0-9 . _ - (got '%s')\n", o.name);
        return FM_EXIT_USAGE;
    }
    static const char *const actions[] = {"add",     "passwd", "list",
                                          "disable", "enable", "device-token"};
    int known = 0;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        known |= !strcmp(o.action, actions[i]);
    if (!known) {
        fprintf(stderr, "fetalmon user: unknown action '%s'\n", o.action);
        usage(stderr);
        return FM_EXIT_USAGE;
    }
    char err[512];
    fm_store *s = NULL;
    if (fm_auth_init() != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user: cannot initialise libsodium\n");
        return FM_EXIT_INPUT;
    }
    if (fm_datadir_prepare(o.data, err, sizeof err) != FM_SVC_OK ||
        fm_store_open(o.data, &s, err, sizeof err) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon user: %s\n", err);
        return FM_EXIT_INPUT;
    }
    int ex;
    if (!strcmp(o.action, "add"))
        ex = do_add(s, &o);
    else if (!strcmp(o.action, "passwd"))
        ex = do_passwd(s, &o);
    else if (!strcmp(o.action, "list"))
        ex = fm_store_user_list(s, print_user, NULL) == FM_SVC_OK ? FM_EXIT_OK : FM_EXIT_INPUT;
    else if (!strcmp(o.action, "disable") || !strcmp(o.action, "enable"))
        ex = do_disable(s, &o, !strcmp(o.action, "disable"));
    else
        ex = do_device_token(s, &o, 365 * 24 * 3600);
    fm_store_close(s);
    return ex;
}
