import ArgumentParser
import Foundation

/// Where a daemon's token comes from: a file named by an option (what systemd credentials and
/// Kubernetes secrets give), else an environment variable. Surrounding whitespace (the file's
/// final newline) is not part of the token.
enum TokenSource {
    /// The token, or nil when neither the file nor the variable is given.
    /// - Throws: `ValidationError` naming the file when it cannot be read.
    static func read(file: String?, environment variable: String) throws -> String? {
        guard let file else { return ProcessInfo.processInfo.environment[variable] }
        do {
            return try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ValidationError("cannot read the token file \(file): \(error.localizedDescription)")
        }
    }
}
