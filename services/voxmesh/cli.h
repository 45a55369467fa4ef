/* cli — the subcommands of the `voxmesh` command. Each takes the arguments
 * after the subcommand name (argv[0] is the subcommand) and returns the exit code. */
#ifndef VOXMESH_CLI_H
#define VOXMESH_CLI_H

int check_main(int argc, char **argv);
int svg_main(int argc, char **argv);
int up_main(int argc, char **argv);
int mon_main(int argc, char **argv);
int bus_main(int argc, char **argv);
int keygen_main(int argc, char **argv);
int compose_main(int argc, char **argv);
int conf_main(int argc, char **argv);
int units_main(int argc, char **argv);

#endif
