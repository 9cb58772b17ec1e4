/*
 * cli.h: what the shell tools (tools.c, serve.c, chantool.c, scaffold.c) share in how they talk: a usage error is one
 * line on stderr naming the tool, the value and what is allowed, then where to read more.
 */
#ifndef STRATRUN_CLI_H
#define STRATRUN_CLI_H

/* Writes "stratrun TOOL: MESSAGE (see stratrun TOOL --help)" on stderr; returns the usage exit status (2). */
int cli_usage(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
