/* bus_cert — see bus_cert.h and docs/bus.md. */
#include "bus_cert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* True when the file looks like a zcert certificate (a public-key line):
 * CZMQ's loader leaks memory on a file it cannot parse, so anything else
 * is refused before it gets there. */
static bool s_looks_like_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    for (int n = 0; n < 200 && !found && fgets(line, sizeof line, f); n++)
        found = strstr(line, "public-key") != NULL;
    fclose(f);
    return found;
}

zcert_t *bus_cert_load(const char *path, bool need_secret, char *err, size_t errsize)
{
    struct stat st;
    if (!path || !*path) {
        snprintf(err, errsize, "no certificate file given");
        return NULL;
    }
    if (stat(path, &st) != 0) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errsize, "%s: not a certificate file", path);
        return NULL;
    }
    zcert_t *cert = s_looks_like_cert(path) ? zcert_load(path) : NULL;
    /* zcert_load takes any ZPL file and gives it zero keys: a real
     * certificate has a public key, and a secret one when asked for. */
    static const char zero_z85[41] = "0000000000000000000000000000000000000000";
    if (!cert || !strcmp(zcert_public_txt(cert), zero_z85)) {
        snprintf(err, errsize, "%s: not a CURVE certificate (make one with `voxmesh keygen DIR NAME`)", path);
        zcert_destroy(&cert);
        return NULL;
    }
    if (need_secret && !strcmp(zcert_secret_txt(cert), zero_z85)) {
        snprintf(err, errsize, "%s: holds no secret key (give the NAME.key_secret file, not NAME.key)", path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

int bus_cert_check_dir(const char *dir, char *err, size_t errsize)
{
    struct stat st;
    if (!dir || !*dir) {
        snprintf(err, errsize, "no authorised-keys directory given");
        return -1;
    }
    if (stat(dir, &st) != 0) {
        snprintf(err, errsize, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errsize, "%s: not a directory (of the clients' public certificates)", dir);
        return -1;
    }
    return 0;
}
