/* keygen — `voxmesh keygen DIR NAME`: a CURVE certificate for the bus
 * (docs/bus.md, "CURVE"), in CZMQ's zcert format: DIR/NAME.key_secret (both
 * keys, mode 0600: it stays on its host) and DIR/NAME.key (the public key:
 * it is handed out). One for the bus itself, one per host. */
#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int s_usage(void)
{
    fprintf(stderr, "usage: voxmesh keygen [--force] DIR NAME\n"
                    "  writes DIR/NAME.key_secret and DIR/NAME.key (docs/bus.md, CURVE)\n");
    return 2;
}

static bool s_name_ok(const char *name)
{
    if (!*name || strlen(name) > 64 || name[0] == '.') return false;
    for (const char *p = name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') && !strchr("._-", *p))
            return false;
    return true;
}

int keygen_main(int argc, char **argv)
{
    bool force = false;
    const char *args[2];
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) force = true;
        else if (argv[i][0] == '-' || nargs == 2) return s_usage();
        else args[nargs++] = argv[i];
    }
    if (nargs != 2) return s_usage();
    const char *dir = args[0], *name = args[1];
    if (!s_name_ok(name)) {
        fprintf(stderr, "voxmesh keygen: '%s' is not a certificate name (letters, digits, '.', '_', '-')\n", name);
        return 2;
    }
    if (!zmq_has("curve")) {
        fprintf(stderr, "voxmesh keygen: this libzmq is built without CURVE\n");
        return 1;
    }
    char pub[4096], sec[4200];
    snprintf(pub, sizeof pub, "%s/%s.key", dir, name);
    snprintf(sec, sizeof sec, "%s/%s.key_secret", dir, name);
    struct stat st;
    if (!force && (stat(pub, &st) == 0 || stat(sec, &st) == 0)) {
        fprintf(stderr, "voxmesh keygen: %s already exists (--force replaces it, and every copy of its public key "
                        "must then be replaced too)\n", stat(sec, &st) == 0 ? sec : pub);
        return 1;
    }
    if (stat(dir, &st) != 0 && zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "voxmesh keygen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "voxmesh keygen: %s is not a directory\n", dir);
        return 1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) return 1;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "voxmesh keygen");
    zcert_set_meta(cert, "created-at", "%s", when);
    /* zcert writes with the process's umask: 077 for the secret file. */
    unlink(sec);
    mode_t old = umask(077);
    int rc = zcert_save_secret(cert, sec);
    umask(old);
    if (rc == 0) rc = chmod(sec, 0600);
    if (rc == 0) rc = zcert_save_public(cert, pub);
    zcert_destroy(&cert);
    if (rc != 0) {
        fprintf(stderr, "voxmesh keygen: cannot write %s: %s\n", sec, strerror(errno));
        return 1;
    }
    printf("%s\n"
           "    secret, mode 0600: stays on this host. For a host, it is the graph's bus/curve/cert\n"
           "    (or --bus-cert, $VOXMESH_BUS_CERT); for the bus itself, bus/curve/server-cert.\n"
           "%s\n"
           "    public: for a host, copy it into the authorized-keys directory of the host that runs the bus;\n"
           "    for the bus itself, copy it to every host, as bus/curve/server-key (or --bus-server-key,\n"
           "    $VOXMESH_BUS_SERVER_KEY).\n", sec, pub);
    return 0;
}
