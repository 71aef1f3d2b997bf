import Glibc

/// A failed system call made by the parent: the call's name, what it acted on, and errno.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The system call or libc function, e.g. `mkdir`.
    public let call: String
    /// The path or object it acted on, when there is one.
    public let subject: String?
    /// The errno it failed with.
    public let errno: Int32

    public init(call: String, subject: String? = nil, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        let target = subject.map { " \($0)" } ?? ""
        return "\(call)\(target): \(Errno.describe(errno))"
    }
}

/// Runs a libc call that returns -1 and sets errno on failure: reads errno at once, retries
/// EINTR, and throws a `SystemError` naming the call.
@inline(__always)
package func retrying<T: BinaryInteger>(
    _ call: String, _ subject: String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(call: call, subject: subject, errno: code)
    }
}
