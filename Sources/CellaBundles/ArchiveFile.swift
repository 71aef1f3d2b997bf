import Glibc

/// An archive open for reading — a file, or bytes already in memory (an upload being checked):
/// its size, positioned and sequential reads.
final class ArchiveFile {
    private enum Source {
        case file(path: String, fd: Int32)
        case memory([UInt8])
    }

    private let source: Source
    let size: Int64
    private var position: Int64 = 0

    /// Opens a regular file.
    /// - Throws: `BundleError` with `io` when it cannot be opened or is not a regular file.
    init(path: String) throws(BundleError) {
        let fd = try BundleSyscalls.check("open", path) { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        do throws(BundleError) {
            let st = try BundleSyscalls.status(fd, subject: path)
            guard st.st_mode & S_IFMT == S_IFREG else {
                throw BundleError(.io, "\(path) is not a regular file", errno: EINVAL)
            }
            size = Int64(st.st_size)
        } catch {
            close(fd)
            throw error
        }
        source = .file(path: path, fd: fd)
    }

    /// Reads from `bytes`.
    init(bytes: [UInt8]) {
        source = .memory(bytes)
        size = Int64(bytes.count)
    }

    deinit { if case .file(_, let fd) = source { close(fd) } }

    /// Exactly `count` bytes at `offset`.
    /// - Throws: `BundleError` with `corrupt` (naming `entry`, when given) if the file ends
    ///   first.
    func read(at offset: Int64, count: Int, entry: String? = nil) throws(BundleError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, Int64(count) <= size - offset else {
            throw BundleError(.corrupt, "archive is truncated: needs \(count) bytes at offset \(offset) of \(size)", entry: entry)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(BundleError) in try read(into: buffer, at: offset) }
        }.get()
        guard n == count else {
            throw BundleError(.corrupt, "archive is truncated: needs \(count) bytes at offset \(offset) of \(size)", entry: entry)
        }
        return bytes
    }

    /// Up to `buffer.count` bytes at `offset`; fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(BundleError) -> Int {
        switch source {
        case .file(let path, let fd):
            return try BundleSyscalls.readFully(fd, into: buffer, at: offset, subject: path)
        case .memory(let bytes):
            guard offset >= 0, offset < size, let base = buffer.baseAddress else { return 0 }
            let n = Int(min(Int64(buffer.count), size - offset))
            bytes.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: n) }
            return n
        }
    }

    /// The next bytes of a sequential read from the start; 0 at end of file.
    func readNext(into buffer: UnsafeMutableRawBufferPointer) throws(BundleError) -> Int {
        let n = try read(into: buffer, at: position)
        position += Int64(n)
        return n
    }
}
