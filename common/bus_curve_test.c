/* bus_curve_test — the bus over CURVE: certificates, a proxy that is the
 * CURVE server, clients with good and bad keys (docs/bus.md, "CURVE"). */
#include "bus.h"
#include "bus_cert.h"
#include "bus_proxy.h"
#include "log.h"
#include "test.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[256], s_auth[300];

/* path of DIR/NAME.key_secret after writing NAME's certificate (and its
 * public half into the authorised directory when `authorise`). */
static const char *s_make_cert(const char *name, bool authorise, char *path, size_t size)
{
    zcert_t *c = zcert_new();
    snprintf(path, size, "%s/%s.key", s_dir, name);
    zcert_save(c, path);
    if (authorise) {
        char pub[400];
        snprintf(pub, sizeof pub, "%s/%s.key", s_auth, name);
        zcert_save_public(c, pub);
    }
    zcert_destroy(&c);
    snprintf(path, size, "%s/%s.key_secret", s_dir, name);
    return path;
}

static int s_publish_health(bus_t *bus, const char *topic, const char *state)
{
    Voxmesh__ServiceHealth h = VOXMESH__SERVICE_HEALTH__INIT;
    h.service = "test";
    h.state = (char *)state;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_HEALTH;
    ev.health = &h;
    return bus_publish(bus, topic, &ev);
}

static void s_certs(void)
{
    char err[512], good[300], pub[300];
    s_make_cert("one", false, good, sizeof good);
    zcert_t *c = bus_cert_load(good, true, err, sizeof err);
    CHECK(c != NULL, "a NAME.key_secret loads with its secret key");
    zcert_destroy(&c);
    /* The public half alone, with no secret file next to it. */
    zcert_t *fresh = zcert_new();
    snprintf(pub, sizeof pub, "%s/alone.key", s_dir);
    zcert_save_public(fresh, pub);
    zcert_destroy(&fresh);
    c = bus_cert_load(pub, false, err, sizeof err);
    CHECK(c != NULL, "a public certificate loads as a server key");
    zcert_destroy(&c);
    c = bus_cert_load(pub, true, err, sizeof err);
    CHECK(!c && strstr(err, "no secret key"), "a public certificate is refused where a secret one is needed: %s", err);
    char junk[300];
    snprintf(junk, sizeof junk, "%s/junk", s_dir);
    FILE *f = fopen(junk, "w");
    if (f) { fputs("this is not a certificate\n", f); fclose(f); }
    c = bus_cert_load(junk, false, err, sizeof err);
    CHECK(!c && strstr(err, "not a CURVE certificate"), "a file that is no certificate is refused: %s", err);
    c = bus_cert_load("/nonexistent/x.key", false, err, sizeof err);
    CHECK(!c && strstr(err, "/nonexistent/x.key"), "a missing file is named: %s", err);
    CHECK(bus_cert_check_dir(junk, err, sizeof err) < 0 && strstr(err, "not a directory"),
          "the authorised keys must be a directory: %s", err);
    CHECK(bus_cert_check_dir(s_auth, err, sizeof err) == 0, "a directory is fine");
}

static void s_wait_subscribed(bus_proxy_t *proxy, const char *topic, int n)
{
    for (int i = 0; i < 1000 && bus_proxy_subscriptions(proxy, topic) < n; i++) usleep(2000);
}

static void s_curve(void)
{
    char front[128], back[128];
    snprintf(front, sizeof front, "ipc://@vm-curve-test-%d.pub", (int)getpid());
    snprintf(back, sizeof back, "ipc://@vm-curve-test-%d.sub", (int)getpid());
    char server[300], server_pub[300], alice[300], bob[300], mallory[300];
    s_make_cert("server", false, server, sizeof server);
    snprintf(server_pub, sizeof server_pub, "%s/server.key", s_dir);
    s_make_cert("alice", true, alice, sizeof alice);
    s_make_cert("bob", true, bob, sizeof bob);
    s_make_cert("mallory", false, mallory, sizeof mallory);   /* not authorised */

    metrics_t *metrics = metrics_new();
    bus_proxy_options_t o = { .cert = server, .authorized_keys = s_auth, .metrics = metrics };
    bus_proxy_t *proxy = bus_proxy_new_with(front, back, &o);
    CHECK(proxy != NULL, "a CURVE proxy starts");
    if (!proxy) return;
    CHECK(bus_proxy_new_with("ipc://@vm-curve-x.pub", "ipc://@vm-curve-x.sub", &o) == NULL,
          "a second CURVE proxy in the same process is refused (one ZAP handler per context)");

    bus_curve_t ca = { alice, server_pub }, cb = { bob, server_pub }, cm = { mallory, server_pub };
    bus_curve_t wrong_server = { bob, alice };   /* bob, but with another server's key */
    char alone[300];
    snprintf(alone, sizeof alone, "%s/alone.key", s_dir);
    CHECK(bus_new_curve("x", front, NULL, NULL, &(bus_curve_t){ alone, server_pub }) == NULL,
          "a client certificate without its secret key is refused");
    bus_t *pub = bus_new_curve("alice", front, NULL, NULL, &ca);
    bus_t *sub = bus_new_curve("bob", NULL, back, NULL, &cb);
    bus_t *spy = bus_new_curve("mallory", NULL, back, NULL, &cm);
    bus_t *forger = bus_new_curve("mallory", front, NULL, NULL, &cm);
    bus_t *plain = bus_new("plain", NULL, back, NULL);
    bus_t *lost = bus_new_curve("bob-lost", NULL, back, NULL, &wrong_server);
    CHECK(pub && sub && spy && forger && plain && lost, "all the clients are made");
    bus_subscribe(sub, "t.");
    bus_subscribe(spy, "t.");
    bus_subscribe(plain, "t.");
    bus_subscribe(lost, "t.");
    s_wait_subscribed(proxy, "t.", 1);
    usleep(300000);   /* the refused ones have tried (and retried) by now */
    CHECK(bus_proxy_subscriptions(proxy, "t.") == 1,
          "only the authorised subscriber's subscription reaches the proxy (%d)", bus_proxy_subscriptions(proxy, "t."));

    s_publish_health(forger, "t.", "forged");
    s_publish_health(pub, "t.", "genuine");
    int genuine = 0, forged = 0;
    bus_msg_t *m;
    while ((m = bus_recv(sub, 500))) {
        if (!strcmp(m->ev->health->state, "genuine")) genuine++;
        else forged++;
        bus_msg_destroy(&m);
    }
    CHECK(genuine == 1, "the authorised publisher reaches the authorised subscriber");
    CHECK(forged == 0, "the unauthorised publisher's event never arrives");
    CHECK(bus_recv(spy, 100) == NULL, "the subscriber with an unknown key gets nothing");
    CHECK(bus_recv(plain, 50) == NULL, "the subscriber without CURVE gets nothing");
    CHECK(bus_recv(lost, 50) == NULL, "the subscriber with the wrong server key gets nothing");

    uint64_t refused = bus_proxy_refused(proxy);
    CHECK(refused >= 4, "the proxy refused every bad peer (%llu refusals)", (unsigned long long)refused);
    double r_pub = metric_value(metrics_counter(metrics, "voxmesh_bus_refused_total", "side=\"publisher\"", ""));
    double r_sub = metric_value(metrics_counter(metrics, "voxmesh_bus_refused_total", "side=\"subscriber\"", ""));
    CHECK(r_pub >= 1 && r_sub >= 3, "refusals are counted per side in the metrics (publisher %.0f, subscriber %.0f)",
          r_pub, r_sub);

    /* Authorising a key is adding its file: the directory is re-read. */
    zcert_t *mc = zcert_load(mallory);
    char mpub[400];
    snprintf(mpub, sizeof mpub, "%s/mallory.key", s_auth);
    zcert_save_public(mc, mpub);
    zcert_destroy(&mc);
    bus_t *late = bus_new_curve("mallory-late", NULL, back, NULL, &cm);
    bus_subscribe(late, "t.");
    s_wait_subscribed(proxy, "t.", 3);   /* the spy's retry may get in too */
    CHECK(bus_proxy_subscriptions(proxy, "t.") >= 2, "a key added to the directory is accepted without a restart");
    bus_destroy(&late);

    bus_destroy(&pub);
    bus_destroy(&sub);
    bus_destroy(&spy);
    bus_destroy(&forger);
    bus_destroy(&plain);
    bus_destroy(&lost);
    bus_proxy_destroy(&proxy);
    metrics_destroy(&metrics);
    o.metrics = NULL;
    proxy = bus_proxy_new_with(front, back, &o);
    CHECK(proxy != NULL, "a CURVE proxy starts again once the first is gone");
    bus_proxy_destroy(&proxy);
}

int main(void)
{
    log_init("bus_curve_test", LOG_LEVEL_WARN, false);
    snprintf(s_dir, sizeof s_dir, "/tmp/vm-curve-test.XXXXXX");
    if (!mkdtemp(s_dir)) return 1;
    snprintf(s_auth, sizeof s_auth, "%s/authorized", s_dir);
    zsys_dir_create("%s", s_auth);
    s_certs();
    if (zmq_has("curve")) s_curve();
    else SKIP("libzmq without CURVE");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0) return 1;
    return TEST_DONE();
}
