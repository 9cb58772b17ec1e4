/*
 * replay.h: what is particular to `stratrun replay`: the span it covers, and the summary at its end.
 */
#ifndef STRATRUN_REPLAY_H
#define STRATRUN_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct sched;
struct market;
struct options;

/* Sets the scheduler's start and end: --from/--to, else the market data's span. Returns 0, or -1 with err. */
int replay_span(struct sched *s, const struct market *m, const struct options *o, char *err, size_t errlen);

/* Whether --json, --report and --csv can be written where they name, before the replay runs rather than after:
 * a file's folder must exist, and --csv must be a folder or one that can be made in an existing folder. Returns 0,
 * or -1 with err naming the option and the path. */
int replay_check_outputs(const struct options *o, char *err, size_t errlen);

/* Writes each bot's last status panel to its status file, prints the summary (per bot: orders, fills, fees, final
 * balances, P&L), and writes it as JSON to --json FILE. */
void replay_finish(struct sched *s, const struct options *o, int64_t wall_ns);

#endif
