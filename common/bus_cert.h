/* bus_cert — the CURVE certificates of the bus (docs/bus.md, "CURVE").
 *
 * Certificates are CZMQ zcert files: `voxmesh keygen DIR NAME` writes
 * NAME.key_secret (both keys: stays on its host) and NAME.key (the public
 * key: handed out). The bus proxy is the CURVE server and accepts only the
 * clients whose public certificate is in its authorised-keys directory. */
#ifndef VOXMESH_BUS_CERT_H
#define VOXMESH_BUS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <czmq.h>

/* Loads a certificate file. With need_secret, the file must hold the secret
 * key too (a NAME.key_secret). Returns NULL with a reason in err (which
 * names the file) when the file is missing, is not a zcert file, or lacks
 * the secret key that was asked for. */
zcert_t *bus_cert_load(const char *path, bool need_secret, char *err, size_t errsize);

/* Checks that dir is a readable directory (of public certificates).
 * Returns 0, or -1 with a reason in err. */
int bus_cert_check_dir(const char *dir, char *err, size_t errsize);

#endif
