/*
 * datatool.h: `stratrun data download` (docs/tools.md): a venue's historical candles into a CSV file that
 * `--market FILE.csv` replays.
 */
#ifndef STRATRUN_DATATOOL_H
#define STRATRUN_DATATOOL_H

/* Runs stratrun data with argv (argv[at] is "data"). Returns the exit status: 0 done, 1 the download failed (one
 * line on stderr; no file written), 2 a usage error. */
int datatool_main(int argc, char **argv, int at);

#endif
