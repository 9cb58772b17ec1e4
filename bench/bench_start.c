/*
 * bench_start: how long a stratrun process takes from its start to the first line of a trivial strategy, and to its
 * end (issue 17: under 10 ms wall), against the same for the plain Lua interpreter (lua5.4 -e) measured in the same
 * run, in turns. Two kinds of stratrun run: a new live bot (a new --id each time: its folder, lock, log and id are
 * made), and one bot restarted (the same --id each time: what a bot restarted by hand or by systemd does). Stdout is
 * a pipe, read until the first newline. Also the CPU the process used (user + system, from wait4).
 *   build/bench_start [RUNS]        (default 200; the stratrun next to this program)
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

struct sample {
    int64_t first_line, total, cpu;     /* ns */
};

/* Runs argv with stdout on a pipe: the time to its first line, to its exit, and its CPU. */
static int run_once(char *const argv[], struct sample *s)
{
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) return -1;
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (dup2(fd[1], 1) < 0 || (null >= 0 && dup2(null, 2) < 0)) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    char buf[4096];
    int got_line = 0;
    ssize_t n;
    while ((n = read(fd[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (!got_line && memchr(buf, '\n', (size_t)n)) {
            s->first_line = now_ns() - t0;
            got_line = 1;
        }
    }
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    s->total = now_ns() - t0;
    s->cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
             ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    if (!got_line || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_start: %s did not print a line and exit 0 (status %d)\n", argv[0], status);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void print_figures(const char *what, int64_t *v, int runs)
{
    struct figures f = summarize(v, (size_t)runs);
    printf("  %-34s median %6.2f ms, p99 %6.2f ms\n", what, f.median / 1e6, f.p99 / 1e6);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    if (runs < 10 || runs > 100000) {
        fprintf(stderr, "usage: bench_start [RUNS]   (RUNS from 10 to 100000, default 200)\n");
        return 2;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (len <= 0) return 1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    strcpy(slash + 1, "stratrun");

    char dir[] = "/tmp/stratrun-bench-start-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char script[sizeof dir + 16];
    snprintf(script, sizeof script, "%s/hello.lua", dir);
    FILE *f = fopen(script, "wx");
    if (!f) return 1;
    fputs("function main() Log(\"up\") end\n", f);
    fclose(f);

    int64_t *v[9];
    for (int k = 0; k < 9; k++) v[k] = calloc((size_t)runs, sizeof(int64_t));
    int rc = 0;
    for (int i = 0; i < runs && rc == 0; i++) {
        char id[32];
        snprintf(id, sizeof id, "b%d", i);
        char a_data[] = "--data-dir", a_id[] = "--id", again[] = "again", lua_bin[] = "lua5.4", lua_e[] = "-e",
             lua_code[] = "print('up')";
        char *sr[] = {exe, a_data, dir, a_id, id, script, NULL};
        char *sr2[] = {exe, a_data, dir, a_id, again, script, NULL};
        char *lua[] = {lua_bin, lua_e, lua_code, NULL};
        struct sample a, b, c;
        if (run_once(sr, &a) != 0 || run_once(lua, &b) != 0 || run_once(sr2, &c) != 0) rc = 1;
        v[0][i] = a.first_line, v[1][i] = a.total, v[2][i] = a.cpu;
        v[3][i] = b.first_line, v[4][i] = b.total, v[5][i] = b.cpu;
        v[6][i] = c.first_line, v[7][i] = c.total, v[8][i] = c.cpu;
    }
    if (rc == 0) {
        printf("process start, %d runs each, in turns:\n", runs);
        printf(" stratrun --id bN hello.lua (a new live bot each run: its folder, lock, log file, id are made):\n");
        print_figures("start to the first line", v[0], runs);
        print_figures("start to exit", v[1], runs);
        print_figures("CPU (user + system)", v[2], runs);
        printf(" stratrun --id again hello.lua (one live bot restarted: its folder is there):\n");
        print_figures("start to the first line", v[6], runs);
        print_figures("start to exit", v[7], runs);
        print_figures("CPU (user + system)", v[8], runs);
        printf(" lua5.4 -e \"print('up')\" (the baseline):\n");
        print_figures("start to the first line", v[3], runs);
        print_figures("start to exit", v[4], runs);
        print_figures("CPU (user + system)", v[5], runs);
        struct figures a = summarize(v[0], (size_t)runs), b = summarize(v[3], (size_t)runs),
                       c = summarize(v[6], (size_t)runs);
        printf(" first line, stratrun / lua5.4 medians: a new bot %.2fx, a bot restarted %.2fx\n", a.median / b.median,
               c.median / b.median);
    }
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (int k = 0; k < 9; k++) free(v[k]);
    return rc;
}
