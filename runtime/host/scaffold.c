/*
 * scaffold.c: stratrun new NAME [--dir DIR] (scaffold.h, docs/tools.md). Makes folder NAME holding NAME.lua, a
 * strategy that runs as it is (init, main, onexit, parameters with defaults, Log, a LogStatus table, Sleep),
 * stratrun.conf, a config that stratrun reads as it is, and the editor files compiled into the binary
 * (editor_embed.h: stratrun.lua, stratrun_ext.lua, .luarc.json, .luacheckrc), so an editor opened on the folder knows the API and
 * luacheck checks the strategy against it. Nothing that exists is ever replaced: the folder must be new, and each
 * file is created O_EXCL|O_NOFOLLOW in it.
 */
#include "host/scaffold.h"
#include "host/cli.h"
#include "host/editor_embed.h"
#include "host/options.h"
#include "core/chanid.h"
#include "core/outq.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "usage: stratrun new NAME [--dir DIR]\n" \
    "Makes folder NAME (in DIR, default the current folder) holding NAME.lua, a strategy that runs as it is,\n" \
    "stratrun.conf, its config, and the editor files (stratrun.lua, stratrun_ext.lua, .luarc.json, .luacheckrc)\n" \
    "that give an editor and luacheck the API. NAME: 1-64 characters of A-Z a-z 0-9 _ -. Nothing that exists is replaced.\n"

/* The strategy and its config; @NAME@ stands for the name. spec/scaffold_spec.lua runs both and checks the strategy
 * with luacheck against editor/.luacheckrc. */
static const char strategy[] =
    "-- @NAME@.lua: a strategy made by `stratrun new @NAME@`, to start from: a moving-average crossover on the paper\n"
    "-- exchange. Each round it reads the candles, buys `amount` coins when the fast average crosses above the slow\n"
    "-- one at a new bar and sells them when it crosses below, shows a status table, publishes its state on its\n"
    "-- channel (the bot's ID: stratrun channel get ID) and sleeps `interval` ms.\n"
    "--   stratrun @NAME@.lua                                  live until Ctrl-C, with ./stratrun.conf\n"
    "--   stratrun -p rounds=10 -p interval=500 @NAME@.lua     10 rounds, half a second apart\n"
    "--   stratrun replay --market \"sim:seed=1,bars=1440\" -p interval=60000 @NAME@.lua   a day, on a virtual clock\n"
    "--   luacheck @NAME@.lua                                  checks it against the API (.luacheckrc)\n"
    "\n"
    "-- Parameters, with their defaults: -p NAME=VALUE or the config's params set them before the script runs.\n"
    "fast = fast or 5                        -- bars of the fast moving average\n"
    "slow = slow or 20                       -- bars of the slow one\n"
    "amount = amount or 0.01                 -- coins per order\n"
    "interval = interval or 5000             -- ms between rounds\n"
    "rounds = rounds or 0                    -- rounds to run; 0: until stopped (Ctrl-C, stratrun stop ID)\n"
    "if trade == nil then trade = true end   -- false: log the crossings, place no order\n"
    "\n"
    "local round, crossings, last_bar = 0, 0, nil\n"
    "\n"
    "function init()\n"
    "  Log(\"@NAME@ started as bot\", _G(), \"- fast\", fast, \"slow\", slow, \"amount\", amount)\n"
    "end\n"
    "\n"
    "-- \"buy\" when the fast average crossed above the slow one at the last bar, \"sell\" below, else nil.\n"
    "local function crossing(records)\n"
    "  local n = #records\n"
    "  if n <= slow then return nil end\n"
    "  local f, s = TA.MA(records, fast), TA.MA(records, slow)\n"
    "  if f[n - 1] <= s[n - 1] and f[n] > s[n] then return \"buy\" end\n"
    "  if f[n - 1] >= s[n - 1] and f[n] < s[n] then return \"sell\" end\n"
    "  return nil\n"
    "end\n"
    "\n"
    "function main()\n"
    "  while rounds == 0 or round < rounds do\n"
    "    round = round + 1\n"
    "    local records, ticker, account = exchange.GetRecords(), exchange.GetTicker(), exchange.GetAccount()\n"
    "    if records and ticker and account then\n"
    "      local bar = records[#records].Time     -- a crossing counts once, at the round that sees its bar first\n"
    "      local side = bar ~= last_bar and crossing(records)\n"
    "      last_bar = bar\n"
    "      if side then\n"
    "        crossings = crossings + 1\n"
    "        Log(\"crossing\", crossings, side, \"at\", ticker.Last)\n"
    "        if trade and side == \"buy\" and account.Balance >= amount * ticker.Sell * 1.01 then\n"
    "          exchange.Buy(ticker.Sell, amount)\n"
    "        elseif trade and side == \"sell\" and account.Stocks >= amount then\n"
    "          exchange.Sell(ticker.Buy, amount)\n"
    "        end\n"
    "        account = exchange.GetAccount()\n"
    "      end\n"
    "      SetChannelData({ round = round, last = ticker.Last, balance = account.Balance, stocks = account.Stocks })\n"
    "      LogStatus(\"`\" .. json.encode({\n"
    "        type = \"table\", title = \"@NAME@\",\n"
    "        cols = { \"Round\", \"Time\", \"Last\", \"Balance\", \"Stocks\", \"Crossings\" },\n"
    "        rows = { { round, _D(), ticker.Last, _N(account.Balance, 2), account.Stocks, crossings } },\n"
    "      }) .. \"`\")\n"
    "    end\n"
    "    Sleep(interval)\n"
    "  end\n"
    "end\n"
    "\n"
    "function onexit()\n"
    "  Log(\"@NAME@ stopped; rounds:\", round, \"crossings:\", crossings)\n"
    "end\n";

static const char config[] =
    "-- stratrun.conf: the config of @NAME@.lua. `stratrun @NAME@.lua` in this folder reads it; from elsewhere:\n"
    "-- stratrun --config @NAME@/stratrun.conf @NAME@/@NAME@.lua. Lua that only assigns values; every key is\n"
    "-- optional, and the command line wins over it (-p over params, name by name). All the keys: stratrun's\n"
    "-- README.md, \"Config file\".\n"
    "\n"
    "-- id = \"632799\"                   -- the bot's ID and its channel's (default: one made for the script, kept)\n"
    "-- data_dir = \"/var/lib/stratrun\"  -- logs, stores, status, local channels (default: $STRATRUN_HOME, else\n"
    "--                                  -- ~/.local/state/stratrun)\n"
    "channel = \"local\"                  -- channels between bots of this host; \"redis://host:6379\" across hosts\n"
    "market = \"sim:seed=42\"             -- prices: a seeded random walk; or \"csv:FILE\", \"rest:BASE-URL\" (live)\n"
    "exchange = { balance = 10000, stocks = 0, maker_fee = 0.001, taker_fee = 0.002 }  -- the paper account\n"
    "params = { fast = 5, slow = 20, amount = 0.01, interval = 5000, rounds = 0, trade = true }\n";

/* text with every @NAME@ replaced by name (malloc'd, *len bytes), or NULL when out of memory. */
static char *expand(const char *text, const char *name, size_t *len)
{
    size_t nl = strlen(name), n = 0, cap = strlen(text) + 1;
    for (const char *p = text; (p = strstr(p, "@NAME@")); p += 6)
        cap += nl;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        if (strncmp(p, "@NAME@", 6) == 0) {
            memcpy(out + n, name, nl);
            n += nl;
            p += 6;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Creates file name in the folder dfd with data, never over anything (O_EXCL) nor through a link (O_NOFOLLOW),
 * mode 0666 less the umask, as an editor makes files. 0, or -1 with errno (the file removed again). */
static int create(int dfd, const char *name, const char *data, size_t len)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    size_t off = 0;
    errno = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int err = off < len ? (errno ? errno : EIO) : 0;
    if (close(fd) != 0 && !err)
        err = errno;
    if (err) {
        unlinkat(dfd, name, 0);
        errno = err;
        return -1;
    }
    return 0;
}

/* The k-th file of the folder (the strategy, its config, then editor/'s), its text (*text: a malloc'd one to free)
 * and length; NULL past the last. */
static const char *file_of(int k, const char *name, const char *lua, const char **data, size_t *len, char **text)
{
    *text = NULL;
    if (k < 2) {
        *data = *text = expand(k == 0 ? strategy : config, name, len);
        return k == 0 ? lua : "stratrun.conf";
    }
    if (!stratrun_editor[k - 2].name)
        return NULL;
    *data = stratrun_editor[k - 2].data;
    *len = stratrun_editor[k - 2].size;
    return stratrun_editor[k - 2].name;
}

int scaffold_main(int argc, char **argv, int at)
{
    const char *name = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (i == at)
            continue;
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            outq_printf(STDOUT_FILENO, "%s", USAGE);
            return EXIT_DONE;
        }
        if (cli_opt(argc, argv, &i, at, "--dir", &dir)) {
            if (!dir || !*dir)
                return cli_usage("new", "option --dir needs a folder");
        } else if (strncmp(s, "--data-dir", 10) == 0) {
            return cli_usage("new", "--data-dir: new makes a strategy's folder, not a data dir (its stratrun.conf "
                             "has a data_dir line)");
        } else if (s[0] == '-' && s[1]) {
            return cli_usage("new", "unknown option '%s'", s);
        } else if (name) {
            return cli_usage("new", "takes one NAME: '%s' is one too many", s);
        } else {
            name = s;
        }
    }
    if (!name)
        return cli_usage("new", "name the strategy: stratrun new NAME");
    const char *bad = id_check(name, strlen(name));
    if (bad)
        return cli_usage("new", "name '%.80s': it %s (a name is 1-64 characters of A-Z a-z 0-9 _ -)", name, bad);
    char shown[PATH_MAX + 80];
    size_t dl = dir ? strlen(dir) : 0;
    snprintf(shown, sizeof shown, "%s%s%s", dir ? dir : "", dl && dir[dl - 1] != '/' ? "/" : "", name);
    int dfd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        outq_printf(STDERR_FILENO, "stratrun new: --dir %s: %s\n", dir ? dir : ".", strerror(errno));
        return EXIT_STRATEGY;
    }
    if (mkdirat(dfd, name, 0777) != 0) {
        outq_printf(STDERR_FILENO, errno == EEXIST ? "stratrun new: %s exists already: choose another name, or "
                    "remove it first\n" : "stratrun new: cannot make folder %s: %s\n", shown, strerror(errno));
        close(dfd);
        return EXIT_STRATEGY;
    }
    int nfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int status = EXIT_DONE, made = 0;
    if (nfd < 0) {
        outq_printf(STDERR_FILENO, "stratrun new: cannot open the new folder %s: %s\n", shown, strerror(errno));
        status = EXIT_STRATEGY;
    }
    char lua[ID_MAX + 8];
    snprintf(lua, sizeof lua, "%s.lua", name);
    const char *fname, *data;
    size_t len = 0;
    char *text;
    while (status == EXIT_DONE && (fname = file_of(made, name, lua, &data, &len, &text))) {
        if (data && create(nfd, fname, data, len) == 0) {
            made++;
        } else {
            outq_printf(STDERR_FILENO, "stratrun new: cannot write %s/%s: %s\n", shown, fname,
                        data ? strerror(errno) : "out of memory");
            status = EXIT_STRATEGY;
        }
        free(text);
    }
    if (status != EXIT_DONE) {     /* all or nothing: what was made goes again */
        for (int k = 0; k < made; k++) {
            unlinkat(nfd, file_of(k, name, lua, &data, &len, &text), 0);
            free(text);
        }
        unlinkat(dfd, name, AT_REMOVEDIR);
    } else {
        outq_printf(STDOUT_FILENO, "stratrun new: made %s/ with %s (the strategy), stratrun.conf (its config) and "
                    "the editor files stratrun.lua, stratrun_ext.lua, .luarc.json, .luacheckrc\n", shown, lua);
        outq_printf(STDOUT_FILENO, "run it: cd %s && stratrun %s\n", shown, lua);
    }
    if (nfd >= 0)
        close(nfd);
    close(dfd);
    return status;
}
