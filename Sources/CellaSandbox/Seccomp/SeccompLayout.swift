import CSandboxShim

/// libseccomp's program for a profile, laid out again so that the kernel installs it faster, with
/// libseccomp's answers unchanged.
///
/// When a filter is installed the kernel runs it once for every syscall number of the native and
/// compat architectures, to cache the numbers it always allows (seccomp_cache_prepare, Linux 5.11),
/// and compiles it: both cost time in proportion to the instructions run and held. libseccomp's
/// binary tree spends about 16 comparisons and 400 instructions on the default profile's 288
/// rules. Most of them allow or deny whole runs of consecutive numbers alike, so here:
///
/// 1. libseccomp's program is emulated over every interval of syscall numbers it tells apart
///    (bounded by the constants it compares against, so one number stands for its interval);
/// 2. numbers whose answer is fixed go into a binary search over ranges of equal answers, each
///    leaf a return;
/// 3. numbers whose answer depends on the arguments jump to a second libseccomp program compiled
///    from just those syscalls' rules (libseccomp filters each syscall by its own rules alone);
/// 4. the result is emulated against the original over every interval and, for those syscalls,
///    over argument values built from the constants they are compared with. Anything this cannot
///    account for keeps libseccomp's own program.
struct SeccompLayout {
    /// The program's first instructions check the architecture; others get `badArchAction`.
    let nativeArch: UInt32
    /// Architectures the check is tried with (i386, x86_64, aarch64, arm, riscv64; the native
    /// one is skipped): libseccomp's answer for each must be the one the new program gives.
    static let foreignArches: [UInt32] = [0x4000_0003, 0xC000_003E, 0xC000_00B7, 0x4000_0028, 0xC000_00F3]

    /// BPF_MAXINSNS: the kernel refuses a longer classic BPF program.
    static let kernelLimit = 4096
    /// Samples times argument-checked syscalls the equivalence check may try (each one runs
    /// both programs): a fraction of a second in a debug build. The default profile needs about
    /// 57,000 (four syscalls).
    static let checkBudget = 400_000

    enum Leaf: Equatable {
        case action(UInt32)
        case arguments
    }

    /// - Parameters:
    ///   - reference: libseccomp's program for the whole profile.
    ///   - tail: libseccomp's program for the rules of just the given syscall numbers.
    /// - Returns: the new program, or nil when the reference does something this does not model.
    func relayout(_ reference: [sock_filter], tail: ([UInt32]) throws(SandboxError) -> [sock_filter]) throws(SandboxError) -> [sock_filter]? {
        guard let badArch = Self.badArchAction(reference, native: nativeArch) else { return nil }
        // The answer is constant between the constants compared against; each boundary starts an
        // interval.
        var boundaries: Set<UInt32> = [0]
        for instruction in reference {
            switch instruction.code {
            case SeccompEmulator.jumpEqual:
                boundaries.insert(instruction.k)
                if instruction.k < .max { boundaries.insert(instruction.k + 1) }
            case SeccompEmulator.jumpGreater:
                if instruction.k < .max { boundaries.insert(instruction.k + 1) }
            case SeccompEmulator.jumpGreaterOrEqual:
                boundaries.insert(instruction.k)
            default:
                break
            }
        }
        let starts = boundaries.sorted()
        var ranges: [(start: UInt32, leaf: Leaf)] = []
        var argumentNumbers: [UInt32] = []
        for (index, start) in starts.enumerated() {
            let leaf: Leaf
            switch SeccompEmulator.run(reference, .init(number: start, arch: nativeArch)) {
            case .action(let action): leaf = .action(action)
            case .readsArguments:
                // Argument checks belong to one syscall; an interval wider than one number would
                // be something libseccomp does not emit.
                guard index + 1 < starts.count, starts[index + 1] == start + 1 else { return nil }
                argumentNumbers.append(start)
                leaf = .arguments
            case .unsupported: return nil
            }
            if ranges.last?.leaf != leaf { ranges.append((start, leaf)) }
        }

        var program: [sock_filter] = [
            Self.load(4),
            Self.jump(SeccompEmulator.jumpEqual, nativeArch, whenTrue: 1, whenFalse: 0),
            Self.ret(badArch),
            Self.load(0),
        ]
        var tailJumps: [Int] = []
        emitSearch(ranges[...], into: &program, tailJumps: &tailJumps)
        // Every argument-checked number jumps to the start of their own program, appended last.
        for at in tailJumps { program[at].k = UInt32(program.count - at - 1) }
        // A tail libseccomp cannot make leaves its whole program in place, as any doubt does.
        guard let tailProgram = argumentNumbers.isEmpty ? [] : try? tail(argumentNumbers) else { return nil }
        program += tailProgram
        // Never longer than libseccomp's (profiles of many argument rules can come out longer),
        // and never past the kernel's limit on a classic BPF program (BPF_MAXINSNS).
        guard program.count < reference.count, program.count <= Self.kernelLimit else { return nil }
        let samples = argumentNumbers.isEmpty ? [] : Self.argumentSamples(from: tailProgram)
        // The check runs both programs per sample and argument-checked number: past a budget
        // (profiles with hundreds of argument rules), libseccomp's program is kept instead.
        guard samples.count * argumentNumbers.count <= Self.checkBudget,
              Self.agrees(program, with: reference, starts: starts, argumentNumbers: argumentNumbers,
                          samples: samples, native: nativeArch)
        else { return nil }
        return program
    }

    /// A binary search over ranges sorted by start: `jge` on the middle range's start, the lower
    /// half next, the upper half after it.
    private func emitSearch(_ ranges: ArraySlice<(start: UInt32, leaf: Leaf)>, into program: inout [sock_filter], tailJumps: inout [Int]) {
        if ranges.count == 1 {
            switch ranges.first!.leaf {
            case .action(let action): program.append(Self.ret(action))
            case .arguments:
                tailJumps.append(program.count)
                program.append(sock_filter(code: SeccompEmulator.jumpAlways, jt: 0, jf: 0, k: 0))
            }
            return
        }
        let middle = ranges.startIndex + ranges.count / 2
        let node = program.count
        program.append(Self.jump(SeccompEmulator.jumpGreaterOrEqual, ranges[middle].start, whenTrue: 0, whenFalse: 0))
        // A conditional jump reaches 255 instructions on; past that, it falls onto a `ja`.
        let lowerStart = program.count
        emitSearch(ranges[..<middle], into: &program, tailJumps: &tailJumps)
        let lowerSize = program.count - lowerStart
        if lowerSize <= Int(UInt8.max) {
            program[node].jt = UInt8(lowerSize)
        } else {
            program.insert(sock_filter(code: SeccompEmulator.jumpAlways, jt: 0, jf: 0, k: UInt32(lowerSize)), at: lowerStart)
            for index in tailJumps.indices where tailJumps[index] >= lowerStart {
                tailJumps[index] += 1
            }
            program[node].jf = 1
        }
        emitSearch(ranges[middle...], into: &program, tailJumps: &tailJumps)
    }

    /// libseccomp's answer for a foreign architecture, if it is one answer for every such
    /// architecture and syscall number tried.
    static func badArchAction(_ reference: [sock_filter], native: UInt32) -> UInt32? {
        var found: UInt32?
        for arch in foreignArches where arch != native {
            for number: UInt32 in [0, 1, 59, 0x4000_0000, .max] {
                guard case .action(let action) = SeccompEmulator.run(reference, .init(number: number, arch: arch)),
                      found == nil || found == action
                else { return nil }
                found = action
            }
        }
        return found
    }

    /// Whether the two programs give the same answer for every interval's first number on the
    /// native architecture, for foreign ones, and for the argument-checked syscalls over argument
    /// values made from the constants the programs compare with.
    static func agrees(_ program: [sock_filter], with reference: [sock_filter], starts: [UInt32],
                       argumentNumbers: [UInt32], samples: [[UInt64]], native: UInt32) -> Bool {
        for start in starts {
            let call = SeccompEmulator.Call(number: start, arch: native)
            if SeccompEmulator.run(program, call) != SeccompEmulator.run(reference, call) { return false }
            for arch in foreignArches where arch != native {
                let foreign = SeccompEmulator.Call(number: start, arch: arch)
                if SeccompEmulator.run(program, foreign) != SeccompEmulator.run(reference, foreign) { return false }
            }
        }
        for arguments in samples {
            for number in argumentNumbers {
                let call = SeccompEmulator.Call(number: number, arch: native, arguments: arguments)
                let expected = SeccompEmulator.run(reference, call)
                guard case .action = expected, SeccompEmulator.run(program, call) == expected else { return false }
            }
        }
        return true
    }

    /// Argument vectors to tell a program's argument checks apart: every 64-bit value whose halves
    /// are among its constants (each one, one more and one less, 0 and all ones), one argument at
    /// a time, then a fixed pseudo-random sample of vectors drawing each argument from them.
    static func argumentSamples(from program: [sock_filter]) -> [[UInt64]] {
        var words: Set<UInt32> = [0, 1, .max]
        for instruction in program where instruction.code != SeccompEmulator.returnConstant && instruction.code != SeccompEmulator.loadWordAbsolute {
            words.insert(instruction.k)
            words.insert(instruction.k &+ 1)
            words.insert(instruction.k &- 1)
        }
        let halves = words.sorted()
        var values: [UInt64] = []
        for high in halves where high <= 1 || high == .max || words.count <= 64 {
            for low in halves { values.append(UInt64(high) << 32 | UInt64(low)) }
        }
        var samples: [[UInt64]] = []
        for index in 0..<6 {
            for value in values {
                var arguments = [UInt64](repeating: 0, count: 6)
                arguments[index] = value
                samples.append(arguments)
            }
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<4096 {
            var arguments: [UInt64] = []
            for _ in 0..<6 {
                // splitmix64: a fixed sequence, so a failure is reproducible.
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                arguments.append(values[Int(z % UInt64(values.count))])
            }
            samples.append(arguments)
        }
        return samples
    }

    static func load(_ offset: UInt32) -> sock_filter {
        sock_filter(code: SeccompEmulator.loadWordAbsolute, jt: 0, jf: 0, k: offset)
    }

    static func jump(_ code: UInt16, _ value: UInt32, whenTrue: UInt8, whenFalse: UInt8) -> sock_filter {
        sock_filter(code: code, jt: whenTrue, jf: whenFalse, k: value)
    }

    static func ret(_ action: UInt32) -> sock_filter {
        sock_filter(code: SeccompEmulator.returnConstant, jt: 0, jf: 0, k: action)
    }
}
