/*
 * cli.c: the shell tools' usage errors and options with a value (cli.h).
 */
#include "host/cli.h"
#include "core/outq.h"
#include "lua/ctx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

int cli_is_opt(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

int cli_opt(int argc, char **argv, int *i, int at, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (!cli_is_opt(a, name))
        return 0;
    if (a[n] == '=')
        *val = a + n + 1;
    else
        *val = *i + 1 < argc && *i + 1 != at ? argv[++*i] : NULL;
    return 1;
}
