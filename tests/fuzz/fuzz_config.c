/*
 * fuzz_config.c: the config loader (runtime/host/options.c) on arbitrary file content, as
 *     stratrun --config FILE x.lua
 * reads it: Lua text evaluated in an empty environment with a memory cap and an instruction budget, every
 * assignment checked.
 *
 * Checked: options_load returns 0 or -1, never crashes or leaks (options_free after either); on -1 the message
 * is set and terminated; on 0 what it kept is sound: the bot ID passes id_check, parameter names are Lua
 * identifiers with a value of their type, the exchange settings are a JSON object, and the config is named.
 */
#include "fuzz.h"
#include "data/json.h"
#include "host/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_identifier(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_path(".conf");
    fuzz_write_file(path, data, size);
    char prog[] = "stratrun", opt[] = "--config", script[] = "x.lua";
    char *argv[] = {prog, opt, (char *)path, script, NULL};
    struct options o;
    char err[OPT_ERRLEN];
    memset(err, '#', sizeof err);
    int rc = options_load(&o, 4, argv, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1, "options_load returned %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "message not terminated");
        FUZZ_CHECK(strncmp(err, "config", 6) == 0, "message '%s' does not start with 'config'", err);
    } else {
        FUZZ_CHECK(o.mode == MODE_ONE && o.script && strcmp(o.script, "x.lua") == 0, "the script was lost");
        FUZZ_CHECK(o.config && strcmp(o.config, path) == 0, "config not recorded");
        FUZZ_CHECK(!o.help && !o.version, "a config turned on --help or --version");
        size_t idlen = strnlen(o.id, sizeof o.id);
        FUZZ_CHECK(idlen < sizeof o.id, "ID not terminated");
        FUZZ_CHECK(idlen == 0 || id_check(o.id, idlen) == NULL, "kept an invalid ID '%s'", o.id);
        for (size_t i = 0; i < o.nparams; i++) {
            const struct param *p = &o.params[i];
            FUZZ_CHECK(p->name && is_identifier(p->name), "parameter name '%s'", p->name ? p->name : "(null)");
            FUZZ_CHECK(p->type != PARAM_STRING || p->s != NULL, "string parameter %s without a value", p->name);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(strcmp(o.params[j].name, p->name) != 0, "parameter %s kept twice", p->name);
        }
        if (o.exchange) {
            lua_State *L = fuzz_lua_new(SIZE_MAX, 0);
            fuzz_open_json(L);
            char jerr[JSON_ERRLEN];
            FUZZ_CHECK(json_decode(L, o.exchange, strlen(o.exchange), jerr, sizeof jerr) == 0,
                       "exchange settings are not JSON: %s (%s)", o.exchange, jerr);
            FUZZ_CHECK(lua_istable(L, -1), "exchange settings are not an object: %s", o.exchange);
            fuzz_lua_close(L);
        }
    }
    options_free(&o);
    return 0;
}
