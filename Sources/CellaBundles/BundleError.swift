import CellaModel
import CellaSandbox

/// The one error type of function bundles: a stable code to match on, a message for people that
/// names the offending entry, and the errno or error underneath when there is one.
///
/// Messages read `entry "../evil.py": path escapes the bundle root`; match on `code`, never on
/// the text.
public struct BundleError: Error, Sendable, CustomStringConvertible {
    /// Stable, machine-readable reasons; the raw values are part of the agent's API.
    public enum Code: String, Sendable, CaseIterable {
        /// A digest string is not `sha256:` plus 64 hex digits (or the 64 digits alone).
        case invalidDigest = "invalid_digest"
        /// The archive is neither a zip nor a gzip-compressed tar.
        case unsupportedFormat = "unsupported_format"
        /// A zip or tar feature Cella does not unpack: encryption, a compression method other
        /// than stored or deflate, multi-disk zips, sparse or multi-volume tar entries.
        case unsupportedFeature = "unsupported_feature"
        /// The archive is malformed or truncated, or a checksum does not match.
        case corrupt
        /// An entry's path has a `..` component that leaves the bundle root.
        case pathTraversal = "path_traversal"
        /// An entry's path is absolute.
        case absolutePath = "absolute_path"
        /// An entry's path is empty or holds NUL, a backslash, a control character or bytes that
        /// are not UTF-8.
        case invalidPath = "invalid_path"
        /// An entry's path is longer or deeper than `BundleLimits` allows.
        case pathTooLong = "path_too_long"
        /// A symbolic link's target is absolute or resolves outside the bundle root.
        case linkEscape = "link_escape"
        /// An entry's path goes through a symbolic link entry of the same archive.
        case linkTraversal = "link_traversal"
        /// A hard link names something other than a regular file extracted before it.
        case hardLinkEscape = "hard_link_escape"
        /// A device, fifo, socket or other non-regular file.
        case specialFile = "special_file"
        /// The archive, or what it unpacks to, is larger than `BundleLimits` allows.
        case tooLarge = "too_large"
        /// The archive has more entries than `BundleLimits.maxEntries`.
        case tooManyFiles = "too_many_files"
        /// Two entries have the same path, or a file's path is also a directory's.
        case duplicateEntry = "duplicate_entry"
        /// The archive's sha256 is not the digest the caller expected.
        case digestMismatch = "digest_mismatch"
        /// The store holds no archive with that digest.
        case notFound = "not_found"
        /// A system call failed (see `errno`).
        case io
    }

    public let code: Code
    /// What went wrong, naming the entry (as the archive spells it) when one is to blame.
    public let message: String
    /// The archive entry to blame, when there is one.
    public let entry: String?
    /// The errno behind the failure, when there is one.
    public let errno: Int32?
    /// The underlying error, when another layer raised it.
    public let underlying: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, entry: String? = nil, errno: Int32? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.entry = entry
        self.errno = errno
        self.underlying = underlying
        self.message = entry.map { "entry \(BundleError.quoted($0)): \(message)" } ?? message
    }

    /// An error about one entry: `entry "<name>": <message>`.
    static func entry(_ code: Code, _ name: String, _ message: String) -> BundleError {
        BundleError(code, message, entry: name)
    }

    /// A failed system call, with the errno and the call's own error kept.
    static func io(_ cause: SystemError, entry: String? = nil) -> BundleError {
        BundleError(.io, cause.description, entry: entry, errno: cause.errno, underlying: cause)
    }

    public var description: String { message }

    /// The name in double quotes, with quotes, backslashes and control characters escaped (as
    /// JSON escapes them) so a hostile name cannot forge the rest of a log line.
    static func quoted(_ name: String) -> String {
        "\"" + JSONText.escape(name) + "\""
    }
}
