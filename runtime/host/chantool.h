/*
 * chantool.h: `stratrun channel ls | get ID | watch ID` (docs/tools.md): the channels of a data dir, read through
 * the channel engine over any backend a process can share (local, local:DIR, redis://...; not memory).
 */
#ifndef STRATRUN_CHANTOOL_H
#define STRATRUN_CHANTOOL_H

/* Runs stratrun channel with argv (argv[at] is "channel"; --data-dir may come before it). Returns the exit status:
 * 0 done, 1 no such state or channel folder, 2 a usage error (one line on stderr). */
int chantool_main(int argc, char **argv, int at);

#endif
