/* up — placeholder, being written. */
#include "cli.h"
#include <stdio.h>
int up_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "voxmesh up: not yet\n");
    return 2;
}
