import Glibc

/// The directory every sandbox's `/dev` is bound from, in the launcher's state directory: empty
/// files where the host's devices are bound, the usual links into `/proc/self/fd`, and `shm`
/// where a size-limited tmpfs goes. Binding it (read-only) costs one mount and a remount where
/// filling a fresh tmpfs cost a mount and ten files, links and a directory to create (fifteen
/// syscalls) in every sandbox. It shows in every sandbox, so the launcher refuses a directory
/// holding anything else.
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
            var link = stat()
            if lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK {
                throw SystemError(call: "lstat", subject: path + " (a symlink)", errno: ELOOP)
            }
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
        // Only file permissions keep a sandbox out of the skeleton (its read-only remount is made
        // in the sandbox's own namespace, so the kernel does not lock it): everything here must
        // be the host root's, writable by nobody else, and no symlink may lead elsewhere.
        var st = stat()
        func owned(_ name: String, _ type: mode_t) -> Bool {
            lstat(path + name, &st) == 0 && st.st_mode & S_IFMT == type && st.st_uid == 0 && st.st_mode & 0o022 == 0
        }
        guard owned("", S_IFDIR) else {
            throw SandboxError(.launchFailed, "\(path) must be a directory of root's that only root may write: it is every sandbox's /dev; remove it")
        }
        for device in FilesystemPlan.devices {
            guard owned("/" + device, S_IFREG), st.st_size == 0 else {
                throw refuse("a \(device) that is not an empty file of root's that only root may write")
            }
        }
        for (link, target) in links {
            var buffer = [CChar](repeating: 0, count: 64)
            let n = readlink(path + "/" + link, &buffer, buffer.count - 1)
            guard n > 0, String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == target else {
                throw refuse("a \(link) that is not a link to \(target)")
            }
        }
        guard owned("/shm", S_IFDIR), (try? FileIO.list(path + "/shm"))?.isEmpty == true else {
            throw refuse("a shm that is not an empty directory of root's that only root may write")
        }
        let expected = Set(FilesystemPlan.devices + links.map(\.0) + ["shm"])
        let extra = Set((try? FileIO.list(path)) ?? []).subtracting(expected)
        guard extra.isEmpty else { throw refuse(extra.sorted().joined(separator: ", ")) }
    }
}
