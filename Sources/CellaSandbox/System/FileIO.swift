import Glibc

/// Small, allocation-light file helpers for cgroup and procfs control files, where Foundation's
/// FileManager would cost more than the write itself.
package enum FileIO {
    /// Writes `text` to an existing file (no create, no truncate semantics beyond the kernel's).
    package static func write(_ text: String, to path: String) throws(SystemError) {
        let fd = try retrying("open", path) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        var text = text
        let count = text.withUTF8 { buf in
            Glibc.write(fd, buf.baseAddress, buf.count)
        }
        if count < 0 { throw SystemError(call: "write", subject: path, errno: errno) }
    }

    /// Reads a small file (up to `limit` bytes) as UTF-8 text. The buffer starts at 4 KiB and
    /// grows only for a file that fills it (kernel files are read at every sandbox's exit).
    package static func read(_ path: String, limit: Int = 64 * 1024) throws(SystemError) -> String {
        let fd = try retrying("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: min(limit, 4096))
        var total = 0
        while total < limit {
            if total == bytes.count { bytes += [UInt8](repeating: 0, count: min(bytes.count, limit - total)) }
            let n = bytes.withUnsafeMutableBytes { buf in
                Glibc.read(fd, buf.baseAddress! + total, buf.count - total)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", subject: path, errno: errno)
            }
            if n == 0 { break }
            total += n
        }
        return String(decoding: bytes[0..<total], as: UTF8.self)
    }

    /// Reads a file holding one unsigned integer (cgroup counters).
    package static func readUInt64(_ path: String) throws(SystemError) -> UInt64 {
        let text = try read(path, limit: 64)
        guard let value = UInt64(text.trimmingWhitespace()) else {
            throw SystemError(call: "parse", subject: path, errno: EINVAL)
        }
        return value
    }

    /// Creates a directory; an existing one is fine.
    package static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if mkdir(path, mode) == 0 { return }
        let code = errno
        if code == EEXIST { return }
        throw SystemError(call: "mkdir", subject: path, errno: code)
    }

    /// Creates a directory and its missing parents.
    package static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + part
            try makeDirectory(prefix, mode: mode)
        }
    }

    /// Whether a path exists (without following a final symlink).
    package static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Names in a directory, without `.` and `..`.
    package static func list(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError(call: "opendir", subject: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension StringProtocol {
    package func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
