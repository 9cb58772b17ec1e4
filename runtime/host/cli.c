/*
 * cli.c: the shell tools' usage errors (cli.h).
 */
#include "host/cli.h"
#include "core/outq.h"
#include "lua/ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

int cli_usage(const char *tool, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    outq_printf(STDERR_FILENO, "stratrun %s: %s (see stratrun %s --help)\n", tool, buf, tool);
    return EXIT_USAGE;
}
