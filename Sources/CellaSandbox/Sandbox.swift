import CSandboxShim
import Glibc
import Synchronization

/// A running sandbox: its first process (pid 1 of its own pid namespace), held through a pidfd,
/// and its cgroup. Killing the first process ends the whole sandbox (the kernel kills the rest of
/// a pid namespace when its init dies). Waiting reaps it, reads its usage and removes its cgroup;
/// after that nothing of the sandbox is left.
public final class Sandbox: Sendable {
    public let id: String
    /// The first process's pid as the host sees it.
    public let pid: pid_t
    public let cgroup: SandboxCgroup
    private let pidfd: Int32
    private let state = Mutex<SandboxExit?>(nil)
    /// A held launch (made ahead of need) until its program runs or it dies.
    private let hold: Mutex<HeldLaunch?>
    /// The cgroup files the exit reads, opened during the launch; taken (and closed) at the exit.
    private let usageFiles: Mutex<CgroupUsageFiles?>

    init(id: String, pid: pid_t, pidfd: Int32, cgroup: SandboxCgroup, held: HeldLaunch?, usageFiles: CgroupUsageFiles) {
        self.id = id
        self.pid = pid
        self.pidfd = pidfd
        self.cgroup = cgroup
        self.hold = Mutex(held)
        self.usageFiles = Mutex(usageFiles)
    }

    /// Launched held and not released yet: everything is in place but the program.
    public var isHeld: Bool { hold.withLock { $0.map { !$0.released } ?? false } }

    /// Lets a held sandbox exec its program, with `environment` on top of its spec's (for what is
    /// known only now, such as the instance's identity). Blocking until the exec, like `launch`.
    /// - Throws: `SandboxError` `.launchFailed` when it was not launched held, was released
    ///   already or has ended; `.setupFailed` (stage `execve ...`) when the exec fails, after
    ///   which the sandbox is killed (waiting cleans it up).
    public func release(environment: [String: String] = [:]) throws(SandboxError) {
        guard let launch = hold.withLock({ hold -> HeldLaunch? in
            guard let hold, !hold.released else { return nil }
            hold.released = true
            return hold
        }), exit == nil else {
            throw SandboxError(.launchFailed, "sandbox \(id) is not held (never was, released already, or ended)")
        }
        if let error = launch.release(environment) {
            kill()
            throw error
        }
        // The program runs: the child no longer reads the launch's memory or stack.
        hold.withLock { $0 = nil }
    }

    /// Sends `signal` to the sandbox's first process. Note that pid 1 of a namespace only receives
    /// signals it handles, apart from SIGKILL and SIGSTOP. A sandbox that already ended is fine.
    public func signal(_ signal: Int32) {
        state.withLock { exit in
            guard exit == nil else { return }
            _ = cella_pidfd_send_signal(pidfd, signal)
        }
    }

    /// Kills every process of the sandbox.
    public func kill() {
        signal(SIGKILL)
    }

    /// Whether the sandbox has ended and been cleaned up.
    public var exit: SandboxExit? { state.withLock { $0 } }

    /// Blocks until the sandbox ends, then cleans it up. Safe to call more than once and from
    /// several threads; all get the same answer.
    public func waitBlocking() -> SandboxExit {
        if let done = exit { return done }
        // The pidfd turns readable when the process exits, without reaping it; reaping happens in
        // finish(), under the lock, so concurrent waiters never race for the status.
        var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        while exit == nil {
            let r = poll(&pfd, 1, -1)
            if r > 0 || (r < 0 && errno != EINTR) { break }
        }
        return finish()
    }

    /// Waits without blocking a thread (the process-wide reaper watches the pidfd), then cleans up.
    public func wait() async -> SandboxExit {
        if let done = exit { return done }
        await Reaper.shared.waitUntilReadable(pidfd)
        return finish()
    }

    /// Reaps the exited first process, reads usage, removes the cgroup and closes the pidfd, once.
    private func finish() -> SandboxExit {
        state.withLock { exit in
            if let exit { return exit }
            var code: Int32 = 0, status: Int32 = 0
            let r = cella_pidfd_wait(pidfd, 0, &code, &status)
            let termination: SandboxExit.Termination
            if r == 0 && code == CLD_EXITED {
                termination = .exited(status)
            } else if r == 0 {
                termination = .signaled(status)
            } else {
                termination = .signaled(SIGKILL)
            }
            // Taken once (this runs once), and closed before the directories go.
            var files = usageFiles.withLock { $0.take() }
            let usage = files?.usage() ?? ResourceUsage()
            // The namespace's init is reaped only after every other process in it; anything left
            // in the cgroup (a process that escaped the pid namespace cannot exist) is killed.
            if files?.hasProcesses == true { cgroup.killAll() }
            files = nil
            cgroup.destroy()
            // Reaped: a held child's stack and memory are free again.
            hold.withLock { $0 = nil }
            Reaper.shared.forget(pidfd)
            close(pidfd)
            let result = SandboxExit(termination: termination, usage: usage)
            exit = result
            return result
        }
    }

    deinit {
        if state.withLock({ $0 }) == nil {
            _ = cella_pidfd_send_signal(pidfd, SIGKILL)
            _ = finish()
        }
    }
}
