import Glibc

extension BundleSyscalls {
    /// Removes a file, link or whole directory tree, never following a symbolic link: every
    /// step is `unlinkat` or `openat(O_NOFOLLOW)` relative to the directory above it. Missing is
    /// fine.
    /// - Parameters:
    ///   - name: a name inside `parentFD`.
    ///   - subject: the path, for messages.
    static func removeTree(_ parentFD: Int32, _ name: [CChar], subject: String) throws(BundleError) {
        if unlinkat(parentFD, name, 0) == 0 { return }
        let code = errno
        if code == ENOENT { return }
        guard code == EISDIR else { throw .io(.init(call: "unlinkat", subject: subject, errno: code)) }
        let fd = try check("openat", subject) { openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard let directory = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw .io(.init(call: "fdopendir", subject: subject, errno: code))
        }
        defer { closedir(directory) }
        // Names first, removal after: removing while reading a directory may skip entries. Kept
        // as bytes, since a name need not be UTF-8.
        var names: [[CChar]] = []
        while let entry = readdir(directory) {
            let child = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.bindMemory(to: CChar.self).prefix(while: { $0 != 0 })) + [0]
            }
            if child != [46, 0] && child != [46, 46, 0] { names.append(child) }
        }
        for child in names {
            let shown = String(decoding: child.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            try removeTree(dirfd(directory), child, subject: subject + "/" + shown)
        }
        try check("unlinkat", subject) { unlinkat(parentFD, name, AT_REMOVEDIR) }
    }

    /// Removes a tree by path (its last component is not followed if it is a link).
    static func removeTree(atPath path: String) throws(BundleError) {
        let slash = path.lastIndex(of: "/")
        let parent = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let fd = try check("open", parent) { open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try removeTree(fd, Array(name.utf8CString), subject: path)
    }
}
