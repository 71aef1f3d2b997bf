// The child side of a sandbox launch and the few syscalls Swift cannot reach.
//
// The child is cloned with CLONE_VM: it shares the parent's memory (no page-table copy of a large
// multi-threaded Swift process) until execve gives it its own. So from clone to exec it must not
// touch anything the parent owns: no malloc, no stdio, no errno (it lives in the parent thread's
// TLS, which the child shares), no libc wrappers that might. It makes raw syscalls through
// cella_sys6, reads the parent's prepared config, and writes only its own stack. The same rules as
// runc's nsexec and swift-subprocess's spawn apply; CLONE_VM without CLONE_VFORK is what lets the
// parent keep running to write the user-namespace maps while the child waits for them.
#define _GNU_SOURCE
#include "cella_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

_Static_assert(sizeof(cella_child_error) == 12, "cella_child_error is read as 12 bytes by Swift");
_Static_assert(sizeof(cella_fs_step) == 48, "cella_fs_step layout is shared with Swift");
_Static_assert(sizeof(cella_rlimit) == 24, "cella_rlimit layout is shared with Swift");

// The kernel's struct sigaction for rt_sigaction (not glibc's, whose mask is 128 bytes).
struct cella_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};
_Static_assert(sizeof(struct cella_kernel_sigaction) == 32, "kernel sigaction layout");

// A raw syscall that returns -errno and never writes errno (which is shared with the parent thread).
static inline long cella_sys6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory", "cc");
    return x0;
#else
#error "cella_sys6: unsupported architecture"
#endif
}

#define SYS0(n) cella_sys6((n), 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) cella_sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) cella_sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) cella_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) cella_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS5(n, a, b, c, d, e) cella_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

// Reports {stage, step, errno} on the error pipe and exits. Never returns.
__attribute__((noreturn)) static void child_fail(const cella_child_config *cfg, int error_fd,
                                                 int stage, int step, long negative_errno) {
    (void)cfg;
    cella_child_error report = {stage, step, (int32_t)(-negative_errno)};
    SYS3(SYS_write, error_fd, &report, sizeof(report));
    for (;;) SYS1(SYS_exit_group, 127);
}

// owner_uid/gid: the host ids CELLA_FS_CHOWN gives (the sandbox's user-namespace root).
static int child_fs_step(const cella_fs_step *s, uint32_t owner_uid, uint32_t owner_gid) {
    long r = 0;
    switch (s->kind) {
    case CELLA_FS_MOUNT:
        r = SYS5(SYS_mount, s->source, s->target, s->fstype, s->flags, s->data);
        break;
    case CELLA_FS_PIVOT:
        // pivot_root(".", ".") stacks the old root under the new one; detaching "." then removes
        // it without needing a put_old directory (the approach runc and crun take).
        if ((r = SYS1(SYS_chdir, s->target)) < 0) break;
        if ((r = SYS2(SYS_pivot_root, ".", ".")) < 0) break;
        if ((r = SYS2(SYS_umount2, ".", MNT_DETACH)) < 0) break;
        r = SYS1(SYS_chdir, "/");
        break;
    case CELLA_FS_CHDIR:
        r = SYS1(SYS_chdir, s->target);
        break;
    case CELLA_FS_CHOWN:
        r = SYS5(SYS_fchownat, AT_FDCWD, s->target, owner_uid, owner_gid, AT_SYMLINK_NOFOLLOW);
        break;
    default:
        r = -EINVAL;
    }
    if (r == -ENOENT && s->optional) r = 0;
    return (int)r;
}

static long child_loopback_up(void) {
    long fd = SYS3(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fd;
    struct ifreq ifr;
    for (size_t i = 0; i < sizeof(ifr); i++) ((char *)&ifr)[i] = 0;
    ifr.ifr_name[0] = 'l';
    ifr.ifr_name[1] = 'o';
    long r = SYS3(SYS_ioctl, fd, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP;
        r = SYS3(SYS_ioctl, fd, SIOCSIFFLAGS, &ifr);
    }
    SYS1(SYS_close, fd);
    return r;
}

// Closes every fd from `floor` up but `keep_a` and `keep_b` (-1: none).
static long child_close_above(int floor, int keep_a, int keep_b) {
    int keep[2] = {keep_a, keep_b};
    if (keep[1] >= 0 && (keep[0] < 0 || keep[1] < keep[0])) {
        int t = keep[0];
        keep[0] = keep[1];
        keep[1] = t;
    }
    unsigned int from = (unsigned int)floor;
    for (int i = 0; i < 2; i++) {
        if (keep[i] < floor) continue;
        if ((unsigned int)keep[i] > from) {
            long r = SYS3(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
            if (r < 0) return r;
        }
        from = (unsigned int)keep[i] + 1;
    }
    return SYS3(SYS_close_range, from, ~0U, 0);
}

static size_t child_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// execve, searching search_path when path has no '/', like execvpe but without malloc or errno.
static long child_exec(const cella_child_config *cfg) {
    const char *path = cfg->path;
    size_t plen = child_strlen(path);
    for (size_t i = 0; i < plen; i++)
        if (path[i] == '/') return SYS3(SYS_execve, path, cfg->argv, cfg->envp);
    if (!cfg->search_path || plen == 0) return -ENOENT;
    char buf[4096];
    long result = -ENOENT;
    const char *p = cfg->search_path;
    for (;;) {
        const char *end = p;
        while (*end && *end != ':') end++;
        size_t dlen = (size_t)(end - p);
        if (dlen > 0 && dlen + 1 + plen + 1 <= sizeof(buf)) {
            for (size_t i = 0; i < dlen; i++) buf[i] = p[i];
            buf[dlen] = '/';
            for (size_t i = 0; i <= plen; i++) buf[dlen + 1 + i] = path[i];
            long r = SYS3(SYS_execve, buf, cfg->argv, cfg->envp);
            if (r == -EACCES) result = r;
            else if (r != -ENOENT && r != -ENOTDIR) return r;
        }
        if (!*end) break;
        p = end + 1;
    }
    return result;
}

// Reads the parent's one-byte go-ahead; EPIPE when the parent closed instead.
static long child_wait_for_parent(int fd) {
    char go = 0;
    long r;
    do r = SYS3(SYS_read, fd, &go, 1);
    while (r == -EINTR);
    return r == 1 ? 0 : r < 0 ? r : -EPIPE;
}

static int child_main(void *arg) {
    const cella_child_config *cfg = (const cella_child_config *)arg;
    int err_fd = cfg->error_write_fd;
    long r;

    // The parent's ends of the pipes: holding them would keep our read from ever seeing EOF.
    SYS1(SYS_close, cfg->sync_write_fd);
    SYS1(SYS_close, cfg->error_read_fd);
    if (cfg->hold_write_fd >= 0) SYS1(SYS_close, cfg->hold_write_fd);

    // A new session, or a kill(0, ...) inside would reach the parent's process group.
    if ((r = SYS0(SYS_setsid)) < 0) child_fail(cfg, err_fd, CELLA_STAGE_SETSID, -1, r);
    if (cfg->die_with_parent && (r = SYS2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_PDEATHSIG, -1, r);

    if (cfg->use_template) {
        // Still the host's root, in the host's user namespace: join the template, whose root is
        // the sandbox's, and make a copy of it ours (every mount in it private already).
        if ((r = SYS2(SYS_setns, cfg->mount_ns_fd, CELLA_CLONE_NEWNS)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_MOUNT_NS, 0, r);
        if ((r = SYS1(SYS_unshare, CELLA_CLONE_NEWNS)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_MOUNT_NS, 1, r);
        // The code: a detached copy of its mount the parent made (read-only already), moved in.
        if (cfg->code_tree_fd >= 0 &&
            (r = SYS5(SYS_move_mount, cfg->code_tree_fd, "", AT_FDCWD, "/var/task", MOVE_MOUNT_F_EMPTY_PATH)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_CODE_MOUNT, -1, r);
    } else {
        // Wait until the parent has written our uid/gid maps. It makes our cgroup meanwhile and
        // moves us into it while we mount (the second wait, below, before anything of the
        // program's).
        if ((r = child_wait_for_parent(cfg->sync_read_fd)) < 0) child_fail(cfg, err_fd, CELLA_STAGE_SYNC, 0, r);

        // After clone we still carry the host ids (unmapped here, so every file we create would
        // fail with EOVERFLOW); become the namespace's root, which the parent's maps now define.
        if ((r = SYS3(SYS_setresgid, 0, 0, 0)) < 0 || (r = SYS3(SYS_setresuid, 0, 0, 0)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_NAMESPACE_ROOT, -1, r);
        // Nothing we mount may propagate back to the host.
        if ((r = SYS5(SYS_mount, "none", "/", 0, MS_REC | MS_PRIVATE, 0)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_MOUNT_PRIVATE, -1, r);
    }

    // Modes in the plan are exact (1777 for /tmp); the program gets the usual 022 before exec.
    SYS1(SYS_umask, 0);
    for (int i = 0; i < cfg->fs_step_count; i++)
        if ((r = child_fs_step(&cfg->fs_steps[i], cfg->owner_uid, cfg->owner_gid)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_FS_STEP, i, r);

    if (cfg->loopback_up && (r = child_loopback_up()) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_LOOPBACK, -1, r);
    if (cfg->hostname &&
        (r = SYS2(SYS_sethostname, cfg->hostname, child_strlen(cfg->hostname))) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_HOSTNAME, -1, r);

    // The last namespace: a user namespace of our own, made now so that it owns none of the
    // others (they are the host's user namespace's). The parent writes its maps once it has
    // placed us in our cgroup; its byte, below, says both are done.
    if (cfg->use_template) {
        if ((r = SYS1(SYS_unshare, CELLA_CLONE_NEWUSER)) < 0) child_fail(cfg, err_fd, CELLA_STAGE_USER_NS, -1, r);
        cella_child_error ready = {CELLA_STAGE_USER_NS, -1, 0};
        if ((r = SYS3(SYS_write, err_fd, &ready, sizeof(ready))) != (long)sizeof(ready))
            child_fail(cfg, err_fd, CELLA_STAGE_USER_NS, -1, r < 0 ? r : -EPIPE);
    }

    // Wait until the parent has placed us in our cgroup, with its limits (and, with a template,
    // written our maps).
    if ((r = child_wait_for_parent(cfg->sync_read_fd)) < 0) child_fail(cfg, err_fd, CELLA_STAGE_SYNC, 1, r);
    SYS1(SYS_close, cfg->sync_read_fd);
    // Now inside our cgroup: a cgroup namespace rooted here hides the host's hierarchy.
    if (cfg->unshare_cgroup && (r = SYS1(SYS_unshare, CELLA_CLONE_NEWCGROUP)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_CGROUP_NS, -1, r);

    for (int i = 0; i < cfg->rlimit_count; i++) {
        uint64_t lim[2] = {cfg->rlimits[i].soft, cfg->rlimits[i].hard};
        if ((r = SYS4(SYS_prlimit64, 0, cfg->rlimits[i].resource, lim, 0)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_RLIMIT, i, r);
    }

    // File descriptors: stdio and extras land on 0..floor-1; everything above is closed below.
    // Sources are first copied above the floor so that no dup3 overwrites a source still needed.
    int floor = 3 + cfg->extra_fd_count;
    if (err_fd < floor) {
        if ((r = SYS3(SYS_fcntl, err_fd, F_DUPFD_CLOEXEC, floor)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_STDIO, -1, r);
        err_fd = (int)r;
    }
    int hold_fd = cfg->hold_read_fd;
    if (hold_fd >= 0 && hold_fd < floor) {
        if ((r = SYS3(SYS_fcntl, hold_fd, F_DUPFD_CLOEXEC, floor)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_STDIO, -1, r);
        hold_fd = (int)r;
    }
    int moved[3 + 64];
    if (cfg->extra_fd_count > 64) child_fail(cfg, err_fd, CELLA_STAGE_STDIO, -1, -EMFILE);
    for (int i = 0; i < floor; i++) {
        int source = i < 3 ? cfg->stdio[i] : cfg->extra_fds[i - 3];
        if ((r = SYS3(SYS_fcntl, source, F_DUPFD_CLOEXEC, floor)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_STDIO, i, r);
        moved[i] = (int)r;
    }
    for (int i = 0; i < floor; i++)
        if ((r = SYS3(SYS_dup3, moved[i], i, 0)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_STDIO, i, r);
    // Every other inherited fd is closed now, not at exec: a held child waits long before its
    // exec, and must not keep the parent's sockets or another launch's pipes open meanwhile. The
    // error and hold fds (close-on-exec) are the only ones kept above the floor.
    if ((r = child_close_above(floor, err_fd, hold_fd)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_CLOSE_FDS, -1, r);

    // Privileges. The bounding set needs CAP_SETPCAP, so it goes before the uid change.
    if (cfg->drop_capabilities) {
        for (int cap = 0; cap <= cfg->last_cap; cap++)
            if ((r = SYS2(SYS_prctl, PR_CAPBSET_DROP, cap)) < 0 && r != -EINVAL)
                child_fail(cfg, err_fd, CELLA_STAGE_CAP_BOUNDING, cap, r);
    }
    if ((r = SYS5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) < 0 && r != -EINVAL)
        child_fail(cfg, err_fd, CELLA_STAGE_CAP_AMBIENT, -1, r);
    if ((r = SYS2(SYS_setgroups, cfg->group_count, cfg->groups)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_SETGROUPS, -1, r);
    if ((r = SYS3(SYS_setresgid, cfg->gid, cfg->gid, cfg->gid)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_SETGID, -1, r);
    if ((r = SYS3(SYS_setresuid, cfg->uid, cfg->uid, cfg->uid)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_SETUID, -1, r);
    if (cfg->drop_capabilities) {
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        for (size_t i = 0; i < sizeof(data); i++) ((char *)data)[i] = 0;
        if ((r = SYS2(SYS_capset, &header, data)) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_CAPSET, -1, r);
    }
    if (cfg->no_new_privs && (r = SYS5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_NO_NEW_PRIVS, -1, r);
    // The kernel clears the parent-death signal when the effective uid or gid changes (prctl(2)),
    // which setresuid/setresgid above just did: set it again for the life of the program.
    if (cfg->die_with_parent && (r = SYS2(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL)) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_PDEATHSIG, -1, r);

    // Signals: execve resets handled signals but keeps ignored ones, so reset every disposition
    // to default while still blocked, then unblock for the program.
    struct cella_kernel_sigaction dfl = {SIG_DFL, 0, 0, 0};
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        SYS4(SYS_rt_sigaction, sig, &dfl, 0, sizeof(uint64_t));
    }
    uint64_t empty_mask = 0;
    if ((r = SYS4(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, 0, sizeof(empty_mask))) < 0)
        child_fail(cfg, err_fd, CELLA_STAGE_SIGNALS, -1, r);

    SYS1(SYS_umask, 022);

    // Seccomp last: from here on only what the filters allow, and execve must be among it.
    for (int i = 0; i < cfg->filter_count; i++)
        if ((r = SYS3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &cfg->filters[i])) < 0)
            child_fail(cfg, err_fd, CELLA_STAGE_SECCOMP, i, r);

    // Held: everything but the exec is done. The parent fills in envp and the search path, then
    // sends one byte.
    if (hold_fd >= 0) {
        cella_child_error held = {CELLA_STAGE_HELD, -1, 0};
        if ((r = SYS3(SYS_write, err_fd, &held, sizeof(held))) != (long)sizeof(held))
            child_fail(cfg, err_fd, CELLA_STAGE_HELD, -1, r < 0 ? r : -EPIPE);
        if (child_wait_for_parent(hold_fd) < 0) for (;;) SYS1(SYS_exit_group, 127);
        SYS1(SYS_close, hold_fd);
    }

    r = child_exec(cfg);
    child_fail(cfg, err_fd, CELLA_STAGE_EXEC, -1, r);
}

// Enters a network namespace on this thread, or returns to the one `home` holds. Failing to return
// would leave an agent thread in a sandbox's namespace: there is no safe way on from there.
static void thread_return_home(int home) {
    if (setns(home, CLONE_NEWNET) != 0) abort();
    close(home);
}

static int thread_leave_home(int ns_fd, int *home_out) {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return -errno;
    if (ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) != 0) {
        int e = errno;
        close(home);
        return -e;
    }
    *home_out = home;
    return 0;
}

int cella_netns_create(int *ns_fd_out) {
    int home = -1;
    int r = thread_leave_home(-1, &home);
    if (r < 0) return r;
    if (unshare(CLONE_NEWNET) != 0) {
        r = -errno;
        close(home);
        return r;
    }
    int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ns < 0) r = -errno;
    if (ns >= 0) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        strcpy(ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) r = -errno;
        if (r == 0) {
            ifr.ifr_flags |= IFF_UP;
            if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) r = -errno;
        }
        if (s >= 0) close(s);
        if (r < 0) close(ns);
    }
    thread_return_home(home);
    if (r == 0) *ns_fd_out = ns;
    return r;
}

int cella_netns_listen_tcp(int ns_fd, uint32_t addr, uint16_t port, int backlog) {
    int home = -1;
    int r = thread_leave_home(ns_fd, &home);
    if (r < 0) return r;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) r = -errno;
    if (s >= 0) {
        int one = 1;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = port, .sin_addr.s_addr = addr};
        if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(s, backlog) != 0) {
            r = -errno;
            close(s);
        }
    }
    thread_return_home(home);
    return r < 0 ? r : s;
}

struct mount_request {
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    uint32_t uid, gid;
    long result;
};

// Raw syscalls: glibc's setgroups would change every thread of the process, and these credentials
// must die with this thread.
static void *mount_as_thread(void *arg) {
    struct mount_request *m = arg;
    long r = SYS2(SYS_setgroups, 0, 0);
    if (r == 0) {
        SYS1(SYS_setfsgid, m->gid);
        SYS1(SYS_setfsuid, m->uid);
        // setfsuid and setfsgid report no errors: an invalid id (-1) reads the current one back.
        if (SYS1(SYS_setfsgid, -1) != (long)m->gid || SYS1(SYS_setfsuid, -1) != (long)m->uid) r = -EPERM;
    }
    if (r == 0) {
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        r = SYS2(SYS_capget, &header, data);
        if (r == 0) {
            data[0].effective = 1u << CAP_SYS_ADMIN;
            data[1].effective = 0;
            data[0].inheritable = data[1].inheritable = 0;
            r = SYS2(SYS_capset, &header, data);
        }
    }
    if (r == 0) r = SYS5(SYS_mount, m->source, m->target, m->fstype, m->flags, m->data);
    m->result = r;
    return NULL;
}

int cella_mount_as(const char *source, const char *target, const char *fstype, unsigned long flags,
                   const char *data, uint32_t uid, uint32_t gid) {
    struct mount_request m = {source, target, fstype, data, flags, uid, gid, -EINVAL};
    pthread_t thread;
    int e = pthread_create(&thread, NULL, mount_as_thread, &m);
    if (e != 0) return -e;
    pthread_join(thread, NULL);
    return (int)m.result;
}

struct cella_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int cella_code_tree(const char *path, int nosuid) {
    // OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE
    long fd = syscall(SYS_open_tree, AT_FDCWD, path, 1 | O_CLOEXEC | 0x8000);
    if (fd < 0) return -errno;
    // MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV (| MOUNT_ATTR_NOSUID), and private: the clone is in
    // its source's peer group, so mounts would propagate between the host and the sandbox.
    struct cella_mount_attr attr = {0x1 | 0x4 | (nosuid ? 0x2 : 0), 0, MS_PRIVATE, 0};
    if (syscall(SYS_mount_setattr, (int)fd, "", AT_EMPTY_PATH | 0x8000, &attr, sizeof(attr)) < 0) {
        int e = errno;
        close((int)fd);
        return -e;
    }
    return (int)fd;
}

struct template_request {
    const cella_fs_step *steps;
    int count;
    int fd;
    int failed_step;
    long result;
};

static void *template_thread(void *arg) {
    struct template_request *t = arg;
    long r = SYS1(SYS_unshare, CELLA_CLONE_NEWNS);
    if (r == 0) r = SYS4(SYS_openat, AT_FDCWD, "/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC, 0);
    if (r >= 0) {
        t->fd = (int)r;
        r = SYS5(SYS_mount, "none", "/", 0, MS_REC | MS_PRIVATE, 0);
    }
    for (int i = 0; r == 0 && i < t->count; i++)
        if ((r = child_fs_step(&t->steps[i], 0, 0)) < 0) t->failed_step = i;
    if (r < 0 && t->fd >= 0) {
        SYS1(SYS_close, t->fd);
        t->fd = -1;
    }
    t->result = r;
    return NULL;
}

int cella_mount_template(const cella_fs_step *steps, int count, int *ns_fd_out, int *failed_step) {
    struct template_request t = {steps, count, -1, -1, -EINVAL};
    pthread_t thread;
    int e = pthread_create(&thread, NULL, template_thread, &t);
    if (e != 0) return -e;
    pthread_join(thread, NULL);
    *failed_step = t.failed_step;
    if (t.result < 0) return (int)t.result;
    *ns_fd_out = t.fd;
    return 0;
}

pid_t cella_sandbox_clone(const cella_child_config *config, int namespace_flags, void *stack,
                          size_t stack_size, int *pidfd_out) {
    // A prepared network namespace is joined by cloning from inside it: a child cloned into a user
    // namespace of its own (no template) could not setns into a namespace the host's owns.
    int home = -1;
    if (config->net_ns_fd >= 0) {
        int r = thread_leave_home(config->net_ns_fd, &home);
        if (r < 0) return r;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    // Exit signal 0: the child is waited for through its pidfd with __WALL, and a SIGCHLD-driven
    // waitpid(-1) elsewhere in the process cannot steal its status.
    int flags = CLONE_VM | CLONE_PIDFD | namespace_flags;
    pid_t pid = clone(child_main, (char *)stack + stack_size, flags, (void *)config, &pidfd);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (home >= 0) thread_return_home(home);
    if (pid < 0) return -saved;
    *pidfd_out = pidfd;
    return pid;
}

int cella_pidfd_send_signal(int pidfd, int signal) {
    return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) < 0 ? errno : 0;
}

int cella_pidfd_wait(int pidfd, int nohang, int *code, int *status) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    int options = WEXITED | __WALL | (nohang ? WNOHANG : 0);
    int r;
    do r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, options);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (info.si_pid == 0) return -EAGAIN;
    *code = info.si_code;
    *status = info.si_status;
    return 0;
}


int cella_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) < 0 ? errno : 0;
}

int cella_memfd(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cella_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cella_epoll_add_oneshot(int epfd, int fd) {
    struct epoll_event event = {.events = EPOLLIN | EPOLLONESHOT, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) < 0 ? -errno : 0;
}

int cella_epoll_add(int epfd, int fd) {
    struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) < 0 ? -errno : 0;
}

int cella_epoll_del(int epfd, int fd) {
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

int cella_epoll_wait(int epfd, int *fds, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) fds[i] = events[i].data.fd;
    return n;
}

unsigned long cella_locked_mount_flags(const char *path) {
    struct statvfs st;
    if (statvfs(path, &st) != 0) return 0;
    unsigned long flags = 0;
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

// ---- Templates: forked clones of a parked sandbox process (docs/runtime-snapshots.md) ----------

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// The kernel's struct pidfd_info, first version (64 bytes, Linux 6.13+; exit fields 6.15+).
struct cella_pidfd_info {
    uint64_t mask;
    uint64_t cgroupid;
    uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
    int32_t exit_code;
};
_Static_assert(sizeof(struct cella_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0 is 64 bytes");
#define CELLA_PIDFD_INFO_EXIT (1ULL << 3)
#define CELLA_PIDFD_GET_INFO _IOWR(0xFF, 11, struct cella_pidfd_info)

int cella_clone_socketpair(int fds[2]) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -errno;
    int one = 1;
    // fds[0] is the agent's end: every message the clone sends on fds[1] then carries the
    // sender's credentials (pid translated into our pid namespace) and a pidfd for it.
    // Kernels before 6.5 have no SO_PASSPIDFD: the caller then opens a pidfd by pid.
    if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
        (setsockopt(fds[0], SOL_SOCKET, SO_PASSPIDFD, &one, sizeof(one)) != 0 && errno != ENOPROTOOPT)) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    return 0;
}

int cella_send_fds(int sock, const void *data, size_t length, const int *fds, int fd_count) {
    if (fd_count < 0 || fd_count > 8) return -EINVAL;
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = {.iov_base = (void *)data, .iov_len = length};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd_count > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(fd_count * sizeof(int));
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(fd_count * sizeof(int));
        memcpy(CMSG_DATA(cmsg), fds, fd_count * sizeof(int));
    }
    ssize_t n;
    do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return n == (ssize_t)length ? 0 : -EMSGSIZE;
}

int cella_recv_hello(int sock, int timeout_ms, void *buf, size_t length, pid_t *pid_out, int *pidfd_out) {
    *pid_out = 0;
    *pidfd_out = -1;
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    int r;
    do r = poll(&pfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (r == 0) return -ETIMEDOUT;
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = length};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};
    ssize_t n;
    do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            *pid_out = cred.pid;
        } else if (c->cmsg_type == SCM_PIDFD && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            memcpy(pidfd_out, CMSG_DATA(c), sizeof(int));
        } else if (c->cmsg_type == SCM_RIGHTS) {
            // Nothing is expected from a clone: close whatever it sent.
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
    }
    return (int)n;
}

int cella_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int cella_pidfd_exit_status(int pidfd, int *wait_status) {
    struct cella_pidfd_info info;
    memset(&info, 0, sizeof(info));
    info.mask = CELLA_PIDFD_INFO_EXIT;
    if (ioctl(pidfd, CELLA_PIDFD_GET_INFO, &info) != 0) return -errno;
    if (!(info.mask & CELLA_PIDFD_INFO_EXIT)) return -EAGAIN;
    *wait_status = info.exit_code;
    return 0;
}
