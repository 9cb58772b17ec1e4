/*
 * serve.h: `stratrun serve`, the dashboard: a web page and a JSON API over a data dir and its channel backend, in
 * a process of its own (docs/dashboard.md).
 */
#ifndef STRATRUN_SERVE_H
#define STRATRUN_SERVE_H

/* Runs stratrun serve with argv (argv[at] is "serve"; global options may come before it) until SIGINT or SIGTERM.
 * Returns the exit status: 0, or 2 for a usage error or an address it cannot listen on. */
int serve_main(int argc, char **argv, int at);

#endif
