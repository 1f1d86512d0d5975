/* fetalmon serve: runs the remote monitoring service until SIGTERM or SIGINT, then shuts down
 * cleanly (work in hand finished, sockets closed). Settings: defaults, then the config file
 * (--config FILE, or DATA/fetalmon.conf when present), then flags. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "demo.h"
#include "log.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fetalmon serve [--data DIR] [--listen HOST:PORT] [--config FILE]\n"
               "\n"
               "Runs the fetalmon service: the JSON HTTP API (docs/api.md) with accounts,\n"
               "recording uploads and their analysis. Create accounts with 'fetalmon user add'.\n"
               "\n"
               "options:\n"
               "  --data DIR          data directory (default ./fetalmon-data): the database,\n"
               "                      recordings and analyses\n"
               "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0 = any\n"
               "                      free port, printed at start)\n"
               "  --config FILE       settings file of 'key = value' lines (default\n"
               "                      DATA/fetalmon.conf when it exists); keys: listen, data_dir,\n"
               "                      tls_cert, tls_key, max_upload_bytes, max_json_bytes,\n"
               "                      session_ttl_s, api_workers, analysis_workers,\n"
               "                      ingest_workers,\n"
               "                      login_max_failures, login_ip_max_failures, login_window_s,\n"
               "                      http_timeout_s,\n"
               "                      max_connections, live_workers, stream_stall_s,\n"
               "                      alert_escalate_s, webhook_url (repeatable),\n"
               "                      webhook_secret, webhook_secret_file, webhook_timeout_ms,\n"
               "                      webhook_max_attempts, webhook_backoff_initial_ms,\n"
               "                      webhook_backoff_max_ms, webhook_queue_max\n"
               "  --set KEY=VALUE     one setting, overriding the file (repeatable)\n"
               "  --demo              create (or reset) a demo clinician and a demo patient with\n"
               "                      known passwords (printed) and run a simulated home device\n"
               "                      streaming a generated Doppler recording live for her\n"
               "  -h, --help          this text\n"
               "\n"
               "Prints 'fetalmon: listening on HOST:PORT' on stdout when ready.\n"
               "Exit status: 0 after a clean shutdown, 1 when it cannot start, 2 bad usage.\n");
}

static fm_server *g_server; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        fm_server_stop(g_server);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},   {"listen", required_argument, 0, 'l'},
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},         {"demo", no_argument, 0, 'D'},
        {0, 0, 0, 0},
    };
    const char *data = NULL, *listen = NULL, *config = NULL;
    const char *sets[32];
    int n_sets = 0, c, demo = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'l': listen = optarg; break;
        case 'c': config = optarg; break;
        case 's':
            if (n_sets == 32) {
                fprintf(stderr, "fetalmon serve: at most 32 --set\n");
                return FM_EXIT_USAGE;
            }
            sets[n_sets++] = optarg;
            break;
        case 'D': demo = 1; break;
        case 'h': usage(stdout); return FM_EXIT_OK;
        default: usage(stderr); return FM_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "fetalmon serve: unexpected argument '%s'\n", argv[optind]);
        return FM_EXIT_USAGE;
    }
    fm_config cfg;
    fm_config_defaults(&cfg);
    char err[512];
    if (data)
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data);
    char def_conf[FM_PATH_MAX + 32];
    snprintf(def_conf, sizeof def_conf, "%s/fetalmon.conf", cfg.data_dir);
    fm_svc_status rc = fm_config_load(&cfg, config ? config : def_conf, err, sizeof err);
    if (rc != FM_SVC_OK && !(rc == FM_SVC_NOTFOUND && !config)) {
        fprintf(stderr, "fetalmon serve: %s\n", err);
        return FM_EXIT_USAGE;
    }
    if (data) /* the flag wins over the file */
        snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data);
    for (int i = 0; i < n_sets; i++) {
        char key[64];
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "fetalmon serve: --set wants KEY=VALUE, got '%s'\n", sets[i]);
            return FM_EXIT_USAGE;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = 0;
        if (fm_config_set(&cfg, key, eq + 1, err, sizeof err) != FM_SVC_OK) {
            fprintf(stderr, "fetalmon serve: %s\n", err);
            return FM_EXIT_USAGE;
        }
    }
    if (listen && fm_config_set_listen(&cfg, listen, err, sizeof err) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon serve: --listen: %s\n", err);
        return FM_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    char demo_token[128] = "";
    if (demo && fm_demo_prepare(cfg.data_dir, demo_token, sizeof demo_token, err, sizeof err)) {
        fprintf(stderr, "fetalmon serve: --demo: %s\n", err);
        return FM_EXIT_INPUT;
    }
    fm_server *srv = NULL;
    if (fm_server_create(&cfg, &srv, err, sizeof err) != FM_SVC_OK) {
        fprintf(stderr, "fetalmon serve: %s\n", err);
        return FM_EXIT_INPUT;
    }
    g_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("fetalmon: listening on %s:%d\n", cfg.listen_host, fm_server_port(srv));
    fflush(stdout);
    char extra[256];
    snprintf(extra, sizeof extra, "\"host\":\"%.100s\",\"port\":%d", cfg.listen_host,
             fm_server_port(srv));
    fm_log("info", "listening", extra);
    fm_demo *dev = NULL;
    if (demo) {
        dev = fm_demo_start(fm_server_port(srv), demo_token);
        printf("fetalmon: demo: open http://%s:%d\n"
               "fetalmon: demo: clinician '%s', password '%s'\n"
               "fetalmon: demo: patient   '%s', password '%s'\n"
               "fetalmon: demo: a simulated home device streams live for %s%s\n",
               cfg.listen_host, fm_server_port(srv), FM_DEMO_CLINICIAN, FM_DEMO_CLINICIAN_PW,
               FM_DEMO_PATIENT, FM_DEMO_PATIENT_PW, FM_DEMO_PATIENT,
               dev ? "" : " (could not start)");
        fflush(stdout);
    }
    int bad = fm_server_run(srv);
    if (dev && !bad) {
        /* SIGTERM: the demo device closes its stream over the socket, so the loop serves on
         * until it is done (bounded), and the stream becomes a recording like any other. */
        fm_demo_stopping(dev);
        fm_server_serve_until(srv, fm_demo_done, dev, 15000);
    }
    fm_demo_stop(dev);
    g_server = NULL;
    fm_server_destroy(srv);
    fm_log("info", "stopped", NULL);
    return bad ? FM_EXIT_INPUT : FM_EXIT_OK;
}
