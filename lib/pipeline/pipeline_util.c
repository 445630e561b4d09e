/* pipeline_util.c - logging, cancellation, metrics, files and tarballs of lib/pipeline.
 * SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE /* RUSAGE_THREAD, pipe2 */
#include "pipeline_int.h"

#include "core/atomic_file.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/path.h"
#include "core/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROC_TAR_LIST_MAX ((size_t)4 << 20) /* bytes of `tar -t` output accepted */
#define PROC_TAR_MEMBERS_MAX 4096           /* members of one input tarball */

const char *pipeline_exit_name(int code)
{
    switch (code) {
#define PROC_X_NAME(n, v)                                                                          \
    case v:                                                                                        \
        return #n;
        PIPELINE_X_LIST(PROC_X_NAME)
#undef PROC_X_NAME
    default:
        return "UNKNOWN";
    }
}

/* ---- log ------------------------------------------------------------------------------- */

enum err proc_log_open(struct proc_log *l, const char *path, bool echo,
                       const struct pipeline_hooks *hooks, struct err_info *ei)
{
    l->fp = fopen(path, "ae");
    l->echo = echo && hooks && hooks->log;
    l->hooks = hooks;
    if (!l->fp) {
        return err_set(ei, ERR_IO, "could not open log file \"%s\": %s", path, ERR_ERRNO(errno));
    }
    setvbuf(l->fp, NULL, _IOLBF, 0);
    return ERR_OK;
}

void proc_log_close(struct proc_log *l)
{
    if (l->fp) {
        fclose(l->fp);
        l->fp = NULL;
    }
}

void proc_log(struct proc_log *l, const char *level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line per entry: embedded newlines would break "one-line reason" readers */
    for (char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    if (l->fp) {
        fprintf(l->fp, "%s - %s\n", level, msg);
    }
    if (l->echo) {
        char line[2100];
        snprintf(line, sizeof line, "%s - %s", level, msg);
        l->hooks->log(l->hooks->ud, false, line);
    }
}

void proc_log_divider(struct proc_log *l, const char *title)
{
    char ts[40];
    char line[256];
    clock_format_rfc3339(clock_realtime_ns(), ts, sizeof ts);
    snprintf(line, sizeof line,
             ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>> %.80s %s <<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", title, ts);
    if (l->fp) {
        fprintf(l->fp, "%s\n", line);
    }
    if (l->echo) {
        l->hooks->log(l->hooks->ud, false, line);
    }
}

/* ---- cancellation ---------------------------------------------------------------------- */

bool proc_cancelled(const struct pipeline_hooks *h)
{
    return h && h->cancelled && h->cancelled(h->ud);
}

/* ---- metrics --------------------------------------------------------------------------- */

void proc_usage_now(struct proc_usage *u, bool self)
{
    u->wall_ns = clock_mono_ns();
    u->self = self;
    getrusage(self ? RUSAGE_SELF : RUSAGE_THREAD, &u->ru);
}

static double tv_sec(const struct timeval *t)
{
    return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

enum err proc_metrics_write(const char *path, const char *command, const struct proc_usage *a,
                            int exit_status, struct err_info *ei)
{
    struct proc_usage b;
    struct buf t;
    proc_usage_now(&b, a->self);
    double wall = (double)(b.wall_ns - a->wall_ns) / 1e9;
    double user = tv_sec(&b.ru.ru_utime) - tv_sec(&a->ru.ru_utime);
    double sys = tv_sec(&b.ru.ru_stime) - tv_sec(&a->ru.ru_stime);
    int cpu = wall > 0 ? (int)((user + sys) / wall * 100.0 + 0.5) : 0;
    int mins = (int)(wall / 60.0);
    double secs = wall - 60.0 * mins;
    enum err rc = ERR_OK;
    buf_init(&t, 8192);
    /* the layout of GNU time --verbose, which CALCLOUD's model ingest scrapes */
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (rc == ERR_OK) {                                                                        \
            rc = buf_printf(&t, __VA_ARGS__);                                                      \
        }                                                                                          \
    } while (0)
    ADD("\tCommand being timed: \"%s\"\n", command);
    ADD("\tUser time (seconds): %.2f\n", user);
    ADD("\tSystem time (seconds): %.2f\n", sys);
    ADD("\tPercent of CPU this job got: %d%%\n", cpu);
    ADD("\tElapsed (wall clock) time (h:mm:ss or m:ss): %d:%05.2f\n", mins, secs);
    ADD("\tAverage shared text size (kbytes): 0\n");
    ADD("\tAverage unshared data size (kbytes): 0\n");
    ADD("\tAverage stack size (kbytes): 0\n");
    ADD("\tAverage total size (kbytes): 0\n");
    ADD("\tMaximum resident set size (kbytes): %ld\n", b.ru.ru_maxrss);
    ADD("\tAverage resident set size (kbytes): 0\n");
    ADD("\tMajor (requiring I/O) page faults: %ld\n", b.ru.ru_majflt - a->ru.ru_majflt);
    ADD("\tMinor (reclaiming a frame) page faults: %ld\n", b.ru.ru_minflt - a->ru.ru_minflt);
    ADD("\tVoluntary context switches: %ld\n", b.ru.ru_nvcsw - a->ru.ru_nvcsw);
    ADD("\tInvoluntary context switches: %ld\n", b.ru.ru_nivcsw - a->ru.ru_nivcsw);
    ADD("\tSwaps: 0\n");
    ADD("\tFile system inputs: %ld\n", b.ru.ru_inblock - a->ru.ru_inblock);
    ADD("\tFile system outputs: %ld\n", b.ru.ru_oublock - a->ru.ru_oublock);
    ADD("\tSocket messages sent: 0\n");
    ADD("\tSocket messages received: 0\n");
    ADD("\tSignals delivered: 0\n");
    ADD("\tPage size (bytes): %ld\n", sysconf(_SC_PAGESIZE));
    ADD("\tExit status: %d\n", exit_status);
#undef ADD
    if (rc == ERR_OK) {
        rc = proc_write_text(path, buf_cstr(&t), ei);
    } else {
        err_set(ei, rc, "metrics text too long");
    }
    buf_free(&t);
    return rc;
}

/* ---- files ----------------------------------------------------------------------------- */

enum err proc_join(char *out, size_t cap, const char *a, const char *b, struct err_info *ei)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= cap) {
        return err_set(ei, ERR_TOO_LARGE, "path too long: \"%s/%s\"", a, b);
    }
    return ERR_OK;
}

enum err proc_mkdirs(const char *path, struct err_info *ei)
{
    char tmp[PROC_PATH_MAX];
    if (!str_copy(tmp, sizeof tmp, path)) {
        return err_set(ei, ERR_TOO_LARGE, "path too long: \"%s\"", path);
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return err_set(ei, ERR_IO, "could not create directory \"%s\": %s", tmp,
                               ERR_ERRNO(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return err_set(ei, ERR_IO, "could not create directory \"%s\": %s", tmp, ERR_ERRNO(errno));
    }
    return ERR_OK;
}

void proc_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char sub[PROC_PATH_MAX];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            if (proc_join(sub, sizeof sub, path, de->d_name, NULL) == ERR_OK) {
                proc_rmtree(sub);
            }
        }
        closedir(d);
    }
    rmdir(path);
}

enum err proc_write_text(const char *path, const char *text, struct err_info *ei)
{
    return atomic_file_put(path, text, strlen(text), true, ei);
}

enum err proc_copy_file(const char *src, const char *dst, struct err_info *ei)
{
    return proc_copy_file_c(src, dst, NULL, ei);
}

enum err proc_copy_file_c(const char *src, const char *dst, const struct pipeline_hooks *h,
                          struct err_info *ei)
{
    char buf[1 << 16];
    struct atomic_file af;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return err_set(ei, ERR_IO, "could not open file \"%s\": %s", src, ERR_ERRNO(errno));
    }
    enum err rc = atomic_file_open(&af, dst, ei);
    if (rc != ERR_OK) {
        close(in);
        return rc;
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            rc = err_set(ei, ERR_IO, "could not read file \"%s\": %s", src, ERR_ERRNO(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        if (proc_cancelled(h)) {
            rc = err_set(ei, ERR_CANCELLED, "cancelled while copying \"%s\"", src);
            break;
        }
        rc = atomic_file_write(&af, buf, (size_t)r, ei);
        if (rc != ERR_OK) {
            break;
        }
    }
    close(in);
    if (rc != ERR_OK) {
        atomic_file_abort(&af);
        return rc;
    }
    return atomic_file_commit(&af, true, ei);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum err proc_list_dir(const char *dir, const char *prefix, const char *suffix, char **names,
                       size_t cap, size_t *n, struct err_info *ei)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) {
        return err_set(ei, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO,
                       "could not open directory \"%s\": %s", dir, ERR_ERRNO(errno));
    }
    struct dirent *de;
    enum err rc = ERR_OK;
    while ((de = readdir(d)) != NULL) {
        char full[PROC_PATH_MAX];
        struct stat st;
        if (de->d_name[0] == '.' || !str_starts_with(de->d_name, prefix) ||
            !str_ends_with(de->d_name, suffix)) {
            continue;
        }
        if (proc_join(full, sizeof full, dir, de->d_name, NULL) != ERR_OK ||
            lstat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        if (*n >= cap) {
            rc = err_set(ei, ERR_TOO_LARGE, "more than %zu files in \"%s\"", cap, dir);
            break;
        }
        names[*n] = str_dup(de->d_name);
        if (!names[*n]) {
            rc = err_set(ei, ERR_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc != ERR_OK) {
        proc_free_names(names, *n);
        *n = 0;
        return rc;
    }
    qsort(names, *n, sizeof names[0], cmp_name);
    return ERR_OK;
}

void proc_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
}

/* Run argv (an absolute program path) in a clean environment with stdout captured into @p out
 * (may be NULL: discarded); exit status returned. posix_spawn (no fork of a large threaded
 * process), the pipe is O_CLOEXEC so no other run's child inherits it, the child is always
 * reaped; a cancellation seen while it runs kills it (ERR_CANCELLED). */
static enum err run_capture(char *const argv[], struct buf *out, int *status,
                            const struct pipeline_hooks *h, struct err_info *ei)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return err_set(ei, ERR_IO, "could not create a pipe: %s", ERR_ERRNO(errno));
    }
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(pfd[0]);
        close(pfd[1]);
        return err_set(ei, ERR_NOMEM, "out of memory");
    }
    /* dup2 clears FD_CLOEXEC on the child's stdout; everything else closes on exec */
    int fe = posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    if (fe == 0) {
        fe = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    /* a clean environment: tar's listing format must not depend on the locale */
    static char e_path[] = "PATH=/usr/bin:/bin", e_lc[] = "LC_ALL=C";
    char *envp[] = {e_path, e_lc, NULL};
    pid_t pid = -1;
    if (fe == 0) {
        fe = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (fe != 0) {
        close(pfd[0]);
        return err_set(ei, ERR_IO, "could not run %s: %s", argv[0], ERR_ERRNO(fe));
    }
    enum err rc = ERR_OK;
    bool killed = false;
    char chunk[8192];
    for (;;) {
        struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
        int pr = poll(&pf, 1, 100);
        if (pr < 0 && errno != EINTR) {
            break;
        }
        if (!killed && proc_cancelled(h)) {
            kill(pid, SIGKILL);
            killed = true;
        }
        if (pr <= 0) {
            continue;
        }
        ssize_t r = read(pfd[0], chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        if (out && rc == ERR_OK) {
            rc = buf_append(out, chunk, (size_t)r);
        }
    }
    close(pfd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
    if (killed) {
        return err_set(ei, ERR_CANCELLED, "cancelled while %s ran", argv[0]);
    }
    if (rc != ERR_OK) {
        return err_set(ei, rc, "tar listing larger than %zu bytes", PROC_TAR_LIST_MAX);
    }
    return ERR_OK;
}

enum err proc_md5_file(const char *path, char hex[33], uint64_t *size, struct err_info *ei)
{
    unsigned char buf[1 << 16];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_set(ei, ERR_IO, "could not open file \"%s\": %s", path, ERR_ERRNO(errno));
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum err rc = ERR_OK;
    uint64_t n = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        rc = err_set(ei, ERR_NOMEM, "out of memory");
    }
    while (rc == ERR_OK) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = err_set(ei, ERR_IO, "could not read file \"%s\": %s", path, ERR_ERRNO(errno));
            break;
        }
        if (r == 0) {
            break;
        }
        n += (uint64_t)r;
        if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) {
            rc = err_set(ei, ERR_INTERNAL, "MD5 of \"%s\" failed", path);
        }
    }
    if (rc == ERR_OK && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        rc = err_set(ei, ERR_INTERNAL, "MD5 of \"%s\" failed", path);
    }
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (rc == ERR_OK) {
        for (unsigned int i = 0; i < mdlen && i < 16; i++) {
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        }
        *size = n;
    }
    return rc;
}

static bool bad_member_name(const char *name)
{
    return name[0] == '/' || name[0] == '\0' || path_has_dotdot(name);
}

/* argv words shared by both tar invocations (execv wants char *const[]) */
static char a_tar[] = "/bin/tar", a_gzip[] = "--gzip", a_file[] = "--file",
            a_dir[] = "--directory";

enum err proc_tar_create(const char *tarball, const char *dir, const char *member,
                         const struct pipeline_hooks *h, struct err_info *ei)
{
    static char a_create[] = "--create", a_dashes[] = "--";
    char tb[PROC_PATH_MAX], dd[PROC_PATH_MAX], mm[PROC_PATH_MAX];
    int status = 0;
    if (strlen(tarball) >= sizeof tb || strlen(dir) >= sizeof dd || strlen(member) >= sizeof mm) {
        return err_set(ei, ERR_TOO_LARGE, "tarball path too long for \"%s\"", tarball);
    }
    str_copy(tb, sizeof tb, tarball);
    str_copy(dd, sizeof dd, dir);
    str_copy(mm, sizeof mm, member);
    char *argv[] = {a_tar, a_create, a_gzip, a_file, tb, a_dir, dd, a_dashes, mm, NULL};
    enum err rc = run_capture(argv, NULL, &status, h, ei);
    if (rc == ERR_OK && status != 0) {
        rc = err_set(ei, ERR_IO, "could not create tarball \"%s\" of \"%s/%s\" (tar exit status %d)",
                     tarball, dir, member, status);
    }
    return rc;
}

enum err proc_untar(const char *tarball, const char *dest, const struct pipeline_hooks *h,
                    struct err_info *ei)
{
    struct buf names;
    struct buf verbose;
    int status = 0;
    enum err rc;
    char tb[PROC_PATH_MAX];
    char dd[PROC_PATH_MAX];
    str_copy(tb, sizeof tb, tarball);
    str_copy(dd, sizeof dd, dest);
    buf_init(&names, PROC_TAR_LIST_MAX);
    buf_init(&verbose, PROC_TAR_LIST_MAX);
    static char a_list[] = "--list", a_verbose[] = "--verbose", a_extract[] = "--extract",
                a_owner[] = "--no-same-owner", a_perm[] = "--no-same-permissions";
    static char empty[1] = "";
    char *list_argv[] = {a_tar, a_list, a_gzip, a_file, tb, NULL};
    char *vlist_argv[] = {a_tar, a_list, a_verbose, a_gzip, a_file, tb, NULL};
    rc = run_capture(list_argv, &names, &status, h, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    if (status != 0) {
        rc = err_set(ei, ERR_PARSE, "cannot read tarball \"%s\": not a gzip-compressed tar file",
                     tarball);
        goto out;
    }
    rc = run_capture(vlist_argv, &verbose, &status, h, ei);
    if (rc != ERR_OK) {
        goto out;
    }
    /* names: one per line; refuse absolute names and ".." (CVE-2007-4559) */
    size_t members = 0;
    char *save = NULL;
    char *text = names.data ? names.data : empty;
    for (char *line = text; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) {
            *nl = '\0';
        }
        if (++members > PROC_TAR_MEMBERS_MAX) {
            rc = err_set(ei, ERR_TOO_LARGE, "tarball \"%s\" has more than %d members", tarball,
                         PROC_TAR_MEMBERS_MAX);
            goto out;
        }
        if (bad_member_name(line)) {
            rc = err_set(ei, ERR_FORBIDDEN,
                         "tarball \"%s\" member \"%s\" would be written outside the input "
                         "directory",
                         tarball, line);
            goto out;
        }
    }
    if (members == 0) {
        rc = err_set(ei, ERR_PARSE, "tarball \"%s\" is empty or not a tar file", tarball);
        goto out;
    }
    /* types: the first character of each verbose line is the member type */
    text = verbose.data ? verbose.data : empty;
    for (char *line = text; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) {
            *nl = '\0';
        }
        if (line[0] != '-' && line[0] != 'd') {
            rc = err_set(ei, ERR_FORBIDDEN,
                         "tarball \"%s\" holds a link or device (\"%.60s\"); only regular files "
                         "and directories are accepted",
                         tarball, line);
            goto out;
        }
    }
    char *x_argv[] = {a_tar, a_extract, a_gzip, a_owner, a_perm, a_file, tb, a_dir, dd, NULL};
    rc = run_capture(x_argv, NULL, &status, h, ei);
    if (rc == ERR_OK && status != 0) {
        rc = err_set(ei, ERR_PARSE, "could not extract tarball \"%s\" (tar exit status %d)",
                     tarball, status);
    }
out:
    buf_free(&names);
    buf_free(&verbose);
    return rc;
}
