/* pretty.h - the `imaptap pretty` subcommand: the log as a transcript. */
#ifndef PRETTY_H
#define PRETTY_H

/*
 * Runs `imaptap pretty [options] [LOG...]` with argv[0] = "pretty"; reads
 * stdin when no LOG is given.  Returns the exit status: 0, 1 (a read or
 * write error, out of memory), 2 (a bad option, a LOG that cannot be
 * opened, or lines that could not be read, each reported as FILE:LINE).
 */
int pretty_main(int argc, char **argv);

#endif
