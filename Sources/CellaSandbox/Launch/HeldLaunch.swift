import CSandboxShim
import Glibc

/// A child stopped just before `execve` (`SandboxLauncher.launch(_:cgroup:held:)`): what it still
/// reads through shared memory (its config, the strings, its stack), its error pipe and the
/// socket to release it by. It must stay alive until the child has exec'd or died; the owning
/// `Sandbox` drops it then.
final class HeldLaunch: @unchecked Sendable {
    private let arena: CArena
    private let config: UnsafeMutablePointer<cella_child_config>
    private let stack: ChildStack.Stack
    private let holdWrite: Int32
    private let errorRead: Int32
    private let environment: [String: String]
    /// The error a report of the child's stands for.
    private let failure: (cella_child_error) -> SandboxError
    /// Set, under the owning sandbox's lock, by the one release allowed.
    var released = false

    init(arena: CArena, config: UnsafeMutablePointer<cella_child_config>, stack: ChildStack.Stack, holdWrite: Int32,
         errorRead: Int32, environment: [String: String], failure: @escaping (cella_child_error) -> SandboxError) {
        self.arena = arena
        self.config = config
        self.stack = stack
        self.holdWrite = holdWrite
        self.errorRead = errorRead
        self.environment = environment
        self.failure = failure
    }

    deinit {
        close(holdWrite)
        close(errorRead)
        ChildStack.shared.give(stack)
    }

    /// Gives the child its environment (the spec's, with `extra` on top) and lets it exec.
    /// Blocking until the exec or its failure. Returns nil when the program runs.
    func release(_ extra: [String: String]) -> SandboxError? {
        var environment = environment
        for (key, value) in extra { environment[key] = value }
        config.pointee.envp = Self.environmentVector(environment, in: arena)
        // A program named without a '/' is searched for in the PATH it will run with.
        config.pointee.search_path = arena.string(environment["PATH"] ?? SandboxLauncher.defaultSearchPath)
        var one: UInt8 = 1
        guard send(holdWrite, &one, 1, Int32(MSG_NOSIGNAL)) == 1 else {
            let code = errno
            return SandboxError(.launchFailed, "cannot release the held sandbox: \(Errno.describe(code))", errno: code)
        }
        return Self.readReport(errorRead).map(failure)
    }

    /// `KEY=value` strings, sorted by key, as execve's NULL-terminated vector.
    static func environmentVector(_ environment: [String: String], in arena: CArena) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        arena.stringVector(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    }

    /// The next record on a child's error pipe, or nil at EOF (the pipe is close-on-exec, so EOF
    /// means the child exec'd, or died without a word).
    static func readReport(_ fd: Int32) -> cella_child_error? {
        var report = cella_child_error()
        let n = withUnsafeMutableBytes(of: &report) { buf in
            var total = 0
            while total < buf.count {
                let r = read(fd, buf.baseAddress! + total, buf.count - total)
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { break }
                total += r
            }
            return total
        }
        return n == MemoryLayout<cella_child_error>.size ? report : nil
    }
}
