import CellaSandbox
import Glibc

/// The system-call helpers bundles share: each reads errno at once, retries EINTR (through
/// `CellaSandbox.retrying`) and throws a `BundleError` with code `io`.
enum BundleSyscalls {
    /// Runs one libc call that returns -1 on failure.
    /// - Parameters:
    ///   - call: the call's name for the message.
    ///   - subject: what it acted on (a store path), when no entry is to blame.
    ///   - entry: the archive entry being written, when there is one.
    @discardableResult
    static func check<T: BinaryInteger>(
        _ call: String, _ subject: String? = nil, entry: String? = nil, _ body: () -> T
    ) throws(BundleError) -> T {
        do { return try retrying(call, subject, body) } catch { throw .io(error, entry: entry) }
    }

    /// Writes all of `bytes` to `fd`, across short writes.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, subject: String? = nil, entry: String? = nil) throws(BundleError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            offset += try check("write", subject, entry: entry) { Glibc.write(fd, base + offset, bytes.count - offset) }
        }
    }

    /// Reads up to `count` bytes at `offset`, retrying short reads until EOF.
    /// - Returns: the bytes read; fewer than `count` only at end of file.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64? = nil,
                          subject: String) throws(BundleError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let n = try check(offset == nil ? "read" : "pread", subject) {
                if let offset { return pread(fd, base + total, buffer.count - total, off_t(offset) + off_t(total)) }
                return read(fd, base + total, buffer.count - total)
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// `fstat`.
    static func status(_ fd: Int32, subject: String) throws(BundleError) -> stat {
        var st = stat()
        try check("fstat", subject) { fstat(fd, &st) }
        return st
    }

    /// Flushes a directory, so renames and creations in it survive a crash.
    static func syncDirectory(_ path: String) throws(BundleError) {
        let fd = try check("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try check("fsync", path) { fsync(fd) }
    }

    /// Creates a directory and its missing parents; existing ones are fine.
    static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(BundleError) {
        do { try FileIO.makeDirectories(path, mode: mode) } catch { throw .io(error) }
    }

    /// Names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(BundleError) -> [String] {
        do { return try FileIO.list(path) } catch { throw .io(error) }
    }

    /// Flushes the whole file system holding `fd` (syncfs(2)): after writing a tree of
    /// thousands of files, one flush costs far less than an fsync each.
    static func syncFileSystem(_ fd: Int32, subject: String) throws(BundleError) {
        // Glibc declares syncfs only under _GNU_SOURCE, which Swift's Glibc module does not
        // set; it belongs in CSandboxShim as cella_syncfs once bundles merge into the agent.
        guard let syncfs = syncfsFunction else {
            sync()
            return
        }
        try check("syncfs", subject) { syncfs(fd) }
    }

    /// A fresh name for a temporary file or directory: unguessable, so no other process can
    /// pre-create it.
    static func temporaryName(_ prefix: String) -> String {
        "\(prefix)-\(String(UInt64.random(in: .min ... .max), radix: 16))"
    }
}

extension BundleSyscalls {
    /// Reads a file from start to end, 1 MiB at a time.
    static func forEachChunk(
        ofFileAt path: String, _ body: (UnsafeRawBufferPointer) throws(BundleError) -> Void
    ) throws(BundleError) {
        let fd = try check("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try check("read", path) { read(fd, buffer.baseAddress, buffer.count) }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}

private let syncfsFunction: (@convention(c) (Int32) -> Int32)? = {
    // RTLD_DEFAULT is the null handle in glibc.
    guard let symbol = dlsym(nil, "syncfs") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
}()
