/*
 * cli.h: what the shell tools (tools.c, serve.c, chantool.c, scaffold.c, datatool.c) share in how they talk: a usage
 * error is one line on stderr naming the tool, the value and what is allowed, then where to read more; and how they
 * read an option with a value.
 */
#ifndef STRATRUN_CLI_H
#define STRATRUN_CLI_H

/* Writes "stratrun TOOL: MESSAGE (see stratrun TOOL --help)" on stderr; returns the usage exit status (2). */
int cli_usage(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether arg is the option name: "NAME" or "NAME=...". */
int cli_is_opt(const char *arg, const char *name);

/* Whether argv[*i] is the option name with a value, as "NAME VALUE" or "NAME=VALUE": 0 when it is another; 1 with
 * *val the value (and *i moved onto a separate one), or *val NULL when none follows (argv[*i] is the last argument,
 * or the next is argv[at], the tool's name; at -1: none). */
int cli_opt(int argc, char **argv, int *i, int at, const char *name, const char **val);

#endif
