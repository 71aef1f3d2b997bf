import CellaTestSupport
import Foundation

/// The host's python3, whose zipfile and tarfile modules write archives the way real tools do.
enum Python {
    static let path: String? = ProcessInfo.processInfo.environment["PATH"]?
        .split(separator: ":").map { $0 + "/python3" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs a script with arguments; its standard error is returned when it fails.
    static func run(_ script: String, _ arguments: [String]) throws {
        let r = Command.run([path ?? "/usr/bin/python3", "-c", script] + arguments)
        guard r.status == 0 else { throw PythonFailed(message: r.stderr) }
    }

    struct PythonFailed: Error { var message: String }
}
