/*
 * cdp.c: drives headless Chromium through the DevTools protocol for the dashboard's spec (spec/dashboard_spec.lua),
 * over a pipe (--remote-debugging-pipe: messages are JSON texts ended by a NUL byte, commands on the browser's fd 3,
 * answers and events on its fd 4), so no port and no WebSocket are needed:
 *
 *   cdp [--timeout S] URL EXPR...
 *
 * opens URL in a new page, then evaluates each EXPR in it in turn (Runtime.evaluate, awaiting a promise, by value)
 * and prints each answer, the protocol's JSON message, on a line of its own. An expression that waits for
 * something is written as an async function that polls. Exit 0; 1 with one line on stderr when the browser cannot
 * start, dies, or the whole takes longer than S seconds (default 60). $CHROMIUM names the browser (default
 * /usr/bin/chromium); its profile is a new temp folder, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t browser = -1;
static char profile[] = "/tmp/cdp-profile.XXXXXX";
static int to_fd = -1, from_fd = -1;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) != 0 && errno != ENOENT;
}

static void cleanup(void)
{
    if (browser > 0) {
        kill(browser, SIGKILL);
        waitpid(browser, NULL, 0);
        browser = -1;
    }
    nftw(profile, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cdp: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "cdp: timed out\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing left to say it with */ }
    if (browser > 0)
        kill(browser, SIGKILL);
    _exit(1);
}

/* JSON string of s, quoted, into a malloc'd buffer. */
static char *json_string(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(6 * n + 3), *o = out;
    if (!out)
        die("out of memory");
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static void send_msg(const char *msg)
{
    size_t n = strlen(msg) + 1;     /* with its NUL, the end of a message */
    for (size_t at = 0; at < n;) {
        ssize_t w = write(to_fd, msg + at, n - at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("the browser stopped taking commands: %s", strerror(errno));
        }
        at += (size_t)w;
    }
}

/* The next message from the browser, malloc'd. */
static char *next_msg(void)
{
    static char *buf;
    static size_t len, cap;
    for (;;) {
        char *nul = len ? memchr(buf, '\0', len) : NULL;
        if (nul) {
            size_t mlen = (size_t)(nul - buf);
            char *msg = malloc(mlen + 1);
            if (!msg)
                die("out of memory");
            memcpy(msg, buf, mlen + 1);
            memmove(buf, nul + 1, len - mlen - 1);
            len -= mlen + 1;
            return msg;
        }
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            buf = realloc(buf, cap);
            if (!buf)
                die("out of memory");
        }
        ssize_t r = read(from_fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("the browser closed its pipe (it died?)");
        len += (size_t)r;
    }
}

/* The answer to command id (events before it are skipped), malloc'd. */
static char *answer(int id)
{
    char prefix[32];
    int pn = snprintf(prefix, sizeof prefix, "{\"id\":%d,", id);
    for (;;) {
        char *msg = next_msg();
        if (strncmp(msg, prefix, (size_t)pn) == 0)
            return msg;
        free(msg);
    }
}

/* Waits for the event named method. */
static void event(const char *method)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"method\":\"%s\"", method);
    for (;;) {
        char *msg = next_msg();
        int found = strstr(msg, pat) != NULL;
        free(msg);
        if (found)
            return;
    }
}

/* The string value of "key":"..." in msg, malloc'd. */
static char *field(const char *msg, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(msg, pat);
    if (!p)
        die("no %s in %s", key, msg);
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    char *v = strndup(p, n);
    if (!v)
        die("out of memory");
    return v;
}

int main(int argc, char **argv)
{
    int i = 1, timeout = 60;
    if (i + 1 < argc && strcmp(argv[i], "--timeout") == 0) {
        timeout = atoi(argv[i + 1]);
        i += 2;
    }
    if (argc - i < 1) {
        fprintf(stderr, "usage: cdp [--timeout S] URL EXPR...\n");
        return 2;
    }
    const char *url = argv[i++];
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)timeout);
    if (!mkdtemp(profile))
        die("mkdtemp: %s", strerror(errno));
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    browser = fork();
    if (browser < 0)
        die("fork: %s", strerror(errno));
    if (browser == 0) {
        /* the browser's fds 3 and 4, whatever numbers the pipes got */
        int r = fcntl(to[0], F_DUPFD_CLOEXEC, 10), w = fcntl(from[1], F_DUPFD_CLOEXEC, 10);
        if (r < 0 || w < 0 || dup2(r, 3) < 0 || dup2(w, 4) < 0)
            _exit(127);
        char dir[64];
        snprintf(dir, sizeof dir, "--user-data-dir=%s", profile);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0 && !getenv("CDP_VERBOSE"))
            dup2(null, STDERR_FILENO);
        execl(chromium, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--remote-debugging-pipe", "--window-size=1280,900", dir, "about:blank", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    to_fd = to[1];
    from_fd = from[0];

    char msg[8192];
    send_msg("{\"id\":1,\"method\":\"Target.createTarget\",\"params\":{\"url\":\"about:blank\"}}");
    char *a = answer(1), *target = field(a, "targetId");
    free(a);
    snprintf(msg, sizeof msg, "{\"id\":2,\"method\":\"Target.attachToTarget\",\"params\":{\"targetId\":\"%s\","
             "\"flatten\":true}}", target);
    send_msg(msg);
    a = answer(2);
    char *session = field(a, "sessionId");
    free(a);
    free(target);
    /* The page loaded (its load event), then the expressions. */
    snprintf(msg, sizeof msg, "{\"id\":3,\"sessionId\":\"%s\",\"method\":\"Page.enable\"}", session);
    send_msg(msg);
    free(answer(3));
    char *u = json_string(url);
    size_t un = strlen(u) + strlen(session) + 128;
    char *nav = malloc(un);
    if (!nav)
        die("out of memory");
    snprintf(nav, un, "{\"id\":4,\"sessionId\":\"%s\",\"method\":\"Page.navigate\",\"params\":{\"url\":%s}}",
             session, u);
    send_msg(nav);
    free(nav);
    free(u);
    a = answer(4);
    if (strstr(a, "\"errorText\""))
        die("cannot open %s: %s", url, a);
    free(a);
    event("Page.loadEventFired");
    for (int id = 5; i < argc; i++, id++) {
        char *expr = json_string(argv[i]);
        size_t n = strlen(expr) + strlen(session) + 256;
        char *cmd = malloc(n);
        if (!cmd)
            die("out of memory");
        snprintf(cmd, n, "{\"id\":%d,\"sessionId\":\"%s\",\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":%s,"
                 "\"awaitPromise\":true,\"returnByValue\":true}}", id, session, expr);
        send_msg(cmd);
        free(cmd);
        free(expr);
        a = answer(id);
        printf("%s\n", a);
        fflush(stdout);
        free(a);
    }
    free(session);
    send_msg("{\"id\":999999,\"method\":\"Browser.close\"}");
    int st;
    alarm(10);
    waitpid(browser, &st, 0);
    browser = -1;
    cleanup();
    return 0;
}
