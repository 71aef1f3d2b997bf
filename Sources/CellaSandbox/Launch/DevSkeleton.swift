import Glibc

/// The directory every sandbox's `/dev` is bound from, in the launcher's state directory: empty
/// files where the host's devices are bound, the usual links into `/proc/self/fd`, and `shm`
/// where a size-limited tmpfs goes. Binding it (read-only) costs one mount and a remount where
/// filling a fresh tmpfs cost a mount and fifteen file operations in every sandbox. It shows in
/// every sandbox, so the launcher refuses a directory holding anything else.
enum DevSkeleton {
    static let links = [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                        ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]

    /// Creates what is missing of the skeleton at `path` and checks that nothing else is there.
    /// - Throws: `SandboxError` `.launchFailed` naming what is wrong.
    static func make(at path: String) throws(SandboxError) {
        func refuse(_ what: String) -> SandboxError {
            SandboxError(.launchFailed, "\(path) holds \(what): it is every sandbox's /dev, and must hold only what Cella puts there; remove it")
        }
        do throws(SystemError) {
            try FileIO.makeDirectory(path)
            chmod(path, 0o755)
            for device in FilesystemPlan.devices {
                let fd = open(path + "/" + device, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
                guard fd >= 0 else { throw SystemError(call: "open", subject: path + "/" + device, errno: errno) }
                close(fd)
            }
            for (link, target) in links where symlink(target, path + "/" + link) != 0 && errno != EEXIST {
                throw SystemError(call: "symlink", subject: path + "/" + link, errno: errno)
            }
            try FileIO.makeDirectory(path + "/shm")
        } catch {
            throw SandboxError(.launchFailed, "cannot make the /dev skeleton at \(path)", cause: error)
        }
        var st = stat()
        for device in FilesystemPlan.devices {
            guard lstat(path + "/" + device, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size == 0 else {
                throw refuse("a \(device) that is not an empty file")
            }
        }
        for (link, target) in links {
            var buffer = [CChar](repeating: 0, count: 64)
            let n = readlink(path + "/" + link, &buffer, buffer.count - 1)
            guard n > 0, String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == target else {
                throw refuse("a \(link) that is not a link to \(target)")
            }
        }
        guard lstat(path + "/shm", &st) == 0, st.st_mode & S_IFMT == S_IFDIR, (try? FileIO.list(path + "/shm"))?.isEmpty == true else {
            throw refuse("a shm that is not an empty directory")
        }
        let expected = Set(FilesystemPlan.devices + links.map(\.0) + ["shm"])
        let extra = Set((try? FileIO.list(path)) ?? []).subtracting(expected)
        guard extra.isEmpty else { throw refuse(extra.sorted().joined(separator: ", ")) }
    }
}
