/*
 * termpanel.h: status panels kept at the bottom of the terminal, below the log lines that scroll above them.
 *
 * Each panel has a label (NULL: the process's only one) and its lines are drawn under a "[label]" line when there
 * are several. Drawn by screen rows: every line is cut to the terminal's width (so none wraps), the whole is cut to
 * its height with a "... N more lines" line, control characters are not passed to the terminal, and an erase
 * counts the rows the drawn lines take at the terminal's width now (a terminal that rewraps on a resize). A
 * SIGWINCH draws them again at the new size (termpanel_poll). Lines for stdout, and for stderr when it is the same
 * terminal, go through termpanel_write, which erases the panels, writes the line above them and draws them again,
 * in one chunk of stdout's queue (core/outq.h), so a warning is never wiped by the next redraw. When stdout is not a
 * terminal, the panels are never drawn and termpanel_write is outq_write. Thread-safe. No Lua, no bot.
 */
#ifndef STRATRUN_TERMPANEL_H
#define STRATRUN_TERMPANEL_H

#include <stddef.h>

/* Before any thread starts: notes whether stdout is a terminal; if so, redraws on SIGWINCH and sends print's and io.stderr's
 * output (outq_stdio) through termpanel_write. */
void termpanel_init(void);

/* stdout is a terminal: panels are drawn. */
int termpanel_active(void);

/* Replaces the panel of label (added after the others if new) with the len bytes at text; text NULL removes it. */
void termpanel_set(const char *label, const char *text, size_t len);

/* Writes n bytes of whole lines to fd (stdout or stderr) above the panels. */
void termpanel_write(int fd, const char *p, size_t n);

/* Draws the panels again if the terminal was resized since they were drawn. Cheap: call it from any loop. */
void termpanel_poll(void);

/* Forgets the panels (at exit): the last ones drawn stay on the screen, below the log, as the run's final word. */
void termpanel_clear(void);

#endif
