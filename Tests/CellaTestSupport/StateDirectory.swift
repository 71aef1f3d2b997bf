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
}
