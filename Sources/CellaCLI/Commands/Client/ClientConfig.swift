import Foundation

/// The client's configuration file, `$XDG_CONFIG_HOME/cella/config.json` (else
/// `~/.config/cella/config.json`): named contexts (endpoint, key, tenant) and the current one, as
/// kubectl keeps clusters. It holds keys, so it is written 0600 in a 0700 directory.
struct ClientConfig: Codable, Equatable, Sendable {
    /// Where to reach a controller and with which credential.
    struct Context: Codable, Equatable, Sendable {
        var name: String
        var endpoint: String
        /// A bearer token: the operator's key today, a tenant's API key later.
        var key: String
        /// Sent as `X-Cella-Tenant`; nil for the key's own tenant (`default` for the operator).
        var tenant: String?
    }

    var current: String?
    var contexts: [Context] = []

    func context(named name: String) -> Context? { contexts.first { $0.name == name } }

    /// Adds or replaces the context with the same name, keeping the list sorted by name.
    mutating func upsert(_ context: Context) {
        contexts.removeAll { $0.name == context.name }
        contexts.append(context)
        contexts.sort { $0.name < $1.name }
    }

    /// The file's path for this environment.
    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit = environment["CELLA_CONFIG"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/cella/config.json" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.config/cella/config.json"
    }

    /// The configuration at `path`; empty when the file does not exist.
    /// - Throws: `ClientError` (usage) when the file cannot be read or is not a configuration.
    static func load(from path: String) throws(ClientError) -> ClientConfig {
        guard FileManager.default.fileExists(atPath: path) else { return ClientConfig() }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .usage("cannot read \(path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(ClientConfig.self, from: data) } catch {
            throw .usage("\(path) is not a cella configuration: \(error)", hint: "fix or remove it, then run `cella login`")
        }
    }

    /// Writes the file atomically: a 0600 temporary file in the same 0700 directory, renamed over
    /// the old one, so a reader never sees half a file and the key is never world-readable.
    /// - Throws: `ClientError` (usage) naming the path and errno.
    func save(to path: String) throws(ClientError) {
        let dir = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: dir) {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
                throw .usage("cannot create \(dir): \(error.localizedDescription)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(self)) + [0x0a] } catch { throw .usage("cannot encode the configuration: \(error)") }
        let temp = dir + "/.config.json.\(getpid()).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .usage("cannot write \(temp): \(String(cString: strerror(errno)))") }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temp)
                throw .usage("cannot write \(temp): \(message)")
            }
            written += n
        }
        fchmod(fd, 0o600)
        fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw .usage("cannot replace \(path): \(message)")
        }
    }
}
