/// An archive entry's path, checked and normalized: relative to the bundle root, with no `..`,
/// no empty or `.` components, every component a valid Linux file name.
struct EntryPath: Hashable, Sendable, CustomStringConvertible {
    /// Never empty names, never `.` or `..`; empty for the root itself.
    let components: [String]

    static let root = EntryPath(components: [])

    var isRoot: Bool { components.isEmpty }
    var name: String { components.last ?? "." }
    var parent: EntryPath { EntryPath(components: components.dropLast()) }
    var description: String { components.isEmpty ? "." : components.joined(separator: "/") }

    /// `self` and every directory above it, outermost first, the root excluded.
    var prefixes: [EntryPath] { (1...max(components.count, 1)).map { EntryPath(components: Array(components.prefix($0))) } }

    /// Checks a raw archive name and splits it.
    /// - Parameters:
    ///   - raw: the name's bytes as stored in the archive.
    ///   - limits: the path length and depth caps.
    /// - Returns: the path, and whether the name ended in `/` (zip and tar's mark of a directory).
    /// - Throws: `BundleError` with `invalidPath`, `absolutePath`, `pathTraversal` or
    ///   `pathTooLong`, naming the entry.
    static func parse(_ raw: [UInt8], limits: BundleLimits) throws(BundleError) -> (path: EntryPath, isDirectory: Bool) {
        let display = String(decoding: raw, as: UTF8.self)
        let text = try checkCharacters(raw, display: display, limits: limits, what: "path")
        if text.hasPrefix("/") { throw .entry(.absolutePath, display, "absolute path; bundle paths are relative to the bundle root") }
        var components: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." { throw .entry(.pathTraversal, display, "path escapes the bundle root") }
            if part.utf8.count > BundleLimits.maxComponentBytes {
                throw .entry(.pathTooLong, display, "a path component is longer than \(BundleLimits.maxComponentBytes) bytes")
            }
            components.append(String(part))
        }
        if components.count > limits.maxPathDepth {
            throw .entry(.pathTooLong, display, "path is \(components.count) components deep (limit \(limits.maxPathDepth))")
        }
        return (EntryPath(components: components), text.hasSuffix("/"))
    }

    /// Checks a symbolic link's target and resolves it lexically from the link's directory.
    /// - Returns: where the target points, relative to the bundle root.
    /// - Throws: `BundleError` with `linkEscape` when the target is absolute or climbs out of the
    ///   root, and the `parse` codes for bad characters or length; the error names `entry`.
    func resolveLink(target raw: [UInt8], entry: String, limits: BundleLimits) throws(BundleError) -> [String] {
        let text = try Self.checkCharacters(raw, display: entry, limits: limits, what: "symbolic link target")
        let quoted = BundleError.quoted(text)
        if text.hasPrefix("/") { throw .entry(.linkEscape, entry, "symbolic link target \(quoted) is absolute") }
        guard let resolved = Self.resolve(text, from: parent.components) else {
            throw .entry(.linkEscape, entry, "symbolic link target \(quoted) points outside the bundle root")
        }
        return resolved
    }

    /// Applies a relative path to a directory, component by component; nil if `..` climbs above
    /// the root.
    static func resolve(_ relative: some StringProtocol, from directory: [String]) -> [String]? {
        var stack = directory
        for part in relative.split(separator: "/", omittingEmptySubsequences: true) where part != "." {
            if part == ".." {
                if stack.isEmpty { return nil }
                stack.removeLast()
            } else {
                stack.append(String(part))
            }
        }
        return stack
    }

    /// The character rules shared by names and link targets: not empty, no NUL, valid UTF-8, no
    /// backslash or control characters, within the length cap.
    private static func checkCharacters(
        _ raw: [UInt8], display: String, limits: BundleLimits, what: String
    ) throws(BundleError) -> String {
        if raw.isEmpty { throw .entry(.invalidPath, display, "\(what) is empty") }
        if raw.contains(0) { throw .entry(.invalidPath, display, "\(what) contains a NUL byte") }
        if raw.count > limits.maxPathBytes {
            throw .entry(.pathTooLong, display, "\(what) is \(raw.count) bytes long (limit \(limits.maxPathBytes))")
        }
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw .entry(.invalidPath, display, "\(what) is not valid UTF-8")
        }
        if raw.contains(UInt8(ascii: "\\")) {
            throw .entry(.invalidPath, display, "\(what) contains a backslash; archive paths separate with /")
        }
        if raw.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw .entry(.invalidPath, display, "\(what) contains a control character")
        }
        return text
    }
}
