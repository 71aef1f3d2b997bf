import CellaModel
import CellaSandbox
import Foundation
import Glibc
import Logging

/// A function version's template, or its build in progress.
enum TemplateSlot {
    case building(Int, Task<TemplateBuild, Never>)
    case ready(Template)
}

/// What building a template gave.
enum TemplateBuild: Sendable {
    case ready(Template)
    /// The function's own init failed: the invocation's answer, not a reason to retry cold.
    case initFailed(FunctionErrorBody, initDurationMs: Double)
    /// No template (the runtime did not park, the sandbox failed, no room): start cold.
    case unavailable
}

/// Templates (docs/runtime-snapshots.md): one per function version whose runtime supports them,
/// built by the first new instance it needs, dropped when the version is replaced or removed,
/// when it dies, when it is unused for the idle timeout, or, least recently used first, when the
/// templates together exceed their memory budget. A template's clones live in its pid namespace
/// and die with it, so a template with a busy instance of its version is never evicted.
extension InstancePool {
    /// What a template's cgroup may hold beyond the version's limit once it parked.
    static let templateHeadroomBytes: UInt64 = 2 << 30

    var readyTemplates: [Template] {
        templates.values.compactMap { if case .ready(let t) = $0 { t } else { nil } }
    }

    /// Clones a new instance for one invocation; nil means "start cold instead" (no template could
    /// be had, or the clone failed), with the accounting undone.
    func startFromTemplate(_ function: DeployedFunction, bytes: UInt64) async -> Acquired? {
        let key = function.key
        if templateRefused[key] == function.deployment { return nil }
        let began = ContinuousClock.now
        memoryInUse += bytes
        functions[key]?.starting += 1
        func undo() {
            memoryInUse -= bytes
            functions[key]?.starting -= 1
            wakeWaiters()
        }
        var hit = true
        let template: Template
        switch await findTemplate(for: function) {
        case .ready(let t, let wasReady):
            hit = wasReady
            template = t
        case .initFailed(let body, let ms):
            undo()
            metrics.template(hit: false)
            return .initFailed(body, initDurationMs: ms)
        case .unavailable:
            undo()
            return nil
        }
        let cloneBegan = ContinuousClock.now
        var instance: Instance
        var fresh = false
        while true {
            let madeAhead: Bool
            do {
                (instance, madeAhead) = try await template.clone(fresh: fresh, loop: Self.currentEventLoop(in: group))
            } catch {
                logger.warning("cloning failed, starting cold", metadata: [
                    "cella.function": "\(key)", "cella.error": "\(error.message)"])
                refuse(template)
                undo()
                return nil
            }
            // Once this clone has served, the template makes the next one ahead of need.
            templatesToPrepare.insert(key)
            members[ObjectIdentifier(instance)] = (instance, bytes)
            let outcome = await awaitInit(instance)
            if case .ready = outcome { break }
            retire(instance)  // and its reservation with it
            if madeAhead && !fresh {
                // It may have died waiting (killed from outside): a clone forked now decides.
                fresh = true
                memoryInUse += bytes
                continue
            }
            functions[key]?.starting -= 1
            if case .failed(let body) = outcome {
                logger.warning("a clone failed before its first event, starting cold", metadata: [
                    "cella.function": "\(key)", "cella.error": "\(body.errorType): \(body.errorMessage)"])
            }
            refuse(template)
            wakeWaiters()
            return nil
        }
        functions[key]?.starting -= 1
        if functions[key] != nil { functions[key]!.busy += 1 }
        templateUse[key] = .now
        let cloneMs = Instance.milliseconds(since: cloneBegan)
        metrics.cloned(seconds: cloneMs / 1000)
        metrics.template(hit: hit)
        metrics.coldStart(kind: hit ? .clone : .cold)
        return .instance(instance, hit ? .clone : .cold,
                         initDurationMs: hit ? cloneMs : Instance.milliseconds(since: began))
    }

    /// A template whose clone failed: dropped, and its deployment starts cold until redeployed.
    private func refuse(_ template: Template) {
        let key = template.function.key
        dropTemplate(key, reason: "failed", only: template)
        templateRefused[key] = template.function.deployment
    }

    private enum Lookup { case ready(Template, wasReady: Bool), initFailed(FunctionErrorBody, Double), unavailable }

    /// The version's template: the one there is, the one being built, or a new build.
    private func findTemplate(for function: DeployedFunction) async -> Lookup {
        let key = function.key
        switch templates[key] {
        case .ready(let t) where t.function.deployment == function.deployment && t.instance.isAlive:
            return .ready(t, wasReady: true)
        case .ready:
            dropTemplate(key, reason: "died")
        case .building(_, let task):
            return Self.lookup(await task.value)
        case nil:
            break
        }
        nextTemplateBuild += 1
        let build = nextTemplateBuild
        let task = Task { await self.buildTemplate(function, build: build) }
        templates[key] = .building(build, task)
        return Self.lookup(await task.value)
    }

    private static func lookup(_ build: TemplateBuild) -> Lookup {
        switch build {
        case .ready(let t): .ready(t, wasReady: false)
        case .initFailed(let body, let ms): .initFailed(body, ms)
        case .unavailable: .unavailable
        }
    }

    /// Starts a template sandbox, waits for its runtime to park, and installs it (if the slot is
    /// still this build's and it fits the budget).
    private func buildTemplate(_ function: DeployedFunction, build: Int) async -> TemplateBuild {
        let key = function.key
        let result = await makeTemplate(function)
        guard case .building(let current, _) = templates[key], current == build else {
            // Replaced or removed meanwhile: this template belongs to no one.
            if case .ready(let t) = result {
                stoppingTemplates[ObjectIdentifier(t.instance)] = t.instance
                await t.stop()
            }
            return .unavailable
        }
        guard case .ready(let template) = result else {
            templates[key] = nil
            return result
        }
        evictTemplates(toFit: template.bytes, sparing: key)
        guard templateBytes + template.bytes <= settings.templateBudgetBytes else {
            templates[key] = nil
            stoppingTemplates[ObjectIdentifier(template.instance)] = template.instance
            await template.stop()
            metrics.templateEvicted(reason: "memory")
            logger.notice("a template does not fit the template budget", metadata: [
                "cella.function": "\(key)", "cella.bytes": "\(template.bytes)"])
            return .unavailable
        }
        templates[key] = .ready(template)
        templateUse[key] = .now
        templateBytes += template.bytes
        publishTemplateGauges()
        return result
    }

    private func makeTemplate(_ function: DeployedFunction) async -> TemplateBuild {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            logger.warning("socketpair for a template failed", metadata: ["cella.errno": "\(errno)"])
            return .unavailable
        }
        let began = ContinuousClock.now
        let instance: Instance
        do {
            instance = try await startSandboxed(
                function, on: Self.currentEventLoop(in: group), template: (control: pair[1], program: cloneProgram))
        } catch {
            close(pair[0])
            close(pair[1])
            logger.warning("a template sandbox failed to start", metadata: [
                "cella.function": "\(function.key)", "cella.error": "\(error.message)"])
            return .unavailable
        }
        close(pair[1])  // the sandbox holds it as its fd 3
        metrics.spawned(seconds: Instance.milliseconds(since: began) / 1000)
        switch await awaitInit(instance) {
        case .parked:
            // What the template holds after init: its cgroup's charge (its pages, page cache).
            let bytes = max(instance.currentMemoryBytes, 1 << 20)
            // Init ran within the version's limit. From now on each clone's fork charges its
            // kernel objects (page tables, namespaces) to this cgroup: room for a thousand.
            instance.raiseMemoryLimit(to: function.memoryBytes + Self.templateHeadroomBytes)
            let settings = CloneSettings(
                tmpMiB: settings.tmpMiB, shmMiB: 16, resources: resources(for: function), timeout: settings.cloneTimeout,
                maxPayloadBytes: settings.maxPayloadBytes, launcher: launcher, threadPool: threadPool,
                group: group, logs: logs, region: settings.region, ids: ids, live: liveClones,
                onExit: { [weak self] clone in Task { await self?.exited(clone) } })
            return .ready(Template(function: function, instance: instance, control: pair[0], bytes: bytes, settings: settings))
        case .failed(let body):
            stoppingTemplates[ObjectIdentifier(instance)] = instance
            instance.terminate()
            close(pair[0])
            return .initFailed(body, initDurationMs: Instance.milliseconds(since: began))
        case .ready:
            // The runtime asked for an event instead of parking: it does not speak the protocol.
            stoppingTemplates[ObjectIdentifier(instance)] = instance
            instance.terminate()
            close(pair[0])
            logger.warning("the runtime did not park its template", metadata: ["cella.function": "\(function.key)"])
            return .unavailable
        }
    }

    /// Drops templates, least recently used first, until `need` more bytes fit the budget. Never
    /// one whose version has a busy or starting instance (its clones would die with it).
    private func evictTemplates(toFit need: UInt64, sparing key: String) {
        let candidates = templates.compactMap { (k, slot) -> (String, ContinuousClock.Instant)? in
            guard k != key, case .ready = slot else { return nil }
            if let pool = functions[k], pool.busy + pool.starting > 0 { return nil }
            return (k, templateUse[k] ?? .now)
        }.sorted { $0.1 < $1.1 }
        for (k, _) in candidates where templateBytes + need > settings.templateBudgetBytes {
            dropTemplate(k, reason: "memory")
        }
    }

    /// Stops a version's template (and its idle clones, which would die with it). With `only`,
    /// just when that is still the version's template.
    func dropTemplate(_ key: String, reason: String, only: Template? = nil) {
        guard case .ready(let template) = templates[key] else {
            if case .building = templates[key], only == nil { templates[key] = nil }
            return
        }
        if let only, only !== template { return }
        templates[key] = nil
        templateUse[key] = nil
        templateBytes -= template.bytes
        metrics.templateEvicted(reason: reason)
        logger.debug("dropping template", metadata: ["cella.function": "\(key)", "cella.reason": "\(reason)"])
        if var pool = functions[key] {
            let (clones, others) = (pool.idle.filter { $0.instance.isClone }, pool.idle.filter { !$0.instance.isClone })
            pool.idle = others
            functions[key] = pool
            for entry in clones { retire(entry.instance) }
        }
        stoppingTemplates[ObjectIdentifier(template.instance)] = template.instance
        // Busy clones (of a replaced or removed version) finish first; failed ones do not.
        if reason == "failed" { Task { await template.stop() } } else { Task { await template.retire() } }
        publishTemplateGauges()
    }

    /// A template's sandbox ended (killed, crashed, or stopped by us).
    func templateExited(_ instance: Instance) {
        stoppingTemplates[ObjectIdentifier(instance)] = nil
        for (key, slot) in templates {
            if case .ready(let t) = slot, t.instance === instance { dropTemplate(key, reason: "died") }
        }
    }

    /// Templates unused for the idle timeout whose versions have no instance left.
    func reapTemplates(cutoff: ContinuousClock.Instant) {
        for (key, slot) in templates {
            guard case .ready = slot, (templateUse[key] ?? .now) < cutoff else { continue }
            if let pool = functions[key], pool.idle.count + pool.busy + pool.starting > 0 { continue }
            dropTemplate(key, reason: "idle")
        }
    }

    /// Every template's instance, including those still stopping, after stopping them all (for
    /// `stopAll`, which waits until each is gone).
    func stopTemplates() async -> [Instance] {
        let all = readyTemplates
        templates = [:]
        templateUse = [:]
        templateBytes = 0
        let stopping = Array(stoppingTemplates.values)
        stoppingTemplates = [:]
        for template in all { await template.stopAndSettle() }
        // Every clone, made ahead or taken, of these templates and of those dropped before.
        return all.map(\.instance) + stopping + liveClones.all
    }

    /// The templates held, for stats and heartbeats: `tenant/name:version` and bytes.
    func templateStats() -> [TemplateStats] {
        templates.compactMap { key, slot in
            guard case .ready(let t) = slot else { return nil }
            return TemplateStats(function: key, bytes: t.bytes, memoryMB: t.function.config.memoryMB,
                                 cloneReady: t.hasReadyClone.load(ordering: .relaxed))
        }.sorted { $0.function < $1.function }
    }

    private func publishTemplateGauges() {
        metrics.templates(count: readyTemplates.count, bytes: templateBytes)
    }
}

/// A template held on the node.
public struct TemplateStats: Codable, Sendable {
    /// `tenant/name:version`.
    public var function: String
    /// Memory the template holds (its cgroup's charge when it parked).
    public var bytes: UInt64
    /// The version's memory limit, which each clone gets.
    public var memoryMB: Int
    /// Whether a clone made ahead of need is waiting for the next new instance.
    public var cloneReady: Bool = false
}
