import Glibc

/// Symbolic names for errno values, so errors read `pivot_root: EINVAL` as operators expect.
package enum Errno {
    private static let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
        ENXIO: "ENXIO", E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD",
        EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT",
        ENOTBLK: "ENOTBLK", EBUSY: "EBUSY", EEXIST: "EEXIST", EXDEV: "EXDEV", ENODEV: "ENODEV",
        ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
        EMFILE: "EMFILE", ENOTTY: "ENOTTY", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", ENOSPC: "ENOSPC",
        ESPIPE: "ESPIPE", EROFS: "EROFS", EMLINK: "EMLINK", EPIPE: "EPIPE", ERANGE: "ERANGE",
        EDEADLK: "EDEADLK", ENAMETOOLONG: "ENAMETOOLONG", ENOSYS: "ENOSYS",
        ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", EOVERFLOW: "EOVERFLOW",
        EOPNOTSUPP: "EOPNOTSUPP", EADDRINUSE: "EADDRINUSE", ECONNREFUSED: "ECONNREFUSED",
        ENETUNREACH: "ENETUNREACH", ETIMEDOUT: "ETIMEDOUT", EDQUOT: "EDQUOT",
        EUSERS: "EUSERS",
    ]

    /// `EINVAL`, or `errno 123` for values without a name here.
    package static func name(_ code: Int32) -> String {
        names[code] ?? "errno \(code)"
    }

    /// `EINVAL (Invalid argument)`.
    package static func describe(_ code: Int32) -> String {
        "\(name(code)) (\(String(cString: strerror(code))))"
    }
}
