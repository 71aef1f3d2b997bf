import CellaModel
import CellaSandbox
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Instance ids: `<boot>-<n>` (templates `<boot>-t<n>`), unique on the node, from any task.
final class InstanceIDs: Sendable {
    let boot: String
    private let counter = Atomic<Int>(0)

    init(boot: String) { self.boot = boot }

    func next(tag: String = "") -> String {
        "\(boot)-\(tag)\(counter.add(1, ordering: .relaxed).newValue)"
    }
}

/// Every clone alive on the node, made ahead or taken, so that the agent's stop can wait for each
/// (a clone made ahead belongs to no function's instances until an invocation takes it).
final class LiveClones: Sendable {
    private let clones = Mutex<[ObjectIdentifier: Instance]>([:])

    init() {}

    func add(_ clone: Instance) {
        clones.withLock { $0[ObjectIdentifier(clone)] = clone }
        // It may have ended before it was added: its exit's remove came first.
        if !clone.isAlive { remove(clone) }
    }

    func remove(_ clone: Instance) {
        _ = clones.withLock { $0.removeValue(forKey: ObjectIdentifier(clone)) }
    }

    var all: [Instance] { clones.withLock { Array($0.values) } }
}

/// What every clone of one template gets: the version's limits and the agent's plumbing.
struct CloneSettings: Sendable {
    var tmpMiB: Int
    var shmMiB: Int
    var resources: SandboxSpec.Resources
    var timeout: Duration
    var maxPayloadBytes: Int
    var launcher: SandboxLauncher
    var threadPool: NIOThreadPool
    var group: any EventLoopGroup
    var logs: LogStore
    var region: String
    var ids: InstanceIDs
    var live: LiveClones
    /// Called when a clone's sandbox ends.
    var onExit: @Sendable (Instance) -> Void
}

/// A function version's template (docs/runtime-snapshots.md): an instance whose runtime finished
/// its init and parked, and which forks a new instance (a clone) on each request the agent writes
/// on its control socket. Clone requests to one template run one at a time, in arrival order.
///
/// Between invocations it keeps one clone made ahead of need: forked, in its own cgroup with the
/// version's limits, its Runtime API connection served, waiting for its go line. An invocation
/// that needs a new instance takes it and sends the go line; only when there is none (the first
/// clone, or a burst) does it wait for a fork.
actor Template {
    /// The protocol version a runtime names in `runtime.json` (`"templates"`).
    static let protocolVersion = "cella-template-2"

    let function: DeployedFunction
    /// The parked sandbox. Its death ends every clone (they live in its pid namespace).
    let instance: Instance
    /// The agent's end of the control socket; the template has the other as fd 3.
    private let control: Int32
    /// Memory the template holds (its cgroup's charge after park), against the template budget.
    let bytes: UInt64
    private let settings: CloneSettings
    private(set) var lastUsed = ContinuousClock.now
    /// Clones taken for invocations and still alive (not the one made ahead).
    private var taken: Set<ObjectIdentifier> = []
    var clones: Int { taken.count }
    private var busy = false
    private var queue: [CheckedContinuation<Void, Never>] = []
    private var closed = false
    private var stopWhenUnused = false
    /// A cgroup made, with the version's limits, for the next clone, off the clone's path.
    private var spareCgroup: SandboxCgroup?
    private var makingCgroup = false
    private var cgroupSerial = 0
    /// The clone made ahead of need, waiting for its go line.
    private var ready: Instance? {
        didSet { hasReadyClone.store(ready != nil, ordering: .relaxed) }
    }
    /// Whether a clone made ahead is waiting (for stats, read from outside the actor).
    nonisolated let hasReadyClone = Atomic<Bool>(false)
    private var preparing = false
    private var prepareWaiters: [CheckedContinuation<Void, Never>] = []
    /// The control socket was closed (after `stop`, once no fork was using it).
    private var controlClosed = false

    /// Names of the cgroups made ahead: the template's id with `-k` for `-t` (which names the
    /// template's own sandbox).
    private let cgroupPrefix: String

    init(function: DeployedFunction, instance: Instance, control: Int32, bytes: UInt64, settings: CloneSettings) {
        self.cgroupPrefix = instance.id.replacingOccurrences(of: "-t", with: "-k")
        self.function = function
        self.instance = instance
        self.control = control
        self.bytes = bytes
        self.settings = settings
    }

    /// A clone for one invocation, let go with its identity: the one made ahead if there is one
    /// (unless `fresh`), else a fork now (after the requests before it).
    /// - Returns: the clone and whether it was made ahead.
    /// - Throws: `AgentError` `.internal` when the template or the clone fails; the template is
    ///   then of no further use and the caller drops it.
    /// - Parameter loop: the event loop to serve a clone forked now on (the invocation's).
    func clone(fresh: Bool = false, loop: (any EventLoop)? = nil) async throws(AgentError) -> (Instance, madeAhead: Bool) {
        guard !closed, instance.isAlive else {
            throw AgentError(.internal, "the template of \(function.key) is gone")
        }
        lastUsed = .now
        while !fresh {
            if let clone = ready {
                ready = nil
                guard clone.isAlive else { continue }
                // Counted from here: its end is a taken clone's end, whether it runs or not.
                taken.insert(ObjectIdentifier(clone))
                do throws(AgentError) {
                    try release(clone)
                    return (clone, true)
                } catch {
                    continue  // it died meanwhile: fork one for this invocation
                }
            }
            // The one being made is nearer than a new fork.
            guard preparing else { break }
            await withCheckedContinuation { prepareWaiters.append($0) }
        }
        let clone = try await fork(loop: loop)
        taken.insert(ObjectIdentifier(clone))
        try release(clone)
        return (clone, false)
    }

    /// Makes the clone kept ahead of need, unless there is one (or one is being made), or the
    /// template is on its way out. A fork that fails stops the template (its control socket may
    /// be out of step): the pool drops it when it exits, and the next need builds a new one.
    /// - Parameter loop: the event loop to serve it on: the one the version's invocations came
    ///   in on, so that the next one hands over its event and gets its answer without a hop.
    func prepare(loop: (any EventLoop)? = nil) async {
        guard ready == nil, !preparing, !closed, !stopWhenUnused, instance.isAlive else { return }
        preparing = true
        defer {
            preparing = false
            for waiter in prepareWaiters { waiter.resume() }
            prepareWaiters = []
        }
        let clone: Instance
        do throws(AgentError) { clone = try await fork(ahead: true, loop: loop) } catch {
            stop()
            return
        }
        if closed || stopWhenUnused || ready != nil || !clone.isAlive {
            clone.terminate()
        } else {
            ready = clone
        }
    }

    /// Sends a clone its go line: its log stream and how it started.
    private func release(_ clone: Instance) throws(AgentError) {
        let stream = InstancePool.logStreamName(function: function, instance: clone.id)
        let line = Self.goLine(environment: [
            "AWS_LAMBDA_LOG_STREAM_NAME": stream, "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        ])
        do throws(AgentError) { try clone.go(line) } catch {
            clone.terminate()
            throw error
        }
    }

    /// Forks one clone, in its cgroup, waiting for its go line. Waits for the requests before it.
    /// - Parameters:
    ///   - ahead: made ahead of need (the runtime may use the wait for its own warm-up).
    ///   - loop: the event loop to serve it on; any of the group's when nil.
    private func fork(ahead: Bool = false, loop: (any EventLoop)? = nil) async throws(AgentError) -> Instance {
        while busy { await withCheckedContinuation { queue.append($0) } }
        busy = true
        defer {
            busy = false
            // A stop during the fork left the socket open for it: closed now that it is done.
            if closed { closeControl() }
            if !queue.isEmpty { queue.removeFirst().resume() }
        }
        guard !closed, instance.isAlive else {
            throw AgentError(.internal, "the template of \(function.key) is gone")
        }
        let s = settings
        let ms = s.timeout.components.seconds * 1000 + s.timeout.components.attoseconds / 1_000_000_000_000_000
        let cgroup = spareCgroup
        spareCgroup = nil
        let clone = try await Instance.clone(
            id: s.ids.next(), function: function, control: control,
            request: Self.request(tmpMiB: s.tmpMiB, shmMiB: s.shmMiB, ahead: ahead), resources: s.resources,
            cgroup: cgroup, timeoutMs: Int32(clamping: ms), maxPayloadBytes: s.maxPayloadBytes,
            launcher: s.launcher, threadPool: s.threadPool, group: loop ?? s.group, logs: s.logs, region: s.region,
            onExit: { clone in
                s.live.remove(clone)
                s.onExit(clone)
                // Holds the template until its last clone has ended: that end may be what stops it.
                Task { await self.cloneEnded(clone) }
            })
        s.live.add(clone)
        prepareCgroup()
        return clone
    }

    /// Makes the next clone's cgroup on the thread pool (a memory cgroup's `mkdir` is not cheap).
    private func prepareCgroup() {
        guard spareCgroup == nil, !makingCgroup, !closed else { return }
        makingCgroup = true
        cgroupSerial += 1
        let name = cgroupPrefix + "x\(cgroupSerial)"
        let (launcher, resources) = (settings.launcher, settings.resources)
        Task {
            let made = try? await settings.threadPool.runIfActive { try? launcher.cgroups.create(id: name, resources: resources) }
            self.installSpare(made ?? nil)
        }
    }

    private func installSpare(_ cgroup: SandboxCgroup?) {
        makingCgroup = false
        if closed || spareCgroup != nil { cgroup?.destroy() } else { spareCgroup = cgroup }
    }

    /// A clone of this template ended: one taken for invocations, or the one made ahead.
    private func cloneEnded(_ clone: Instance) {
        if ready === clone { ready = nil }
        guard taken.remove(ObjectIdentifier(clone)) != nil else { return }
        if stopWhenUnused && taken.isEmpty { stop() }
    }

    /// Stops the template once its last clone has ended (now if it has none): its clones live in
    /// its pid namespace, and a busy one must finish its invocation (a replaced version's busy
    /// instances do).
    func retire() {
        ready?.terminate()
        ready = nil
        if clones <= 0 { stop() } else { stopWhenUnused = true }
    }

    /// Stops the template and waits until no cgroup or clone is being made for it (so that none
    /// is left behind when the agent stops; the clones themselves are in `LiveClones`).
    func stopAndSettle() async {
        stop()
        for _ in 0..<200 where makingCgroup || preparing {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Stops the template (its clones die with it) and closes the control socket, once: at once
    /// when no fork is using it, else when that fork ends (a fork in flight on the thread pool
    /// must not find its descriptor number reused); `shutdown` ends that fork's wait meanwhile.
    func stop() {
        guard !closed else { return }
        closed = true
        spareCgroup?.destroy()
        spareCgroup = nil
        ready?.terminate()
        ready = nil
        instance.terminate()
        if busy { Glibc.shutdown(control, Int32(SHUT_RDWR)) } else { closeControl() }
    }

    private func closeControl() {
        guard !controlClosed else { return }
        controlClosed = true
        Glibc.close(control)
    }

    /// `clone {"tmpMiB": N, "shmMiB": N, "ahead": B}\n` (docs/runtime-snapshots.md).
    static func request(tmpMiB: Int, shmMiB: Int, ahead: Bool) -> [UInt8] {
        Array(#"clone {"tmpMiB":\#(tmpMiB),"shmMiB":\#(shmMiB),"ahead":\#(ahead)}"#.utf8) + [UInt8(ascii: "\n")]
    }

    /// `go {"environment": {...}}\n`: lets a clone in its cgroup go on, with the variables that
    /// are its own.
    static func goLine(environment: [String: String]) -> [UInt8] {
        var text = #"go {"environment":{"#
        for (index, key) in environment.keys.sorted().enumerated() {
            if index > 0 { text += "," }
            text += "\"\(JSONText.escape(key))\":\"\(JSONText.escape(environment[key]!))\""
        }
        text += "}}\n"
        return Array(text.utf8)
    }
}
