import Foundation

/// A runtime installed on the node: the layers of its root filesystem and the program that starts
/// it. Read from `<runtimes>/<name>/runtime.json`, which `rootfs/build.sh` writes (see
/// docs/runtimes.md).
public struct Runtime: Sendable, Equatable {
    public var name: String
    /// Host directories, topmost first.
    public var layers: [String]
    /// The program inside the sandbox that starts the runtime, e.g. `/var/runtime/bootstrap`.
    public var bootstrap: String
    /// Variables the runtime needs (PATH, LANG); the platform's own come on top.
    public var environment: [String: String]
    /// The template protocol the runtime's bootstrap speaks (`cella-template-2`,
    /// docs/runtime-snapshots.md), or nil: its instances are then always started cold.
    public var templates: String? = nil
}

/// The runtimes under one directory, looked up by name and re-read when their manifest changes,
/// so a runtime built while the agent runs is found without a restart.
public final class RuntimeRegistry: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    private struct Manifest: Decodable {
        var name: String
        var layers: [String]
        var bootstrap: String
        var environment: [String: String]?
        var templates: String?
    }

    /// - Throws: `AgentError` `.runtimeNotFound` naming the command that builds it, or
    ///   `.internal` when the manifest is unreadable or names missing layers.
    public func runtime(named name: String) throws(AgentError) -> Runtime {
        guard !name.contains("/"), !name.hasPrefix(".") else {
            throw AgentError(.runtimeNotFound, "\"\(name)\" is not a runtime name")
        }
        let base = directory + "/" + name
        let path = base + "/runtime.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentError(.runtimeNotFound, "runtime \(name) is not installed in \(directory): build it with `sudo bash rootfs/build.sh \(name)`")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw AgentError(.internal, "\(path) is not a valid runtime manifest: \(error)")
        }
        // Layers are links to versioned trees that a rebuild swaps; resolving them here pins each
        // deployed function to the trees it was deployed with (the build keeps the previous one).
        var layers: [String] = []
        for layer in manifest.layers.map({ $0.hasPrefix("/") ? $0 : base + "/" + $0 }) {
            guard let resolved = realpath(layer, nil) else {
                throw AgentError(.internal, "runtime \(name): layer \(layer) is missing; rebuild it with `sudo bash rootfs/build.sh \(name)`")
            }
            layers.append(String(cString: resolved))
            free(resolved)
        }
        return Runtime(
            name: manifest.name, layers: layers, bootstrap: manifest.bootstrap,
            environment: manifest.environment ?? [:], templates: manifest.templates)
    }
}
