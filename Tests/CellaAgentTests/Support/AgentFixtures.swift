import CellaAgent
import CellaTestSupport
import Foundation
import Testing

/// Every test that runs a real agent, one at a time: they share the machine's two cores, and
/// their timeouts are measured in wall-clock time.
@Suite(.serialized, .enabled(if: AgentFixtures.isRoot, AgentFixtures.rootSkipReason), .timeLimit(.minutes(5)))
struct AgentTests {}

/// Paths and archives for the agent tests. Runtimes and the awslambdaric bundle are built by
/// `scripts/test.sh` before the tests run (`rootfs/build.sh`, `scripts/fixtures.sh`).
enum AgentFixtures {
    static let isRoot = geteuid() == 0
    static let rootSkipReason: Comment = "needs root: the agent runs sandboxes"

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func runtimesDirectory() throws -> String {
        let dir = ProcessInfo.processInfo.environment["CELLA_RUNTIMES_DIR"] ?? "/var/lib/cella/runtimes"
        for name in ["python3.11", "provided"] where !FileManager.default.fileExists(atPath: "\(dir)/\(name)/runtime.json") {
            throw Missing(description: "runtime \(name) is not built in \(dir): run `sudo bash rootfs/build.sh python3.11 provided` (scripts/test.sh does)")
        }
        return dir
    }

    /// A function's source directory under Tests/Fixtures/functions.
    static func functionDirectory(_ name: String) -> String {
        repository + "/Tests/Fixtures/functions/" + name
    }

    /// The awslambdaric bundle directory that scripts/fixtures.sh prepares.
    static func awslambdaricDirectory() throws -> String {
        let dir = ProcessInfo.processInfo.environment["CELLA_AWSLAMBDARIC_DIR"] ?? "/var/cache/cella/fixtures/awslambdaric"
        guard FileManager.default.fileExists(atPath: dir + "/awslambdaric") else {
            throw Missing(description: "the awslambdaric bundle is not prepared in \(dir): run `sudo bash scripts/fixtures.sh` (scripts/test.sh does)")
        }
        return dir
    }

    /// A zip of a directory's contents (modes kept), made with Python's zipfile module.
    static func zip(directory: String) throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "cella-bundle-\(UUID().uuidString).zip"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let entries = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        try run(["/usr/bin/python3", "-m", "zipfile", "-c", out] + entries, in: directory)
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    /// A zip made by a Python snippet that writes to the path in `sys.argv[1]`: for archives no
    /// tool would make (traversal, links out, bombs).
    static func craftedZip(_ python: String) throws -> [UInt8] {
        let out = NSTemporaryDirectory() + "cella-crafted-\(UUID().uuidString).zip"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try run(["/usr/bin/python3", "-c", "import sys, zipfile\n" + python, out], in: "/")
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    static func run(_ argv: [String], in directory: String) throws {
        let r = Command.run(argv, directory: directory)
        guard r.status == 0 else {
            throw Missing(description: "\(argv.joined(separator: " ")) exited with \(r.status): \(r.stderr.prefix(2000))")
        }
    }

    static let hierarchies = ["memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "freezer", "unified", ""]

    /// Sandbox cgroups under a cgroup root, in any hierarchy.
    static func sandboxCgroups(root: String) -> [String] {
        var found: [String] = []
        for hierarchy in hierarchies {
            let dir = "/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")\(root)"
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for entry in entries {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + entry, isDirectory: &isDir), isDir.boolValue {
                    found.append(dir + "/" + entry)
                }
            }
        }
        return found
    }

    static func removeCgroupRoot(_ root: String) {
        for hierarchy in hierarchies {
            rmdir("/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")\(root)")
        }
    }
}
