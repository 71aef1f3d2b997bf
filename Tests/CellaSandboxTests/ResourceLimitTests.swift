import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// Cgroup limits hold, and usage is read back.
    @Suite struct ResourceLimits {
        @Test("a fork bomb stops at the pids limit and the host can still fork")
        func forkBomb() throws {
            let bounded = try TestEnvironment.probe("forkbomb", "200") { $0.resources.pids = 16 }
            #expect(bounded.hasPrefix("errno=EAGAIN forked="), "\(bounded)")
            let forked = Int(bounded.split(separator: "=").last ?? "") ?? -1
            #expect(forked >= 10 && forked < 16, "forked \(forked) under pids.max 16")
            let unbounded = try TestEnvironment.probe("forkbomb", "200") { $0.resources.pids = 400 }
            #expect(unbounded == "ok forked=200", "control: the same probe forks 200 with room")
            try TestEnvironment.sh("true")
        }

        @Test("a memory hog is OOM-killed and reported; with room it completes")
        func memoryHog() throws {
            let hog = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "memhog", "200"]) {
                $0.resources.memoryBytes = 48 << 20
            })
            #expect(hog.exit.termination == .signaled(SIGKILL))
            #expect(hog.exit.usage.oomKilled)
            #expect(hog.exit.usage.peakMemoryBytes <= 48 << 20 && hog.exit.usage.peakMemoryBytes > 40 << 20)
            let roomy = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "memhog", "200"]) {
                $0.resources.memoryBytes = 512 << 20
            })
            #expect(roomy.line == "ok touched=200")
            #expect(!roomy.exit.usage.oomKilled)
            #expect(roomy.exit.usage.peakMemoryBytes >= 200 << 20)
        }

        @Test("a CPU hog gets its quota and no more")
        func cpuQuota() throws {
            // Two spinners for 1.5 s of wall time: unlimited they can use two cores.
            let limited = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "spin", "1.5", "2"]) {
                $0.resources.cpus = 0.25
            })
            let unlimited = try TestEnvironment.run(TestEnvironment.spec(["/bin/probe", "spin", "1.5", "2"]) {
                $0.resources.cpus = nil
            })
            let limitedMs = Double(limited.exit.usage.cpuNanoseconds) / 1e6
            let unlimitedMs = Double(unlimited.exit.usage.cpuNanoseconds) / 1e6
            // 0.25 CPU over ~1.5 s is ~375 ms; allow one CFS period of slack either side.
            #expect(limitedMs > 250 && limitedMs < 520, "quota 0.25: \(limitedMs) ms CPU (\(limited.line))")
            #expect(unlimitedMs > 1000, "no quota: \(unlimitedMs) ms CPU (\(unlimited.line))")
        }
    }
}
