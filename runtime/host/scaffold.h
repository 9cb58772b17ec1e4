/*
 * scaffold.h: `stratrun new NAME [--dir DIR]` (docs/tools.md): a folder holding a strategy that runs as it is, its
 * config and the editor files (docs/editor.md).
 */
#ifndef STRATRUN_SCAFFOLD_H
#define STRATRUN_SCAFFOLD_H

/* Runs stratrun new with argv (argv[at] is "new"). Returns the exit status: 0 done, 1 the folder exists already or
 * cannot be made, 2 a usage error (one line on stderr). */
int scaffold_main(int argc, char **argv, int at);

#endif
