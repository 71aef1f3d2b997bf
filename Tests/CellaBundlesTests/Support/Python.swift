import Foundation

/// The host's python3, whose zipfile and tarfile modules write archives the way real tools do.
enum Python {
    static let path: String? = ProcessInfo.processInfo.environment["PATH"]?
        .split(separator: ":").map { $0 + "/python3" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs a script with arguments; its standard error is returned when it fails.
    static func run(_ script: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PythonFailed(message: String(decoding: message, as: UTF8.self))
        }
    }

    struct PythonFailed: Error { var message: String }
}
