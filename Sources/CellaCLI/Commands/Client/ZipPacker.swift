import CZlib
import Foundation

/// Packs a directory into a zip the same way every time: entries in byte order of their paths,
/// timestamps fixed at 1980-01-01, modes reduced to 0755 (executable or directory) or 0644, so the
/// same tree gives the same bytes and the same bundle digest (the controller keeps one copy per
/// digest). Unix modes go in the external attributes, as Info-ZIP writes them, so a `bootstrap`
/// stays executable on the node. Symbolic links are stored as links (the agent checks where they
/// point). No zip64: the controller takes bundles up to 50 MB.
enum ZipPacker {
    /// One packed entry, for tests and for `fn deploy`'s summary.
    struct Entry: Equatable, Sendable {
        enum Kind: Equatable, Sendable { case directory, file, symlink }
        var path: String
        var kind: Kind
        var mode: UInt32
    }

    /// The zip's bytes and what is in it.
    struct Archive: Sendable {
        var bytes: [UInt8]
        var entries: [Entry]
    }

    /// - Throws: `ClientError` (usage) naming the file that cannot be read, a special file (socket,
    ///   device, FIFO), or an archive too big for a zip without zip64.
    static func pack(directory: String) throws(ClientError) -> Archive {
        var root = directory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        var st = stat()
        guard stat(root, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { throw .usage("\(directory) is not a directory") }
        var writer = Writer()
        var entries: [Entry] = []
        try walk(root: root, relative: "", writer: &writer, entries: &entries)
        guard !entries.isEmpty else { throw .usage("\(directory) is empty: nothing to deploy") }
        return Archive(bytes: try writer.finish(), entries: entries)
    }

    private static func walk(root: String, relative: String, writer: inout Writer, entries: inout [Entry]) throws(ClientError) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw .usage("cannot list \(dir): \(error.localizedDescription)")
        }
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + path
            var st = stat()
            guard lstat(full, &st) == 0 else { throw .usage("cannot stat \(full): \(String(cString: strerror(errno)))") }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                let entry = Entry(path: path + "/", kind: .directory, mode: UInt32(S_IFDIR) | 0o755)
                try writer.add(entry, data: [])
                entries.append(entry)
                try walk(root: root, relative: path, writer: &writer, entries: &entries)
            case S_IFREG:
                let executable = st.st_mode & 0o111 != 0
                let entry = Entry(path: path, kind: .file, mode: UInt32(S_IFREG) | (executable ? 0o755 : 0o644))
                guard let data = FileManager.default.contents(atPath: full) else { throw .usage("cannot read \(full)") }
                try writer.add(entry, data: Array(data))
                entries.append(entry)
            case S_IFLNK:
                let target: String
                do { target = try FileManager.default.destinationOfSymbolicLink(atPath: full) } catch {
                    throw .usage("cannot read the link \(full): \(error.localizedDescription)")
                }
                let entry = Entry(path: path, kind: .symlink, mode: UInt32(S_IFLNK) | 0o777)
                try writer.add(entry, data: Array(target.utf8))
                entries.append(entry)
            default:
                throw .usage("\(full) is not a regular file, directory or symbolic link", hint: "remove it from the directory, or deploy a zip you made")
            }
        }
    }

    /// Accumulates local headers and data, then the central directory.
    private struct Writer {
        var bytes: [UInt8] = []
        var central: [UInt8] = []
        var count = 0

        // 1980-01-01 00:00:00 in MS-DOS format: the earliest a zip can say, and the same on every run.
        static let dosTime: UInt16 = 0
        static let dosDate: UInt16 = (0 << 9) | (1 << 5) | 1

        mutating func add(_ entry: Entry, data: [UInt8]) throws(ClientError) {
            let name = Array(entry.path.utf8)
            guard name.count <= 0xffff else { throw .usage("path too long for a zip: \(entry.path)") }
            let crc = data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            var method: UInt16 = 0
            var stored = data
            if entry.kind == .file, data.count > 64, let deflated = ZipPacker.deflate(data), deflated.count < data.count {
                method = 8
                stored = deflated
            }
            let offset = bytes.count
            guard offset + stored.count + name.count + 30 < Int(UInt32.max) else {
                throw .usage("the directory is too big for a bundle (the limit is 50 MB)")
            }
            let flags: UInt16 = 0x0800  // names are UTF-8
            // Local file header.
            bytes.le32(0x0403_4b50); bytes.le16(20); bytes.le16(flags); bytes.le16(method)
            bytes.le16(Self.dosTime); bytes.le16(Self.dosDate); bytes.le32(crc)
            bytes.le32(UInt32(stored.count)); bytes.le32(UInt32(data.count))
            bytes.le16(UInt16(name.count)); bytes.le16(0)
            bytes += name
            bytes += stored
            // Central directory record: made by Unix (3), zip 2.0.
            central.le32(0x0201_4b50); central.le16(3 << 8 | 20); central.le16(20); central.le16(flags); central.le16(method)
            central.le16(Self.dosTime); central.le16(Self.dosDate); central.le32(crc)
            central.le32(UInt32(stored.count)); central.le32(UInt32(data.count))
            central.le16(UInt16(name.count)); central.le16(0); central.le16(0); central.le16(0); central.le16(0)
            central.le32(entry.mode << 16 | (entry.kind == .directory ? 0x10 : 0))
            central.le32(UInt32(offset))
            central += name
            count += 1
        }

        mutating func finish() throws(ClientError) -> [UInt8] {
            guard count <= 0xffff else { throw .usage("too many files for a bundle (\(count); at most 65535)") }
            let centralOffset = bytes.count
            bytes += central
            bytes.le32(0x0605_4b50); bytes.le16(0); bytes.le16(0)
            bytes.le16(UInt16(count)); bytes.le16(UInt16(count))
            bytes.le32(UInt32(central.count)); bytes.le32(UInt32(centralOffset)); bytes.le16(0)
            return bytes
        }
    }

    /// Raw deflate (zip method 8) at zlib's default level; nil if zlib fails.
    static func deflate(_ input: [UInt8]) -> [UInt8]? {
        // zlib keeps a pointer back to the stream and checks it on every call, so the stream
        // needs an address that does not move: heap memory, not a Swift local.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard cella_deflate_init(stream, Z_DEFAULT_COMPRESSION, -15) == Z_OK else { return nil }
        defer { deflateEnd(stream) }
        let bound = Int(deflateBound(stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let status: Int32 = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.pointee.avail_in = uInt(inBuf.count)
                stream.pointee.next_out = outBuf.baseAddress
                stream.pointee.avail_out = uInt(outBuf.count)
                let status = CZlib.deflate(stream, Z_FINISH)
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
                return status
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeLast(Int(stream.pointee.avail_out))
        return output
    }
}

extension [UInt8] {
    fileprivate mutating func le16(_ v: UInt16) { append(UInt8(v & 0xff)); append(UInt8(v >> 8)) }
    fileprivate mutating func le32(_ v: UInt32) { for shift in stride(from: 0, through: 24, by: 8) { append(UInt8(v >> UInt32(shift) & 0xff)) } }
}
