/* mon — placeholder, being written. */
#include "cli.h"
#include <stdio.h>
int mon_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "voxmesh mon: not yet\n");
    return 2;
}
