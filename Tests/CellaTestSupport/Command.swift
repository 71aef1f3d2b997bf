import Foundation
import Glibc

/// Runs short-lived programs for tests: posix_spawn and waitpid on the one pid, never
/// Foundation's Process, whose exit monitoring once missed a short child's exit and left
/// `waitUntilExit` blocked for good (a suite hung past its time limit). Standard input, output
/// and error go through files, so a chatty program cannot fill a pipe and stall.
public enum Command {
    public struct Result: CustomStringConvertible, Sendable {
        /// The exit status, or 128 + the signal that killed it (as a shell reports it); -1 when
        /// the program could not be started.
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var description: String { "status \(status)\nstdout: \(stdout.prefix(2000))\nstderr: \(stderr.prefix(2000))" }
    }

    /// Runs `argv` (an absolute path first) with `environment` (the test process's when nil),
    /// in `directory` when given, `stdin` as its input, default signal dispositions and no
    /// blocked signals; after `timeout` it is killed and the result says so (status -1).
    public static func run(
        _ argv: [String], stdin: String? = nil, directory: String? = nil, environment: [String: String]? = nil,
        timeout: Duration = .seconds(300)
    ) -> Result {
        let scratch = NSTemporaryDirectory() + "cella-command-\(UUID().uuidString)"
        let inPath = scratch + ".in", outPath = scratch + ".out", errPath = scratch + ".err"
        defer { for path in [inPath, outPath, errPath] { unlink(path) } }
        guard FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8)) else {
            return Result(status: -1, stdout: "", stderr: "cannot create \(inPath)")
        }
        // `env -C DIR` changes directory before the program runs.
        let full = directory.map { ["/usr/bin/env", "-C", $0] + argv } ?? argv
        let env = environment ?? ProcessInfo.processInfo.environment
        let cArgs: [UnsafeMutablePointer<CChar>?] = full.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        SpawnActions.closeInherited(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, full[0], &actions, &attributes, cArgs, cEnv)
        guard spawned == 0 else {
            return Result(status: -1, stdout: "", stderr: "posix_spawn \(full[0]): \(String(cString: strerror(spawned)))")
        }
        func output(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        var pause: UInt32 = 500
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return Result(status: -1, stdout: "", stderr: "waitpid: errno \(errno)") }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return Result(status: -1, stdout: output(outPath),
                              stderr: output(errPath) + "\n\(full.joined(separator: " ")): killed after \(timeout)")
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, stdout: output(outPath), stderr: output(errPath))
    }
}
