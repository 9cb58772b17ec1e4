/*
 * fuzz_id_check.c: ID validation (id_check, runtime/core/chanid.h). Bot and channel IDs name files of the data dir
 * and keys in Redis, and arrive from the command line, configs, other bots' channel names and Redis.
 *
 * Checked: id_check accepts exactly 1 to ID_MAX bytes of [A-Za-z0-9_-] (so never "", ".", "..", a slash, a NUL
 * or a glob character) and says why it refuses; the command line agrees: `--id ID x.lua` and
 * `run x.lua@ID` load exactly when the ID is valid, and keep it as given.
 */
#include "fuzz.h"
#include "core/chanid.h"
#include "host/options.h"

#include <stdlib.h>
#include <string.h>

static int valid(const char *s, size_t n)
{
    if (n < 1 || n > ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

/* options_load on argv; returns its result and checks the ID it kept. */
static int load(int argc, char **argv, const char *id, const char *kept_at)
{
    struct options o;
    char err[OPT_ERRLEN];
    int rc = options_load(&o, argc, argv, err, sizeof err);
    if (rc == 0) {
        const char *kept = kept_at[0] == 'b' ? o.bots[0].id : o.id;
        FUZZ_CHECK(strcmp(kept, id) == 0, "kept ID '%s', given '%s'", kept, id);
    } else {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
    }
    options_free(&o);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *why = id_check(s, size);
    int ok = valid(s, size);
    FUZZ_CHECK(ok == (why == NULL), "id_check says %s of %zu bytes '%.*s'", why ? why : "valid", size, (int)size, s);
    FUZZ_CHECK(ok || *why != '\0', "empty reason");
    if (ok)
        FUZZ_CHECK(memchr(s, '/', size) == NULL && memchr(s, '.', size) == NULL, "a path character passed");

    /* The command line: the bytes up to the first NUL, as a C string. */
    size_t n = strnlen(s, size);
    char *id = malloc(n + 1), *script = malloc(n + 7);
    FUZZ_CHECK(id && script, "out of memory");
    memcpy(id, s, n);
    id[n] = '\0';
    ok = valid(id, n);
    const char *empty = fuzz_scratch_path(".conf");     /* an empty config, so that no ./stratrun.conf is read */
    char prog[] = "stratrun", config[] = "--config", opt[] = "--id", x[] = "x.lua", run_[] = "run";
    char *one[] = {prog, config, (char *)empty, opt, id, x, NULL};
    FUZZ_CHECK((load(6, one, id, "o") == 0) == ok, "--id '%s': %s", id, ok ? "refused" : "accepted");
    if (!memchr(id, '@', n) && !memchr(id, '/', n)) {  /* else it splits elsewhere: SCRIPT@ID takes the last '@' */
        memcpy(script, "x.lua@", 6);
        memcpy(script + 6, id, n + 1);
        char *run[] = {prog, run_, config, (char *)empty, script, NULL};
        FUZZ_CHECK((load(5, run, id, "b") == 0) == ok, "run %s: %s", script, ok ? "refused" : "accepted");
    }
    free(id);
    free(script);
    return 0;
}
