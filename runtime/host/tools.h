/*
 * tools.h: the shell tools over a data dir: `stratrun ps`, `stratrun stop ID...`, `stratrun logs ID [-f]`
 * (docs/tools.md). Each prints through the output queue and returns an exit status: 0 done, 1 the bot is not there
 * or did not stop, 2 a usage error (one line naming the value and what is allowed).
 */
#ifndef STRATRUN_TOOLS_H
#define STRATRUN_TOOLS_H

/* When argv[1] names a tool (options_subcommand_first put it there), runs it: returns 1 with its exit status in
 * *status. Otherwise returns 0 and nothing is done. */
int tools_main(int argc, char **argv, int *status);

#endif
