/* decode.h - the `imaptap decode` subcommand. */
#ifndef DECODE_H
#define DECODE_H

/* Runs `imaptap decode` with argv[0] = "decode".  Returns the exit status:
 * 0, 1 (out of memory or a write error), 2 (bad option or bad input). */
int decode_main(int argc, char **argv);

#endif
