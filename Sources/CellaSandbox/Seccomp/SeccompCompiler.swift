import CSeccomp
import CSandboxShim
import Glibc
import Synchronization

/// A compiled classic-BPF seccomp program, immutable and kept for the life of the process so the
/// child of a launch can read it through shared memory.
public final class SeccompFilter: @unchecked Sendable {
    let program: UnsafeMutableBufferPointer<sock_filter>
    /// Syscall names in the profile that this kernel's libseccomp does not know (skipped).
    public let unknownNames: [String]
    /// Instructions in libseccomp's own program for the profile.
    public let libseccompInstructionCount: Int
    /// Whether the program is libseccomp's laid out again (SeccompLayout), or libseccomp's as is.
    public let relaid: Bool

    init(program: [sock_filter], libseccompInstructionCount: Int, relaid: Bool, unknownNames: [String]) {
        self.program = .allocate(capacity: program.count)
        _ = self.program.initialize(from: program)
        self.libseccompInstructionCount = libseccompInstructionCount
        self.relaid = relaid
        self.unknownNames = unknownNames
    }

    /// Number of BPF instructions.
    public var instructionCount: Int { program.count }

    var fprog: sock_fprog {
        sock_fprog(len: UInt16(program.count), filter: program.baseAddress)
    }

    deinit { program.deallocate() }
}

/// Compiles profiles with libseccomp in the parent (never in the child, which may not allocate),
/// lays the program out again for a faster install (SeccompLayout: libseccomp's answers, fewer
/// instructions), and caches them by content.
public final class SeccompCompiler: Sendable {
    public static let shared = SeccompCompiler()
    private let cache = Mutex<[SeccompProfile: SeccompFilter]>([:])

    public init() {}

    /// The filter for a profile, compiled on first use.
    /// - Throws: `SandboxError.seccomp` when libseccomp rejects a rule.
    public func filter(for profile: SeccompProfile) throws(SandboxError) -> SeccompFilter {
        if let hit = cache.withLock({ $0[profile] }) { return hit }
        let compiled = try Self.compile(profile)
        return cache.withLock { cache in
            if let raced = cache[profile] { return raced }
            cache[profile] = compiled
            return compiled
        }
    }

    /// Rules from which a profile is compiled as a binary tree (runc's threshold).
    static let treeThreshold = 8

    static func action(_ action: SeccompProfile.Action, errno: UInt32?) -> UInt32 {
        switch action {
        case .allow: return 0x7fff_0000  // SCMP_ACT_ALLOW
        case .errno: return 0x0005_0000 | (errno ?? UInt32(EPERM)) & 0xffff  // SCMP_ACT_ERRNO(x)
        case .kill, .killThread: return 0x0000_0000  // SCMP_ACT_KILL_THREAD
        case .killProcess: return 0x8000_0000  // SCMP_ACT_KILL_PROCESS
        case .trap: return 0x0003_0000  // SCMP_ACT_TRAP
        case .log: return 0x7ffc_0000  // SCMP_ACT_LOG
        }
    }

    static func compile(_ profile: SeccompProfile) throws(SandboxError) -> SeccompFilter {
        // libseccomp's program defines what the profile means; the layout keeps its answers, and
        // when it cannot prove that, libseccomp's program is used as it is.
        let (reference, unknown) = try libseccompProgram(profile)
        let layout = SeccompLayout(nativeArch: seccomp_arch_native())
        let relaid = try layout.relayout(reference) { numbers throws(SandboxError) in
            try libseccompProgram(profile, only: Set(numbers.map { Int32(bitPattern: $0) })).program
        }
        return SeccompFilter(program: relaid ?? reference, libseccompInstructionCount: reference.count,
                             relaid: relaid != nil, unknownNames: unknown)
    }

    /// libseccomp's program for the profile, or for the rules of just the syscall numbers `only`.
    static func libseccompProgram(_ profile: SeccompProfile, only: Set<Int32>? = nil) throws(SandboxError) -> (program: [sock_filter], unknownNames: [String]) {
        let defaultAction = action(profile.defaultAction, errno: profile.defaultErrnoRet)
        guard let ctx = seccomp_init(defaultAction) else {
            throw SandboxError(.seccomp, "seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        // Cella sets no_new_privs itself, in the child; libseccomp only exports here.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        var rules = 0
        var unknown: [String] = []
        for (index, rule) in profile.syscalls.enumerated() {
            let ruleAction = action(rule.action, errno: rule.errnoRet ?? profile.defaultErrnoRet)
            // libseccomp refuses rules whose action equals the default; they would change nothing.
            if ruleAction == defaultAction { continue }
            var conditions: [scmp_arg_cmp] = []
            for arg in rule.args ?? [] {
                guard arg.index < 6 else {
                    throw SandboxError(.seccomp, "seccomp profile: syscalls[\(index)]: argument index \(arg.index) out of range")
                }
                conditions.append(scmp_arg_cmp(
                    arg: arg.index, op: operatorCode(arg.op), datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            for name in rule.names {
                // -1 is an unknown name; other negative numbers are names libseccomp knows for
                // another architecture (open, fork, ... on aarch64), which rules cannot use here.
                let number = seccomp_syscall_resolve_name(name)
                if number < 0 {
                    unknown.append(name)
                    continue
                }
                if let only, !only.contains(number) { continue }
                let rc = conditions.withUnsafeBufferPointer { buf in
                    seccomp_rule_add_array(ctx, ruleAction, number, UInt32(buf.count), buf.baseAddress)
                }
                if rc < 0 {
                    throw SandboxError(
                        .seccomp, "seccomp profile: syscalls[\(index)] \(name): libseccomp says \(Errno.describe(-rc))", errno: -rc)
                }
                rules += 1
            }
        }
        // Syscall numbers in a binary tree instead of one long chain of comparisons. The kernel
        // runs the program once per syscall number when it installs it (to cache the numbers
        // always allowed), and then on every syscall not in that cache: a few comparisons per
        // number instead of up to one per rule. (The layout usually replaces this program, but
        // keeps it when it cannot account for it.) Only for a profile with rules to sort: libseccomp
        // before 2.5.4 built a filter that killed every call from a tree with no rules in it (its
        // issue 370); a short chain costs nothing anyway. Before 2.5.0 the level is refused, and
        // the chain stays.
        if rules >= Self.treeThreshold { _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) }
        return (try export(ctx), unknown)
    }

    static func operatorCode(_ op: SeccompProfile.Argument.Operator) -> scmp_compare {
        switch op {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }

    /// libseccomp 2.5.4 has no in-memory export: write the BPF to a memfd and read it back.
    private static func export(_ ctx: scmp_filter_ctx) throws(SandboxError) -> [sock_filter] {
        let fd = cella_memfd("cella-seccomp")
        guard fd >= 0 else { throw SandboxError(.seccomp, "memfd_create: \(Errno.describe(-fd))") }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        guard rc == 0 else { throw SandboxError(.seccomp, "seccomp_export_bpf: \(Errno.describe(-rc))") }
        let size = Int(lseek(fd, 0, SEEK_END))
        let count = size / MemoryLayout<sock_filter>.stride
        guard size > 0, size % MemoryLayout<sock_filter>.stride == 0, count <= Int(UInt16.max) else {
            throw SandboxError(.seccomp, "seccomp_export_bpf produced \(size) bytes")
        }
        var program = [sock_filter](repeating: sock_filter(), count: count)
        let read = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, 0) }
        guard read == size else { throw SandboxError(.seccomp, "reading the exported seccomp program failed") }
        return program
    }
}
