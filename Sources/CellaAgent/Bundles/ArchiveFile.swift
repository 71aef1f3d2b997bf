import Glibc

/// An archive open for reading: its descriptor, its size, positioned and sequential reads.
final class ArchiveFile {
    let path: String
    let fd: Int32
    let size: Int64
    private var position: Int64 = 0

    /// Opens a regular file.
    /// - Throws: `BundleError` with `io` when it cannot be opened or is not a regular file.
    init(path: String) throws(BundleError) {
        self.path = path
        fd = try BundleSyscalls.check("open", path) { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
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
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset`.
    /// - Throws: `BundleError` with `corrupt` (naming `entry`, when given) if the file ends
    ///   first.
    func read(at offset: Int64, count: Int, entry: String? = nil) throws(BundleError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, Int64(count) <= size - offset else {
            throw BundleError(.corrupt, "archive is truncated: needs \(count) bytes at offset \(offset) of \(size)", entry: entry)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(BundleError) in try BundleSyscalls.readFully(fd, into: buffer, at: offset, subject: path) }
        }.get()
        guard n == count else {
            throw BundleError(.corrupt, "archive is truncated: needs \(count) bytes at offset \(offset) of \(size)", entry: entry)
        }
        return bytes
    }

    /// Up to `buffer.count` bytes at `offset`; fewer only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(BundleError) -> Int {
        try BundleSyscalls.readFully(fd, into: buffer, at: offset, subject: path)
    }

    /// The next bytes of a sequential read from the start; 0 at end of file.
    func readNext(into buffer: UnsafeMutableRawBufferPointer) throws(BundleError) -> Int {
        let n = try read(into: buffer, at: position)
        position += Int64(n)
        return n
    }
}
