// Cella's C shim: the code that runs between clone and exec, and the syscalls Glibc does not
// export to Swift. No policy lives here: the parent (Swift) prepares every path, flag, filter and
// mask; the child only executes that plan with raw syscalls. Errors cross as numbers.
#ifndef CELLA_SHIM_H
#define CELLA_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

// Namespace flags for cella_sandbox_clone (values from <linux/sched.h>, which Swift cannot import
// alongside Glibc without conflicts).
#define CELLA_CLONE_NEWNS 0x00020000
#define CELLA_CLONE_NEWCGROUP 0x02000000
#define CELLA_CLONE_NEWUTS 0x04000000
#define CELLA_CLONE_NEWIPC 0x08000000
#define CELLA_CLONE_NEWUSER 0x10000000
#define CELLA_CLONE_NEWPID 0x20000000
#define CELLA_CLONE_NEWNET 0x40000000

/// What a filesystem step does. Steps run in order, in the child before privileges are dropped,
/// or in cella_mount_template's thread.
typedef enum {
    CELLA_FS_MOUNT = 1,   ///< mount(source, target, fstype, flags, data)
    CELLA_FS_PIVOT = 5,   ///< chdir(target); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")
    CELLA_FS_CHDIR = 6,   ///< chdir(target)
    CELLA_FS_CHOWN = 7,   ///< lchown(target, owner_uid, owner_gid) (a templated child's tmpfs roots)
} cella_fs_kind;

/// One filesystem step of the child's plan.
typedef struct {
    int32_t kind;          ///< a cella_fs_kind
    int32_t optional;      ///< nonzero: ENOENT is skipped rather than fatal (e.g. /proc/acpi)
    const char *source;
    const char *target;
    const char *fstype;
    const char *data;
    unsigned long flags;   ///< MS_* flags for CELLA_FS_MOUNT
} cella_fs_step;

typedef struct {
    int32_t resource;
    int32_t _pad;
    uint64_t soft;
    uint64_t hard;
} cella_rlimit;

/// Setup stages reported by a child that failed before exec.
typedef enum {
    CELLA_STAGE_SYNC = 1,
    CELLA_STAGE_SETSID,
    CELLA_STAGE_PDEATHSIG,
    CELLA_STAGE_CGROUP_NS,
    CELLA_STAGE_NAMESPACE_ROOT,
    CELLA_STAGE_MOUNT_PRIVATE,
    CELLA_STAGE_FS_STEP,
    CELLA_STAGE_LOOPBACK,
    CELLA_STAGE_HOSTNAME,
    CELLA_STAGE_RLIMIT,
    CELLA_STAGE_STDIO,
    CELLA_STAGE_CLOSE_FDS,
    CELLA_STAGE_CAP_BOUNDING,
    CELLA_STAGE_CAP_AMBIENT,
    CELLA_STAGE_SETGROUPS,
    CELLA_STAGE_SETGID,
    CELLA_STAGE_SETUID,
    CELLA_STAGE_CAPSET,
    CELLA_STAGE_NO_NEW_PRIVS,
    CELLA_STAGE_SIGNALS,
    CELLA_STAGE_SECCOMP,
    CELLA_STAGE_EXEC,
    /// Not a failure: a held child (hold_read_fd >= 0) is set up and waits for its release.
    CELLA_STAGE_HELD,
    CELLA_STAGE_MOUNT_NS,  ///< step 0: setns into the mount template; step 1: unshare a copy of it
    CELLA_STAGE_CODE_MOUNT, ///< move_mount of the code's tree onto /var/task
    /// unshare(CLONE_NEWUSER); error 0: not a failure, the child waits for its maps.
    CELLA_STAGE_USER_NS,
} cella_stage;

/// What a child writes to the error pipe when a stage fails, or, with error 0, when it is held
/// (CELLA_STAGE_HELD) or has made its user namespace and waits for its maps (CELLA_STAGE_USER_NS).
/// EOF without a failure record means exec succeeded.
typedef struct {
    int32_t stage;  ///< a cella_stage
    int32_t step;   ///< index of the failing step (CELLA_STAGE_FS_STEP, CELLA_STAGE_RLIMIT, ...), else -1
    int32_t error;  ///< the errno
} cella_child_error;

/// Everything the child needs, prepared by the parent. The child reads it through shared memory
/// (CLONE_VM) and writes nothing but its own stack, so the parent must keep it alive and unchanged
/// until the error pipe reaches EOF or yields a failure record (or, for a held child, until it
/// execs or dies after its release).
typedef struct {
    int32_t sync_read_fd;    ///< child blocks on a byte from here: without a template twice (maps
                             ///< written, then in its cgroup), with one once (maps and cgroup)
    int32_t sync_write_fd;   ///< the parent's end, which the child closes
    int32_t error_read_fd;   ///< the parent's end, which the child closes
    int32_t error_write_fd;  ///< close-on-exec; receives a cella_child_error on failure
    int32_t stdio[3];        ///< fds that become 0, 1, 2
    int32_t extra_fd_count;  ///< extra_fds[i] becomes fd 3 + i
    const int32_t *extra_fds;
    int32_t unshare_cgroup;  ///< unshare(CLONE_NEWCGROUP) once the parent placed us in our cgroups
    int32_t die_with_parent; ///< PR_SET_PDEATHSIG(SIGKILL)
    int32_t loopback_up;     ///< bring up "lo" in the new network namespace
    int32_t net_ns_fd;       ///< >= 0: clone from inside this network namespace (no CLONE_NEWNET)
    int32_t fs_step_count;
    const cella_fs_step *fs_steps;
    const char *hostname;    ///< NULL: leave as is
    int32_t rlimit_count;
    const cella_rlimit *rlimits;
    uint32_t uid;
    uint32_t gid;
    int32_t group_count;
    const uint32_t *groups;
    int32_t last_cap;        ///< /proc/sys/kernel/cap_last_cap
    int32_t drop_capabilities; ///< bounding, ambient, permitted, effective, inheritable all emptied
    int32_t no_new_privs;
    int32_t filter_count;    ///< seccomp programs, installed in order, last before exec
    const struct sock_fprog *filters;
    const char *path;        ///< program; without '/', searched in search_path
    const char *search_path; ///< "dir1:dir2:..." for a path without '/'
    char *const *argv;
    char *const *envp;       ///< read only after the hold, when there is one
    int32_t hold_read_fd;    ///< >= 0: once seccomp is on, report CELLA_STAGE_HELD and block on one
                             ///< byte from here (a socket) before exec (EOF: the parent gave up; exit)
    int32_t hold_write_fd;   ///< the parent's end, which the child closes; -1 without a hold
    /// Nonzero: the child is cloned without CLONE_NEWUSER and CLONE_NEWNS, still host root; it
    /// joins mount_ns_fd (a mount template: the root and /dev in place, already pivoted), unshares
    /// a copy of it, moves code_tree_fd (when >= 0) onto /var/task and runs its own mounts
    /// (fs_steps); then it unshares its user namespace, reports CELLA_STAGE_USER_NS with error 0
    /// on the error pipe and waits for one byte: its maps written and its cgroup joined. Zero: it
    /// is cloned into a new user and mount namespace, waits for the parent to write the maps, and
    /// mounts its root itself (fs_steps from the staging directory to pivot_root).
    int32_t use_template;
    int32_t mount_ns_fd;
    int32_t code_tree_fd;
    uint32_t owner_uid;      ///< host ids of the user namespace's root, for CELLA_FS_CHOWN steps
    uint32_t owner_gid;
} cella_child_config;

/// Makes a mount template: a mount namespace of its own (made on a short-lived thread, so no
/// thread of the caller ever changes namespace) in which `steps` run as the host's root, after
/// every mount was made private; they end with a pivot into the sandbox root. Returns 0 and stores
/// an fd on the namespace, or -errno and stores the failing step's index (-1: before any step).
int cella_mount_template(const cella_fs_step *steps, int count, int *ns_fd_out, int *failed_step);

/// A detached copy of the mount tree at `path` (open_tree OPEN_TREE_CLONE, recursive), made
/// read-only, nodev (and nosuid when asked) and private with mount_setattr, for a templated child
/// to move onto /var/task. Returns the fd (close-on-exec) or -errno.
int cella_code_tree(const char *path, int nosuid);

/// Starts the sandbox's first process: clone(CLONE_VM | namespaces | CLONE_PIDFD) on `stack`, with
/// every signal blocked around the call. Swift cannot call clone at all, and a CLONE_VM child must
/// not run Swift or libc code that touches shared state.
/// Returns the child's pid (in the caller's pid namespace) and stores its pidfd, or returns -errno.
pid_t cella_sandbox_clone(const cella_child_config *config, int namespace_flags, void *stack,
                          size_t stack_size, int *pidfd_out);

/// Makes a network namespace with loopback up, from the calling thread, which then returns to the
/// namespace it was in: unshare(2) and setns(2) with CLONE_NEWNET are not exported to Swift, and
/// the thread must never be left inside (it aborts if it cannot return). Stores an fd that holds
/// the namespace. Returns 0 or -errno.
int cella_netns_create(int *ns_fd_out);

/// A TCP socket listening on addr:port (network byte order) inside the namespace ns_fd, made by
/// entering it on the calling thread and returning. The socket stays in that namespace.
/// Returns the fd (close-on-exec, non-blocking) or -errno.
int cella_netns_listen_tcp(int ns_fd, uint32_t addr, uint16_t port, int backlog);

/// mount(2) from a short-lived thread whose credentials are those of an unprivileged user: file
/// system uid and gid `uid`/`gid`, no supplementary groups, no effective capability but
/// CAP_SYS_ADMIN. A filesystem that records its mounter's credentials (overlayfs, which checks
/// access to its layers with them) then grants through the mount no more than that user may do.
/// The calling thread's credentials are untouched. Returns 0 or -errno.
int cella_mount_as(const char *source, const char *target, const char *fstype, unsigned long flags,
                   const char *data, uint32_t uid, uint32_t gid);

/// pidfd_send_signal(2): Glibc 2.36 has no wrapper.
int cella_pidfd_send_signal(int pidfd, int signal);

/// waitid(P_PIDFD, pidfd, ..., WEXITED | __WALL [| WNOHANG]): P_PIDFD and __WALL are not
/// importable. Returns 0 and fills code/status (CLD_* and exit status or signal) or -errno.
/// With nohang, returns -EAGAIN when the process has not exited yet.
int cella_pidfd_wait(int pidfd, int nohang, int *code, int *status);

/// pipe2(2) with O_CLOEXEC: a GNU extension the Glibc module does not export. Returns 0 or errno.
int cella_pipe_cloexec(int fds[2]);

/// memfd_create(2) with MFD_CLOEXEC: not exported to Swift. Returns the fd or -errno.
int cella_memfd(const char *name);

/// epoll(7) for the reaper: <sys/epoll.h> is not in the Glibc module, and its packed
/// epoll_event does not import. Each returns the result or -errno.
int cella_epoll_create(void);
/// Watches fd for readability once (EPOLLIN | EPOLLONESHOT).
int cella_epoll_add_oneshot(int epfd, int fd);
int cella_epoll_del(int epfd, int fd);
/// Watches fd for readability, level-triggered (EPOLLIN).
int cella_epoll_add(int epfd, int fd);
/// Waits and stores the ready fds; returns their count.
int cella_epoll_wait(int epfd, int *fds, int max, int timeout_ms);

/// The MS_* flags of the mount holding path that a bind remount in a user namespace must
/// repeat (the kernel locks them): nosuid, nodev, noexec and the atime flags. ST_* are GNU-only.
unsigned long cella_locked_mount_flags(const char *path);

/// A connected AF_UNIX stream pair for one clone of a template: fds[0] (the agent's) has
/// SO_PASSCRED and SO_PASSPIDFD set, so the clone's first message names it reliably; fds[1] goes
/// to the template with SCM_RIGHTS. Both close-on-exec. CMSG and SO_PASSPIDFD are macros and
/// constants Swift cannot import. Returns 0 or -errno.
int cella_clone_socketpair(int fds[2]);

/// sendmsg(2) of `length` bytes with up to 8 fds as SCM_RIGHTS (CMSG_* are macros). Returns 0 or
/// -errno (-EMSGSIZE on a short send).
int cella_send_fds(int sock, const void *data, size_t length, const int *fds, int fd_count);

/// Waits up to timeout_ms for a message on a socket made by cella_clone_socketpair and receives
/// it: stores the sender's pid (SCM_CREDENTIALS, in our pid namespace) and a pidfd for it
/// (SCM_PIDFD, -1 if the kernel sent none). Any fds sent along are closed. Returns the byte
/// count (0 at EOF) or -errno (-ETIMEDOUT).
int cella_recv_hello(int sock, int timeout_ms, void *buf, size_t length, pid_t *pid_out, int *pidfd_out);

/// pidfd_open(2): Glibc 2.36 has no wrapper. Returns the fd or -errno.
int cella_pidfd_open(pid_t pid);

/// The wait status of a process that has exited and been reaped, through PIDFD_GET_INFO
/// (Linux 6.15+): this works for a process that is not our child (a template's clone), for which
/// waitid says ECHILD. Returns 0, -EAGAIN (not reaped yet) or -errno.
int cella_pidfd_exit_status(int pidfd, int *wait_status);

#ifdef __cplusplus
}
#endif

#endif
