import CSandboxShim
import Glibc
import Synchronization

/// What an instance runs in: a sandbox's first process, or a clone forked from a template.
public protocol SandboxedProcess: AnyObject, Sendable {
    /// The cgroup whose limits apply to the process alone.
    var cgroup: SandboxCgroup { get }
    /// Kills the process and everything it started.
    func kill()
    /// Suspends until the process has ended, then removes its cgroup.
    func wait() async -> SandboxExit
}

extension Sandbox: SandboxedProcess {}

/// A clone of a template (docs/runtime-snapshots.md): pid 1 of its own pid namespace, forked by
/// the template's process, so not our child. We hold it through a pidfd (which the kernel gave us
/// with its first message, so a recycled pid cannot be mistaken for it) and its own cgroup. Its
/// exit is seen by polling the pidfd and its status read with PIDFD_GET_INFO once the template
/// has reaped it; waiting removes the cgroup, after which nothing of the clone is left.
public final class ForkedProcess: SandboxedProcess {
    /// The clone's pid as the host sees it.
    public let pid: pid_t
    public let cgroup: SandboxCgroup
    private let pidfd: Int32
    private let state = Mutex<SandboxExit?>(nil)
    private let killed = Atomic<Bool>(false)

    init(pid: pid_t, pidfd: Int32, cgroup: SandboxCgroup) {
        self.pid = pid
        self.pidfd = pidfd
        self.cgroup = cgroup
    }

    /// SIGKILL through the pidfd. A clone is pid 1 of its namespace: its own processes die with it.
    public func kill() {
        state.withLock { exit in
            guard exit == nil else { return }
            killed.store(true, ordering: .relaxed)
            _ = cella_pidfd_send_signal(pidfd, SIGKILL)
        }
    }

    public func wait() async -> SandboxExit {
        if let done = state.withLock({ $0 }) { return done }
        await Reaper.shared.waitUntilReadable(pidfd)
        // Readable at exit; the status is there once the template has reaped the zombie, which
        // it does on SIGCHLD. Give it up to 200 ms.
        var status: Int32 = 0
        var known = false
        for _ in 0..<200 {
            let r = cella_pidfd_exit_status(pidfd, &status)
            if r == 0 { known = true; break }
            if r != -EAGAIN && r != -ESRCH { break }
            usleep(1000)
        }
        return state.withLock { exit in
            if let exit { return exit }
            let termination: SandboxExit.Termination
            if known {
                // A wait status: low 7 bits the signal, else the exit code in the next byte.
                termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            } else {
                termination = .signaled(SIGKILL)
            }
            let usage = cgroup.usage()
            if !cgroup.processes().isEmpty { cgroup.killAll() }
            cgroup.destroy()
            Reaper.shared.forget(pidfd)
            close(pidfd)
            let result = SandboxExit(termination: termination, usage: usage)
            exit = result
            return result
        }
    }

    /// Whether `kill()` was called (an exit then is the agent's doing, not the function's).
    public var wasKilled: Bool { killed.load(ordering: .relaxed) }

    deinit {
        if state.withLock({ $0 }) == nil {
            _ = cella_pidfd_send_signal(pidfd, SIGKILL)
            if !cgroup.processes().isEmpty { cgroup.killAll() }
            cgroup.destroy()
            Reaper.shared.forget(pidfd)
            close(pidfd)
        }
    }
}
