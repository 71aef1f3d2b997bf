import Foundation
import Testing

@testable import CellaSandbox

/// The default profile's content and the OCI parser; no privileges needed.
@Suite struct SeccompProfileTests {
    /// Syscalls the issue requires the default to deny (they must not be allowed by any rule).
    static let mustDeny = [
        "mount", "umount2", "pivot_root", "unshare", "setns", "open_tree", "move_mount", "fsopen",
        "fsconfig", "fsmount", "fspick", "mount_setattr", "ptrace", "process_vm_readv",
        "process_vm_writev", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
        "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
        "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "chroot",
    ]

    @Test("the default profile denies by default with EPERM and allows none of the dangerous calls", arguments: mustDeny)
    func defaultDenies(_ name: String) {
        let profile = SeccompProfile.default
        #expect(profile.defaultAction == .errno && (profile.defaultErrnoRet ?? 1) == 1)
        let allowing = profile.syscalls.filter { $0.names.contains(name) && $0.action == .allow }
        #expect(allowing.isEmpty, "\(name) is allowed by a rule")
    }

    @Test("clone3 answers ENOSYS; clone is allowed only without namespace flags")
    func cloneRules() {
        let profile = SeccompProfile.default
        let clone3 = profile.syscalls.filter { $0.names.contains("clone3") }
        #expect(clone3.count == 1 && clone3[0].action == .errno && clone3[0].errnoRet == UInt32(ENOSYS))
        let clone = profile.syscalls.filter { $0.names.contains("clone") }
        #expect(!clone.isEmpty)
        for rule in clone where rule.action == .allow {
            let args = rule.args ?? []
            #expect(args.contains { $0.op == .maskedEqual && $0.value & 0x7E02_0000 == 0x7E02_0000 && $0.valueTwo == 0 },
                    "every allowing clone rule must require all CLONE_NEW* bits clear")
        }
    }

    @Test("the default profile compiles, and every name in it is known to libseccomp")
    func compiles() throws {
        let filter = try SeccompCompiler().filter(for: .default)
        #expect(filter.instructionCount > 50)
        #if arch(x86_64)
        // The file uses x86_64's names; other architectures lack a few legacy ones (open, fork).
        #expect(filter.unknownNames.isEmpty, "unknown: \(filter.unknownNames)")
        #endif
    }

    @Test("malformed or unsupported profiles are rejected with the offending key", arguments: [
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [], "flags": []}"#, "flags"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}"#, "includes"),
        (#"{"defaultAction": "SCMP_ACT_NOPE", "syscalls": []}"#, "defaultAction"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}"#, "names"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}"#, "op"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "syscalls": []}"#, "architectures"),
        (#"[1, 2]"#, "JSON object"),
        (#"{"defaultAction": "#, "JSON"),
    ])
    func rejects(_ json: String, _ mentions: String) {
        do {
            _ = try SeccompProfile(json: Data(json.utf8))
            Issue.record("accepted: \(json)")
        } catch {
            #expect(error.code == .seccomp)
            #expect(error.message.contains(mentions), "\(error.message)")
        }
    }

    @Test("an argument index past the sixth is rejected at compile time")
    func badArgumentIndex() {
        let profile = SeccompProfile(defaultAction: .allow, syscalls: [
            .init(names: ["read"], action: .errno, args: [.init(index: 6, value: 0, op: .equal)]),
        ])
        #expect(throws: SandboxError.self) { _ = try SeccompCompiler().filter(for: profile) }
    }
}
