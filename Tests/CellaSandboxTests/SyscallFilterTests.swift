import Foundation
import Testing

@testable import CellaSandbox

extension SandboxTests {
    /// The errno oracle (bubblewrap's approach): each call is made with arguments the kernel would
    /// answer with success or a distinctive errno when it is allowed, so EPERM can only come from
    /// the filter. Each case runs three ways: filter off and capabilities kept (the call gets
    /// through), filter on with capabilities kept (the filter alone stops it), and everything on.
    /// The first two give the sandbox namespaces of its own (`hostOwnedNamespaces` off): in the
    /// host's, the kernel refuses several of these calls with EPERM before any filter would
    /// (`hostOwnedNamespacesRefuse`, below).
    @Suite struct SyscallFilter {
        struct Case: CustomTestStringConvertible, Sendable {
            var check: String
            /// The probe's answer with no filter, as the namespace's root with its capabilities.
            var unfiltered: String
            /// The answer under Cella's default profile.
            var filtered = "errno=EPERM"
            var testDescription: String { check }
        }

        static let cases: [Case] = [
            Case(check: "mount", unfiltered: "ok"),
            Case(check: "umount2", unfiltered: "errno=ENOENT"),
            Case(check: "unshare", unfiltered: "ok"),
            Case(check: "unshare-ns", unfiltered: "ok"),
            Case(check: "setns", unfiltered: "errno=EBADF"),
            Case(check: "ptrace", unfiltered: "ok"),
            Case(check: "keyctl", unfiltered: "ok"),
            Case(check: "add_key", unfiltered: "ok"),
            Case(check: "request_key", unfiltered: "errno=ENOKEY"),
            Case(check: "bpf", unfiltered: "errno=EINVAL"),
            Case(check: "perf_event_open", unfiltered: "errno=EFAULT"),
            Case(check: "io_uring_setup", unfiltered: "errno=EFAULT"),
            Case(check: "clone-newuser", unfiltered: "ok"),
            Case(check: "clone3", unfiltered: "ok", filtered: "errno=ENOSYS"),
            Case(check: "chroot", unfiltered: "ok"),
            Case(check: "pivot_root", unfiltered: "errno=ENOENT"),
            Case(check: "open_tree", unfiltered: "errno=EBADF"),
            Case(check: "fsopen", unfiltered: "errno=ENODEV"),
            Case(check: "process_vm_readv", unfiltered: "ok"),
            Case(check: "sethostname", unfiltered: "ok"),
            Case(check: "reboot", unfiltered: "errno=EINVAL"),
        ]

        @Test("denied by the default profile, allowed without it", arguments: cases)
        func denied(_ c: Case) throws {
            let unfiltered = try TestEnvironment.probe("syscall", c.check) {
                $0.protections.seccomp = false
                $0.protections.dropCapabilities = false
                $0.protections.runAsNamespaceRoot = true
                $0.protections.hostOwnedNamespaces = false
            }
            #expect(unfiltered == c.unfiltered, "without the filter, \(c.check) should get through")
            let filterOnly = try TestEnvironment.probe("syscall", c.check) {
                $0.protections.dropCapabilities = false
                $0.protections.runAsNamespaceRoot = true
                $0.protections.hostOwnedNamespaces = false
            }
            #expect(filterOnly == c.filtered, "the filter alone should stop \(c.check)")
            #expect(try TestEnvironment.probe("syscall", c.check) == c.filtered)
        }

        /// Calls whose target namespace the kernel checks the caller's capability in: with the
        /// namespaces the host's, the namespace root refuses them even without the filter and with
        /// every capability; the first run of `denied` shows each getting through when the
        /// sandbox owns its namespaces.
        @Test("with its namespaces the host's, even the sandbox's root without the filter cannot mount, pivot, set the hostname, reboot or open raw sockets",
              arguments: ["mount", "pivot_root", "fsopen", "sethostname", "reboot", "socket-raw"])
        func hostOwnedNamespacesRefuse(_ check: String) throws {
            let unprotected = { (spec: inout SandboxSpec) in
                spec.protections.seccomp = false
                spec.protections.dropCapabilities = false
                spec.protections.runAsNamespaceRoot = true
            }
            let line = try TestEnvironment.probe("syscall", check, configure: unprotected)
            #expect(line == "errno=EPERM", "\(check): \(line)")
            // The same sandbox holds its capabilities: in namespaces its user namespace owns (a
            // mount namespace it unshares), they work.
            #expect(try TestEnvironment.probe("syscall", "unshare-ns", configure: unprotected) == "ok")
        }

        @Test("ordinary calls still work under the filter", arguments: ["getpid", "clone"])
        func allowed(_ check: String) throws {
            #expect(try TestEnvironment.probe("syscall", check) == "ok")
        }

        @Test("raw sockets fail; with capabilities and no filter they would not")
        func rawSockets() throws {
            #expect(try TestEnvironment.probe("syscall", "socket-raw") == "errno=EPERM")
            #expect(try TestEnvironment.probe("syscall", "socket-packet") == "errno=EPERM")
            let open = try TestEnvironment.probe("syscall", "socket-raw") {
                $0.protections.seccomp = false
                $0.protections.dropCapabilities = false
                $0.protections.runAsNamespaceRoot = true
                $0.protections.hostOwnedNamespaces = false
            }
            #expect(open == "ok")
        }

        @Test("a spec's own profile adds restrictions on top of the default")
        func extraProfileRestricts() throws {
            let denyMkdir = SeccompProfile(defaultAction: .allow, syscalls: [
                .init(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: UInt32(EACCES)),
            ])
            let command = ["/bin/mkdir", "/tmp/made"]
            #expect(try TestEnvironment.run(TestEnvironment.spec(command)).exit.shellStatus == 0)
            let restricted = try TestEnvironment.run(TestEnvironment.spec(command) { $0.extraSeccompProfile = denyMkdir })
            #expect(restricted.exit.shellStatus != 0)
            #expect(restricted.stderr.contains("Permission denied"), "stderr: \(restricted.stderr)")
        }

        @Test("a spec's own profile cannot remove the default's restrictions")
        func extraProfileCannotLoosen() throws {
            let allowAll = SeccompProfile(defaultAction: .allow, syscalls: [
                .init(names: ["mount", "unshare", "ptrace"], action: .allow),
            ])
            for check in ["mount", "unshare", "ptrace"] {
                let line = try TestEnvironment.probe("syscall", check) {
                    $0.extraSeccompProfile = allowAll
                    $0.protections.dropCapabilities = false
                    $0.protections.runAsNamespaceRoot = true
                }
                #expect(line == "errno=EPERM", "\(check): \(line)")
            }
        }
    }
}
