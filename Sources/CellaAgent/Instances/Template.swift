import CellaSandbox
import Foundation
import NIOCore
import NIOPosix

/// A function version's template (docs/runtime-snapshots.md): an instance whose runtime finished
/// its init and parked, and which forks a new instance (a clone) on each request the agent writes
/// on its control socket. Clone requests to one template run one at a time, in arrival order.
actor Template {
    /// The protocol version a runtime names in `runtime.json` (`"templates"`).
    static let protocolVersion = "cella-template-1"

    let function: DeployedFunction
    /// The parked sandbox. Its death ends every clone (they live in its pid namespace).
    let instance: Instance
    /// The agent's end of the control socket; the template has the other as fd 3.
    private let control: Int32
    /// Memory the template holds (its cgroup's charge after park), against the template budget.
    let bytes: UInt64
    private(set) var lastUsed = ContinuousClock.now
    private(set) var clones = 0
    private var busy = false
    private var queue: [CheckedContinuation<Void, Never>] = []
    private var closed = false
    private var stopWhenUnused = false
    /// A cgroup made, with the version's limits, for the next clone, off the clone's path.
    private var spareCgroup: SandboxCgroup?
    private var makingCgroup = false
    private var cgroupSerial = 0

    init(function: DeployedFunction, instance: Instance, control: Int32, bytes: UInt64) {
        self.function = function
        self.instance = instance
        self.control = control
        self.bytes = bytes
    }

    /// Forks one clone. Waits for the requests before it.
    /// - Parameters:
    ///   - environment: variables that differ per clone (its log stream).
    /// - Throws: `AgentError` `.internal` when the template or the clone fails; the template is
    ///   then of no further use and the caller drops it.
    func clone(
        id: String, environment: [String: String], tmpMiB: Int, shmMiB: Int, resources: SandboxSpec.Resources,
        timeout: Duration, maxPayloadBytes: Int, launcher: SandboxLauncher, threadPool: NIOThreadPool,
        group: any EventLoopGroup, logs: LogStore, region: String,
        onExit: @escaping @Sendable (Instance) -> Void
    ) async throws(AgentError) -> Instance {
        while busy { await withCheckedContinuation { queue.append($0) } }
        busy = true
        defer {
            busy = false
            if !queue.isEmpty { queue.removeFirst().resume() }
        }
        guard !closed, instance.isAlive else {
            throw AgentError(.internal, "the template of \(function.key) is gone")
        }
        lastUsed = .now
        let request = Self.request(environment: environment, tmpMiB: tmpMiB, shmMiB: shmMiB)
        let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let cgroup = spareCgroup
        spareCgroup = nil
        let clone = try await Instance.clone(
            id: id, function: function, control: control, request: request, resources: resources,
            cgroup: cgroup, timeoutMs: Int32(clamping: ms), maxPayloadBytes: maxPayloadBytes,
            launcher: launcher, threadPool: threadPool, group: group, logs: logs, region: region,
            onExit: onExit)
        clones += 1
        prepareCgroup(resources: resources, launcher: launcher, threadPool: threadPool)
        return clone
    }

    /// Makes the next clone's cgroup on the thread pool (a memory cgroup's `mkdir` is not cheap).
    private func prepareCgroup(resources: SandboxSpec.Resources, launcher: SandboxLauncher, threadPool: NIOThreadPool) {
        guard spareCgroup == nil, !makingCgroup, !closed else { return }
        makingCgroup = true
        cgroupSerial += 1
        // Not "-t": that names the template's own sandbox.
        let name = instance.id.replacingOccurrences(of: "-t", with: "-k") + "x\(cgroupSerial)"
        Task {
            let made = try? await threadPool.runIfActive { try? launcher.cgroups.create(id: name, resources: resources) }
            self.installSpare(made ?? nil)
        }
    }

    private func installSpare(_ cgroup: SandboxCgroup?) {
        makingCgroup = false
        if closed || spareCgroup != nil { cgroup?.destroy() } else { spareCgroup = cgroup }
    }

    /// A clone of this template ended.
    func cloneEnded() {
        clones -= 1
        if stopWhenUnused && clones <= 0 { stop() }
    }

    /// Stops the template once its last clone has ended (now if it has none): its clones live in
    /// its pid namespace, and a busy one must finish its invocation (a replaced version's busy
    /// instances do).
    func retire() {
        if clones <= 0 { stop() } else { stopWhenUnused = true }
    }

    /// Stops the template and waits until no cgroup is being made for it (so that none is left
    /// behind when the agent stops).
    func stopAndSettle() async {
        stop()
        for _ in 0..<200 where makingCgroup {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Stops the template (its clones die with it) and closes the control socket, once.
    func stop() {
        guard !closed else { return }
        closed = true
        spareCgroup?.destroy()
        spareCgroup = nil
        instance.terminate()
        Glibc.close(control)
    }

    /// `clone {"tmpMiB": N, "shmMiB": N, "environment": {...}}\n` (docs/runtime-snapshots.md).
    static func request(environment: [String: String], tmpMiB: Int, shmMiB: Int) -> [UInt8] {
        let object: [String: Any] = ["tmpMiB": tmpMiB, "shmMiB": shmMiB, "environment": environment]
        let json = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array("clone ".utf8) + Array(json) + [UInt8(ascii: "\n")]
    }
}
