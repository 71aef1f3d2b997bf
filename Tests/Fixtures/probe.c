/*
 * probe.c - sandbox probe for Cella's sandbox tests.
 *
 * Build: gcc -static -O2 -Wall -Wextra -Werror -o probe probe.c
 *
 * Contract: `probe CHECK [ARGS...]` prints exactly one line on stdout and
 * exits 0 (`ok` / `ok <value>`), 1 (`errno=<NAME>`, possibly followed by
 * extra key=value fields) or 2 (`usage: ...`). Diagnostics go to stderr.
 *
 * The `syscall NAME` checks are an errno oracle: their arguments are chosen so
 * that a kernel which lets the call through returns success or a distinctive
 * errno (EINVAL, EBADF, EFAULT, ENOENT, ...). EPERM or ENOSYS therefore points
 * at a seccomp filter or a missing capability.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

/* ---- syscall numbers glibc's headers may lack (x86_64 / aarch64) ---- */
#if defined(__x86_64__)
#  define PROBE_NR(x86, arm) (x86)
#elif defined(__aarch64__)
#  define PROBE_NR(x86, arm) (arm)
#else
#  define PROBE_NR(x86, arm) (-1) /* unknown arch: call fails with ENOSYS */
#endif
#ifndef SYS_userfaultfd
#  define SYS_userfaultfd PROBE_NR(323, 282)
#endif
#ifndef SYS_kexec_load
#  define SYS_kexec_load PROBE_NR(246, 104)
#endif
#ifndef SYS_process_vm_readv
#  define SYS_process_vm_readv PROBE_NR(310, 270)
#endif
#ifndef SYS_io_uring_setup
#  define SYS_io_uring_setup 425
#endif
#ifndef SYS_open_tree
#  define SYS_open_tree 428
#endif
#ifndef SYS_fsopen
#  define SYS_fsopen 430
#endif
#ifndef SYS_clone3
#  define SYS_clone3 435
#endif

#define KEYCTL_GET_KEYRING_ID_ 0
#define KEY_SPEC_PROCESS_KEYRING_ (-2)
#define KEY_SPEC_SESSION_KEYRING_ (-3)
#define REBOOT_MAGIC1 0xfee1deadL
#define REBOOT_MAGIC2 0x28121969L
#define REBOOT_CMD_INVALID 0x0badc0deL /* not a LINUX_REBOOT_CMD_* value */
#define KEXEC_SEGMENT_MAX_ 16

#define MIB (1024L * 1024L)

/* ---------------------------------------------------------------- output */

#define E(x) { x, #x }
static const struct { int num; const char *name; } errno_names[] = {
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
    E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
    E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR),
    E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY),
    E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE), E(EDOM),
    E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOLCK), E(ENOSYS),
    E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENODATA), E(ETIME),
    E(EPROTO), E(EOVERFLOW), E(EBADFD), E(EILSEQ), E(EUSERS), E(ENOTSOCK),
    E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT),
    E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT),
    E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN),
    E(ENETUNREACH), E(ENETRESET), E(ECONNABORTED), E(ECONNRESET),
    E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ESHUTDOWN), E(ETIMEDOUT),
    E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY),
    E(EINPROGRESS), E(ESTALE), E(EDQUOT), E(ECANCELED), E(ENOKEY),
    E(EKEYEXPIRED), E(EKEYREVOKED), E(EKEYREJECTED), E(EOWNERDEAD),
    E(ENOTRECOVERABLE), E(ENOMEDIUM), E(EMEDIUMTYPE),
};
#undef E

static const char *errno_name(int e)
{
    static char buf[32];
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
        if (errno_names[i].num == e)
            return errno_names[i].name;
    snprintf(buf, sizeof buf, "%d", e);
    return buf;
}

/* Every check ends in one of these: print the single line, flush, exit. */
static int finish(int code)
{
    fflush(stdout);
    exit(code);
}

static int ok(void)
{
    puts("ok");
    return finish(0);
}

static int fail(int e)
{
    printf("errno=%s\n", errno_name(e));
    return finish(1);
}

static int usage(const char *what)
{
    printf("usage: probe %s\n", what);
    return finish(2);
}

/* Strict decimal parse into [min, max]. Returns 0 on success. */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A child died from a signal: die the same way, as if the call had been made
 * directly (e.g. a seccomp filter with SECCOMP_RET_KILL). */
static void die_like(int sig)
{
    fflush(stdout);
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

/* Wait for pid; returns its exit code, or re-raises its fatal signal. */
static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return errno;
    if (WIFSIGNALED(st))
        die_like(WTERMSIG(st));
    return WEXITSTATUS(st);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Numeric entries of a /proc directory, sorted; if self_fd, skips the DIR's own fd. */
static int list_numeric(const char *path, long **out, size_t *count, int self_fd)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    size_t n = 0, cap = 64;
    long *v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d)) != NULL) {
        long x;
        if (parse_long(de->d_name, 0, LONG_MAX, &x) < 0)
            continue;
        if (self_fd && x == dirfd(d))
            continue;
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        if (v)
            v[n++] = x;
    }
    closedir(d);
    if (!v) {
        errno = ENOMEM;
        return -1;
    }
    qsort(v, n, sizeof *v, cmp_long);
    *out = v;
    *count = n;
    return 0;
}

static void print_list(const long *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%ld", i ? "," : "", v[i]);
}

/* -------------------------------------------------------- syscall checks */
/* Each returns >= 0 on success or -1 with errno set. */

static long close_fd(long fd)
{
    if (fd >= 0)
        close((int)fd);
    return fd < 0 ? -1 : 0;
}

static long sc_mount(void)
{
    if (mkdir("/tmp/probe-mnt", 0755) < 0 && errno != EEXIST)
        fprintf(stderr, "probe: mkdir /tmp/probe-mnt: %s\n", strerror(errno));
    long r = syscall(SYS_mount, "none", "/tmp/probe-mnt", "tmpfs", 0L, "size=1m");
    if (r == 0 && syscall(SYS_umount2, "/tmp/probe-mnt", 0L) < 0)
        fprintf(stderr, "probe: umount2: %s\n", strerror(errno));
    return r;
}

static long sc_umount2(void)   { return syscall(SYS_umount2, "/nonexistent-probe", 0L); }
static long sc_unshare(void)   { return syscall(SYS_unshare, (long)CLONE_NEWUSER); }
static long sc_unshare_ns(void){ return syscall(SYS_unshare, (long)CLONE_NEWNS); }
static long sc_setns(void)     { return syscall(SYS_setns, -1L, 0L); }

static long sc_ptrace(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        long r = syscall(SYS_ptrace, (long)PTRACE_TRACEME, 0L, 0L, 0L);
        _exit(r < 0 ? errno : 0);
    }
    int code = reap(pid);
    errno = code;
    return code ? -1 : 0;
}

static long sc_keyctl(void)
{
    return syscall(SYS_keyctl, (long)KEYCTL_GET_KEYRING_ID_,
                   (long)KEY_SPEC_SESSION_KEYRING_, 0L);
}

static long sc_add_key(void)
{
    return syscall(SYS_add_key, "user", "probe", "x", 1L,
                   (long)KEY_SPEC_PROCESS_KEYRING_);
}

static long sc_request_key(void)
{
    return syscall(SYS_request_key, "user", "nonexistent-probe", NULL, 0L);
}

static long sc_bpf(void)       { return close_fd(syscall(SYS_bpf, 9999L, NULL, 0L)); }
static long sc_perf(void)      { return close_fd(syscall(SYS_perf_event_open, NULL, 0L, -1L, -1L, 0L)); }
static long sc_uffd(void)      { return close_fd(syscall(SYS_userfaultfd, (long)O_CLOEXEC)); }
static long sc_io_uring(void)  { return close_fd(syscall(SYS_io_uring_setup, 1L, NULL)); }

/* Raw fork-like clone; the child exits at once. */
static long raw_clone(long flags)
{
#if defined(__aarch64__)
    /* flags, newsp, parent_tid, tls, child_tid */
    long pid = syscall(SYS_clone, flags, 0L, NULL, 0L, NULL);
#else
    /* x86_64: flags, newsp, parent_tid, child_tid, tls */
    long pid = syscall(SYS_clone, flags, 0L, NULL, NULL, 0L);
#endif
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(0);
    int code = reap((pid_t)pid);
    errno = code;
    return code ? -1 : 0;
}

static long sc_clone_newuser(void) { return raw_clone(CLONE_NEWUSER | SIGCHLD); }
static long sc_clone(void)         { return raw_clone(SIGCHLD); }

struct probe_clone_args { /* struct clone_args, CLONE_ARGS_SIZE_VER0 = 64 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
             stack_size, tls;
};

static long sc_clone3(void)
{
    struct probe_clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(0);
    int code = reap((pid_t)pid);
    errno = code;
    return code ? -1 : 0;
}

static long sc_socket_raw(void)
{
    return close_fd(syscall(SYS_socket, (long)AF_INET, (long)SOCK_RAW, (long)IPPROTO_ICMP));
}

static long sc_socket_packet(void)
{
    return close_fd(syscall(SYS_socket, (long)AF_PACKET, (long)SOCK_RAW, 0L));
}

static long sc_chroot(void)     { return syscall(SYS_chroot, "/"); }
static long sc_pivot_root(void) { return syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"); }
static long sc_sethostname(void){ return syscall(SYS_sethostname, "probe", 5L); }

static long sc_clock_settime(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return -1;
    return syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &ts);
}

/* nr_segments above KEXEC_SEGMENT_MAX: EINVAL once the CAP_SYS_BOOT check passes. */
static long sc_kexec_load(void)
{
    return syscall(SYS_kexec_load, 0L, (long)KEXEC_SEGMENT_MAX_ + 1, NULL, 0L);
}

static long sc_init_module(void) { return syscall(SYS_init_module, NULL, 0L, ""); }

/* cmd 0 would be LINUX_REBOOT_CMD_CAD_OFF (a real action), so use an
 * undefined cmd: EINVAL once the CAP_SYS_BOOT check passes. */
static long sc_reboot(void)
{
    return syscall(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_INVALID, NULL);
}

static long sc_swapon(void) { return syscall(SYS_swapon, "/nonexistent", 0L); }
static long sc_acct(void)   { return syscall(SYS_acct, NULL); }

/* A relative path makes the kernel use dirfd -1: EBADF when allowed. (With an
 * absolute path the dirfd is ignored and open_tree(-1, "/", 0) just succeeds.) */
static long sc_open_tree(void)
{
    return close_fd(syscall(SYS_open_tree, -1L, "probe-nonexistent", 0L));
}

static long sc_fsopen(void) { return close_fd(syscall(SYS_fsopen, "nonexistentfs", 0L)); }

static long sc_process_vm_readv(void)
{
    return syscall(SYS_process_vm_readv, (long)getpid(), NULL, 0L, NULL, 0L, 0L);
}

static long sc_getpid(void) { return syscall(SYS_getpid); }

static const struct { const char *name; long (*fn)(void); } syscall_checks[] = {
    { "mount", sc_mount },               { "umount2", sc_umount2 },
    { "unshare", sc_unshare },           { "unshare-ns", sc_unshare_ns },
    { "setns", sc_setns },               { "ptrace", sc_ptrace },
    { "keyctl", sc_keyctl },             { "add_key", sc_add_key },
    { "request_key", sc_request_key },   { "bpf", sc_bpf },
    { "perf_event_open", sc_perf },      { "userfaultfd", sc_uffd },
    { "io_uring_setup", sc_io_uring },   { "clone-newuser", sc_clone_newuser },
    { "clone", sc_clone },               { "clone3", sc_clone3 },
    { "socket-raw", sc_socket_raw },     { "socket-packet", sc_socket_packet },
    { "chroot", sc_chroot },             { "pivot_root", sc_pivot_root },
    { "sethostname", sc_sethostname },   { "clock_settime", sc_clock_settime },
    { "kexec_load", sc_kexec_load },     { "init_module", sc_init_module },
    { "reboot", sc_reboot },             { "swapon", sc_swapon },
    { "acct", sc_acct },                 { "open_tree", sc_open_tree },
    { "fsopen", sc_fsopen },             { "process_vm_readv", sc_process_vm_readv },
    { "getpid", sc_getpid },
};

static int check_syscall(char **argv)
{
    for (size_t i = 0; i < sizeof syscall_checks / sizeof syscall_checks[0]; i++) {
        if (strcmp(argv[0], syscall_checks[i].name) == 0) {
            errno = 0;
            return syscall_checks[i].fn() < 0 ? fail(errno) : ok();
        }
    }
    return usage("syscall NAME (unknown syscall check)");
}

/* ---------------------------------------------------------- other checks */

static int check_status(char **argv)
{
    static const char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd",
                                  "CapAmb", "NoNewPrivs", "Seccomp" };
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    char vals[NKEYS][64] = { { 0 } };
    char line[256];
    (void)argv;

    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return fail(errno);
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        for (int i = 0; i < NKEYS; i++) {
            if (strcmp(line, keys[i]) == 0) {
                char *v = colon + 1;
                v += strspn(v, " \t");
                v[strcspn(v, " \t\n")] = '\0';
                snprintf(vals[i], sizeof vals[i], "%s", v);
            }
        }
    }
    fclose(f);
    printf("ok");
    for (int i = 0; i < NKEYS; i++)
        printf(" %s=%s", keys[i], vals[i][0] ? vals[i] : "?");
    printf("\n");
    return finish(0);
}

static int check_ids(char **argv)
{
    (void)argv;
    int n = getgroups(0, NULL);
    if (n < 0)
        return fail(errno);
    printf("ok uid=%u gid=%u euid=%u egid=%u groups=%d\n", (unsigned)getuid(),
           (unsigned)getgid(), (unsigned)geteuid(), (unsigned)getegid(), n);
    return finish(0);
}

static int check_euid(char **argv)
{
    (void)argv;
    printf("ok %u\n", (unsigned)geteuid());
    return finish(0);
}

static int check_connect(char **argv)
{
    struct sockaddr_in sa;
    long port;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[0], &sa.sin_addr) != 1 ||
        parse_long(argv[1], 1, 65535, &port) < 0)
        return usage("connect HOST PORT (IPv4 literal, port 1-65535)");
    sa.sin_port = htons((uint16_t)port);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(errno);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return ok();
    if (errno != EINPROGRESS)
        return fail(errno);

    double deadline = now_mono() + 2.0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int left = (int)((deadline - now_mono()) * 1000.0);
        int r = poll(&p, 1, left > 0 ? left : 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(errno);
        if (r == 0)
            return fail(ETIMEDOUT);
        break;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return fail(errno);
    close(fd);
    return err ? fail(err) : ok();
}

static int check_write(char **argv)
{
    int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(errno);
    ssize_t n = write(fd, "ok!\n", 4);
    if (n < 0)
        return fail(errno);
    if (n != 4)
        return fail(EIO);
    if (fsync(fd) < 0)
        return fail(errno);
    if (close(fd) < 0)
        return fail(errno);
    return ok();
}

static int check_read(char **argv)
{
    char buf[64];
    int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(errno);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return fail(errno);
    close(fd);
    printf("ok %zd\n", n);
    return finish(0);
}

static int check_fill(char **argv)
{
    const long long limit = 4LL * 1024 * MIB;
    long long total = 0;
    char *chunk = calloc(1, MIB);
    if (!chunk)
        return fail(ENOMEM);
    signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: get EFBIG instead of dying */

    int fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(errno);
    while (total < limit) {
        /* A short write is retried with the remainder, so the loop ends at
         * the write that actually fails and reports its errno. */
        ssize_t n = write(fd, chunk + (total % MIB), (size_t)(MIB - total % MIB));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            close(fd);
            printf("errno=%s bytes=%lld\n", errno_name(e), total);
            return finish(1);
        }
        total += n;
    }
    close(fd);
    printf("ok bytes=%lld\n", total);
    return finish(0);
}

static int check_forkbomb(char **argv)
{
    long n, forked = 0;
    int err = 0;
    if (parse_long(argv[0], 0, 1000000, &n) < 0)
        return usage("forkbomb N (0-1000000)");
    pid_t *kids = malloc((size_t)(n ? n : 1) * sizeof *kids);
    if (!kids)
        return fail(ENOMEM);
    pid_t parent = getpid();

    while (forked < n) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            for (;;)
                pause();
        }
        kids[forked++] = pid;
    }
    for (long i = 0; i < forked; i++)
        kill(kids[i], SIGKILL);
    for (long i = 0; i < forked; i++)
        while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
            ;
    if (err) {
        printf("errno=%s forked=%ld\n", errno_name(err), forked);
        return finish(1);
    }
    printf("ok forked=%ld\n", forked);
    return finish(0);
}

static volatile char *memhog_sink; /* keeps the stores observable */

static int check_memhog(char **argv)
{
    long mb;
    if (parse_long(argv[0], 0, 1L << 24, &mb) < 0)
        return usage("memhog MB");
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    for (long i = 0; i < mb; i++) {
        volatile char *p = malloc(MIB);
        if (!p)
            return fail(ENOMEM);
        for (long off = 0; off < MIB; off += page)
            p[off] = (char)(i + 1);
        memhog_sink = p; /* intentionally never freed */
    }
    printf("ok touched=%ld\n", mb);
    return finish(0);
}

static int check_spin(char **argv)
{
    double secs;
    long nproc;
    if (parse_seconds(argv[0], &secs) < 0 || parse_long(argv[1], 1, 4096, &nproc) < 0)
        return usage("spin SECONDS NPROC");
    double start = now_mono();
    int err = 0;
    long started = 0;

    for (; started < nproc; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            volatile unsigned long x = 0;
            while (now_mono() - start < secs)
                for (int i = 0; i < 10000; i++)
                    x++;
            _exit(0);
        }
    }
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    if (err)
        return fail(err);
    double wall = now_mono() - start;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
        return fail(errno);
    long cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
    printf("ok cpu_ms=%ld wall_ms=%ld\n", cpu_ms, (long)(wall * 1000.0));
    return finish(0);
}

static int check_pids(char **argv)
{
    long *v;
    size_t n;
    (void)argv;
    if (list_numeric("/proc", &v, &n, 0) < 0)
        return fail(errno);
    printf("ok %zu%s", n, n ? " " : "");
    print_list(v, n);
    printf("\n");
    return finish(0);
}

static int check_hostname(char **argv)
{
    struct utsname u;
    (void)argv;
    if (uname(&u) < 0)
        return fail(errno);
    printf("ok %s\n", u.nodename);
    return finish(0);
}

static int check_sleep(char **argv)
{
    double secs;
    if (parse_seconds(argv[0], &secs) < 0)
        return usage("sleep SECONDS");
    struct timespec ts = { .tv_sec = (time_t)secs,
                           .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9) };
    while (nanosleep(&ts, &ts) < 0)
        if (errno != EINTR)
            return fail(errno);
    return ok();
}

static int check_fds(char **argv)
{
    long *v;
    size_t n;
    (void)argv;
    if (list_numeric("/proc/self/fd", &v, &n, 1) < 0)
        return fail(errno);
    printf("ok%s", n ? " " : "");
    print_list(v, n);
    printf("\n");
    return finish(0);
}

static int check_exit(char **argv)
{
    long code;
    if (parse_long(argv[0], 0, 255, &code) < 0)
        return usage("exit CODE (0-255)");
    fflush(stdout);
    _exit((int)code);
}

static int check_kill_self(char **argv)
{
    long sig;
    sigset_t set;
    if (parse_long(argv[0], 1, SIGRTMAX, &sig) < 0)
        return usage("kill-self SIG (signal number)");
    signal((int)sig, SIG_DFL); /* fails harmlessly for SIGKILL/SIGSTOP */
    sigemptyset(&set);
    sigaddset(&set, (int)sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    fflush(stdout);
    if (raise((int)sig) != 0)
        return fail(errno);
    /* Still alive: either the default action is not fatal, or we are pid 1 of
     * a pid namespace, where the kernel drops self-sent signals. A genuine
     * fault is a forced signal that kills even an init, so SIGSEGV can still
     * be delivered that way. */
    if (sig == SIGSEGV) {
        volatile int *volatile nowhere = NULL;
        *nowhere = 1;
    }
    fprintf(stderr, "probe: signal %ld did not terminate pid %d\n", sig, (int)getpid());
    printf("ok survived\n");
    return finish(0);
}

/* -------------------------------------------------------------- dispatch */

static const struct {
    const char *name;
    int nargs;
    int (*fn)(char **argv);
    const char *usage;
} checks[] = {
    { "syscall",   1, check_syscall,   "syscall NAME" },
    { "status",    0, check_status,    "status" },
    { "ids",       0, check_ids,       "ids" },
    { "euid",      0, check_euid,      "euid" },
    { "connect",   2, check_connect,   "connect HOST PORT" },
    { "write",     1, check_write,     "write PATH" },
    { "read",      1, check_read,      "read PATH" },
    { "fill",      1, check_fill,      "fill PATH" },
    { "forkbomb",  1, check_forkbomb,  "forkbomb N" },
    { "memhog",    1, check_memhog,    "memhog MB" },
    { "spin",      2, check_spin,      "spin SECONDS NPROC" },
    { "pids",      0, check_pids,      "pids" },
    { "hostname",  0, check_hostname,  "hostname" },
    { "sleep",     1, check_sleep,     "sleep SECONDS" },
    { "fds",       0, check_fds,       "fds" },
    { "exit",      1, check_exit,      "exit CODE" },
    { "kill-self", 1, check_kill_self, "kill-self SIG" },
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("CHECK [ARGS...]");
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        if (strcmp(argv[1], checks[i].name) == 0) {
            if (argc - 2 != checks[i].nargs)
                return usage(checks[i].usage);
            return checks[i].fn(argv + 2);
        }
    }
    return usage("CHECK [ARGS...] (unknown check)");
}
