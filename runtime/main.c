/*
 * main.c: stratrun's entry point. Reads the options, opens the channel engine, runs the bot, flushes, exits.
 * Everything a strategy can call lives in the modules api.c loads; the lifecycle lives in bot.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bot.h"
#include "engine.h"
#include "log.h"
#include "options.h"

static int usage_error(const char *msg)
{
    fprintf(stderr, "stratrun: %s\n", msg);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct options opt;
    char err[OPT_ERRLEN];
    if (options_load(&opt, argc, argv, err, sizeof err) != 0) {
        options_free(&opt);
        return usage_error(err);
    }
    if (opt.help || opt.version) {
        fputs(opt.help ? options_usage : "stratrun " STRATRUN_VERSION "\n", stdout);
        return EXIT_DONE;
    }
    if (options_resolve(&opt, err, sizeof err) != 0) {
        options_free(&opt);
        return usage_error(err);
    }
    bot_signals_install();
    struct engine *engine = engine_open(opt.channel, opt.data_dir, err, sizeof err);
    if (!engine) {
        options_free(&opt);
        return usage_error(err);
    }
    struct bot *bot = bot_new(&opt, engine, err, sizeof err);
    int status = bot ? bot_run(bot) : usage_error(err);
    log_panel_clear();
    fflush(stdout);
    /* The last published state goes out before exit, waiting at most one second. */
    engine_close(engine, 1000);
    bot_free(bot);
    options_free(&opt);
    return status;
}
