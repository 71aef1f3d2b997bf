import Glibc

/// Checks a spec before anything is created, so a bad one fails with a precise message and
/// leaves nothing behind.
enum SpecValidator {
    static func validate(_ spec: SandboxSpec) throws(SandboxError) {
        func invalid(_ message: String) -> SandboxError { SandboxError(.invalidSpec, message) }

        let idChars = spec.id.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a)
                || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e
        }
        guard !spec.id.isEmpty, spec.id.utf8.count <= 64, idChars, spec.id != ".", spec.id != ".." else {
            throw invalid("sandbox id \"\(spec.id)\" must be 1-64 characters of A-Z a-z 0-9 _ . -")
        }
        guard let program = spec.command.first, !program.isEmpty else {
            throw invalid("no command to run")
        }
        // The layers' and code's directories are checked (checkHostDirectory) once per root, as
        // its plan is made.
        guard !spec.rootfs.layers.isEmpty else { throw invalid("the rootfs needs at least one layer") }
        guard spec.rootfs.tmpMiB >= 1, spec.rootfs.tmpMiB <= 64 * 1024 else {
            throw invalid("tmp size \(spec.rootfs.tmpMiB) MiB is outside 1...65536")
        }
        guard spec.rootfs.shmMiB >= 1, spec.rootfs.shmMiB <= 64 * 1024 else {
            throw invalid("shm size \(spec.rootfs.shmMiB) MiB is outside 1...65536")
        }
        guard spec.resources.memoryBytes >= 4 << 20 else {
            throw invalid("memory limit \(spec.resources.memoryBytes) bytes is below the 4 MiB minimum")
        }
        if let cpus = spec.resources.cpus, !(cpus >= 0.01 && cpus <= 1024) {
            throw invalid("cpu quota \(cpus) is outside 0.01...1024 CPUs")
        }
        guard spec.resources.pids >= 1 else { throw invalid("pids limit must be at least 1") }
        guard spec.user.uid < spec.idMapping.count, spec.user.gid < spec.idMapping.count else {
            throw invalid("uid/gid \(spec.user.uid)/\(spec.user.gid) is outside the mapped range 0..<\(spec.idMapping.count)")
        }
        guard spec.workingDirectory.hasPrefix("/") else {
            throw invalid("working directory \"\(spec.workingDirectory)\" must be absolute")
        }
        guard !spec.hostname.isEmpty, spec.hostname.utf8.count <= 64 else {
            throw invalid("hostname must be 1-64 bytes")
        }
        guard spec.extraFiles.count <= 64 else { throw invalid("at most 64 extra files") }
        for (key, value) in spec.environment {
            guard !key.isEmpty, !key.contains("="), !key.contains("\0"), !value.contains("\0") else {
                throw invalid("bad environment variable name \"\(key)\"")
            }
        }
        for arg in spec.command where arg.contains("\0") { throw invalid("argument contains a NUL byte") }
    }

    /// A layer or code directory: absolute, a directory, free of the characters overlayfs uses as
    /// separators, and reachable by the sandbox's unprivileged host uid (every ancestor must be
    /// searchable by others).
    static func checkHostDirectory(_ path: String) throws(SandboxError) {
        guard path.hasPrefix("/"), !path.contains(":"), !path.contains(","), !path.contains("\\") else {
            throw SandboxError(.invalidSpec, "rootfs path \"\(path)\" must be absolute and contain no ':' ',' or '\\'")
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SandboxError(.invalidSpec, "rootfs path \(path): \(Errno.describe(errno))", errno: errno)
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw SandboxError(.invalidSpec, "rootfs path \(path) is not a directory")
        }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            guard stat(prefix, &st) == 0 else { continue }
            if st.st_mode & 0o001 == 0 {
                let mode = String(st.st_mode & 0o7777, radix: 8)
                throw SandboxError(
                    .invalidSpec,
                    "\(prefix) has mode \(mode): the sandbox's unprivileged host user cannot reach \(path) (chmod o+x \(prefix))")
            }
        }
    }
}
