import CellaSandbox
import Foundation

/// Prepared sandboxes for versions that start cold (runtimes without templates, such as
/// awslambdaric or `provided`): after a cold start of a version has served its invocation, the
/// next instance's sandbox is made ahead of need — namespaces, cgroup with the version's limits,
/// root filesystem, privileges dropped, seccomp on — and held just before its runtime's exec.
/// The next cold start of that version only releases it, so it skips sandbox setup.
///
/// A held sandbox has no user memory of its own (the child still shares the agent's address
/// space until its exec), so it is not counted against the memory budget; what it does hold (a
/// task, namespaces, mounts, cgroups) is capped by `Settings.preparedSandboxes`, one per version,
/// the one held longest going first.
extension InstancePool {
    /// Starts making a held instance of `key` unless it has one or one is being made.
    func makeHeld(_ key: String) {
        guard settings.preparedSandboxes > 0, held[key] == nil, heldMaking[key] == nil else { return }
        heldMaking[key] = Task { await self.prepareHeld(key) }
    }

    private func prepareHeld(_ key: String) async {
        defer { heldMaking[key] = nil }
        guard let function = functions[key]?.function else { return }
        let instance: Instance
        do {
            instance = try await startSandboxed(function, on: group.next(), held: true)
        } catch {
            logger.warning("cannot prepare a sandbox", metadata: ["cella.function": "\(key)", "cella.error": "\(error)"])
            return
        }
        // Replaced, removed or stopped while it was made, or another took its place.
        guard functions[key]?.function.deployment == function.deployment, held[key] == nil else {
            await instance.stop()
            return
        }
        if held.count >= settings.preparedSandboxes, let oldest = held.min(by: { $0.value.since < $1.value.since }) {
            held[oldest.key] = nil
            oldest.value.instance.terminate()
        }
        held[key] = (instance, .now)
    }

    /// Takes `function`'s held instance, if it has one of the same deployment, and starts its
    /// runtime with a log stream named now. Nil when there is none or it fails to start (the
    /// caller starts one from scratch).
    func releaseHeld(_ function: DeployedFunction) async -> Instance? {
        guard let prepared = held.removeValue(forKey: function.key)?.instance else { return nil }
        guard prepared.function.deployment == function.deployment else {
            prepared.terminate()
            return nil
        }
        let stream = Self.logStreamName(function: function, instance: prepared.id)
        do throws(AgentError) {
            try await prepared.releaseHeld(environment: ["AWS_LAMBDA_LOG_STREAM_NAME": stream], threadPool: threadPool)
        } catch {
            logger.warning("a prepared sandbox failed to start; starting from scratch",
                           metadata: ["cella.function": "\(function.key)", "cella.error": "\(error)"])
            prepared.terminate()
            return nil
        }
        heldUsed += 1
        return prepared
    }

    /// Kills `key`'s held instance (its version was replaced or removed).
    func dropHeld(_ key: String) {
        heldToPrepare.remove(key)
        held.removeValue(forKey: key)?.instance.terminate()
    }

    /// Kills held instances made before `cutoff` (unused for an idle timeout).
    func reapHeld(cutoff: ContinuousClock.Instant) {
        for (key, entry) in held where entry.since < cutoff {
            held[key] = nil
            entry.instance.terminate()
        }
    }

    /// Takes every held instance out, for the caller to stop; none is made after this.
    func stopHeld() -> [Instance] {
        heldToPrepare = []
        defer { held = [:] }
        return held.values.map(\.instance)
    }
}
