import Foundation

/// A launcher's state directory made by a test (`--state-dir`, `SandboxLauncher.Configuration`).
public enum StateDirectory {
    /// Removes it, first detaching the shared roots mounted under its `roots` (SharedRoot) that
    /// a SIGKILLed agent could not unmount: a recursive removal would otherwise descend into their
    /// read-only overlays and leave them mounted.
    public static func remove(_ path: String) {
        let roots = path + "/roots"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: roots)) ?? [] {
            umount2(roots + "/" + name, Int32(MNT_DETACH))
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The shared roots mounted under the state directory at `path`, as this process's mount table
    /// shows them (the agents and launchers under test share it).
    public static func sharedRootMounts(_ path: String) -> [String] {
        MountTable.points { $0.hasPrefix(path + "/roots/") }
    }
}

/// A process's mount table (this process's by default).
public enum MountTable {
    /// The mount points whose mountinfo line passes `filter` (given the mount point and the line),
    /// in the mount namespace of `process` (a pid, or "self").
    public static func points(of process: String = "self",
                              where filter: (_ point: Substring, _ line: Substring) -> Bool = { _, _ in true }) -> [String] {
        let table = (try? String(contentsOfFile: "/proc/\(process)/mountinfo", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && filter(fields[4], line) ? String(fields[4]) : nil
        }
    }

    /// The mount points passing `filter`.
    public static func points(_ filter: (_ point: Substring) -> Bool) -> [String] {
        points { point, _ in filter(point) }
    }
}
