/* voxmesh — the supervisor command: checks, draws, runs and watches a graph
 * of voxmesh services. Each subcommand lives in its own file (cli.h). */
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

static const char s_usage[] =
    "usage: voxmesh COMMAND [ARGS]\n"
    "\n"
    "  check GRAPH     check that every subscription is fed (exit 1 if not)\n"
    "  svg GRAPH       draw GRAPH as SVG on stdout (or -o FILE)\n"
    "  up GRAPH        run the services of GRAPH\n"
    "  mon             watch the bus (--help for its options)\n"
    "  bus GRAPH       run only the bus of GRAPH (for one unit per service;\n"
    "                  --pub/--sub EP bind other endpoints)\n"
    "  compose GRAPH   print GRAPH as a docker-compose file (docs/deploy-compose.md)\n"
    "  keygen DIR NAME write a CURVE certificate for the bus: DIR/NAME.key_secret, DIR/NAME.key\n"
    "  conf GRAPH DIR  write DIR/NAME.conf per service of GRAPH (systemd units read them)\n"
    "  units GRAPH     the systemd units that run GRAPH (--help: the generator's links)\n"
    "  help            this text\n"
    "\n"
    "check, svg and compose take [--bin-dir DIR] [--timeout SECONDS]: programs are\n"
    "found in DIR (or $VOXMESH_BIN_DIR), else next to voxmesh, else on $PATH.\n"
    "The graph file format is described in docs/graph.md.\n";

int main(int argc, char **argv)
{
    log_init("voxmesh", LOG_LEVEL_INFO, false);
    const char *cmd = argc > 1 ? argv[1] : NULL;
    if (cmd && (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))) {
        fputs(s_usage, stdout);
        return 0;
    }
    /* Each subcommand sees its own name as argv[0]. */
    if (cmd && !strcmp(cmd, "check"))
        return check_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "svg"))
        return svg_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "up"))
        return up_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "bus"))
        return bus_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "keygen"))
        return keygen_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "compose"))
        return compose_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "conf"))
        return conf_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "units"))
        return units_main(argc - 1, argv + 1);
    if (cmd && !strcmp(cmd, "mon"))
        return mon_main(argc - 1, argv + 1);
    if (cmd)
        fprintf(stderr, "voxmesh: unknown command '%s'\n\n", cmd);
    fputs(s_usage, stderr);
    return 2;
}
