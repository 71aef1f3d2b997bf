import CSandboxShim

/// Runs a seccomp classic-BPF program on one system call the way the kernel does (seccomp(2)'s
/// `struct seccomp_data`: number at offset 0, architecture at 4, instruction pointer at 8, the six
/// arguments from 16), for the instructions libseccomp emits. The compiler uses it to learn what a
/// program does with each syscall number and to check a re-laid-out program against libseccomp's.
enum SeccompEmulator {
    /// One system call. `arguments` nil: unknown, so a program that reads one has no fixed answer.
    struct Call {
        var number: UInt32
        var arch: UInt32
        var arguments: [UInt64]? = nil
        var instructionPointer: UInt64 = 0
    }

    enum Outcome: Equatable {
        /// The `SECCOMP_RET_*` value the program returns.
        case action(UInt32)
        /// The program read an argument (or the instruction pointer) the call does not give.
        case readsArguments
        /// An instruction this emulator does not model, or one it refuses to reason about (a bit
        /// test or arithmetic on the syscall number): no answer rather than a wrong one.
        case unsupported
    }

    // Classic BPF opcodes (linux/bpf_common.h, linux/filter.h) that libseccomp emits.
    static let loadWordAbsolute: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
    static let andConstant: UInt16 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    static let jumpAlways: UInt16 = 0x05  // BPF_JMP | BPF_JA
    static let jumpEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
    static let jumpGreater: UInt16 = 0x25  // BPF_JMP | BPF_JGT | BPF_K
    static let jumpGreaterOrEqual: UInt16 = 0x35  // BPF_JMP | BPF_JGE | BPF_K
    static let jumpBitsSet: UInt16 = 0x45  // BPF_JMP | BPF_JSET | BPF_K
    static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K

    static func run(_ program: [sock_filter], _ call: Call) -> Outcome {
        var accumulator: UInt32 = 0
        // Whether the accumulator holds the syscall number untouched: only plain comparisons of
        // it keep a program's answer constant between the numbers it compares against.
        var holdsNumber = false
        var pc = 0
        while pc < program.count {
            let instruction = program[pc]
            pc += 1
            switch instruction.code {
            case loadWordAbsolute:
                guard let word = load(instruction.k, call) else { return .readsArguments }
                accumulator = word
                holdsNumber = instruction.k == 0
            case andConstant:
                if holdsNumber { return .unsupported }
                accumulator &= instruction.k
            case jumpAlways:
                pc += Int(instruction.k)
            case jumpEqual, jumpGreater, jumpGreaterOrEqual, jumpBitsSet:
                let taken: Bool
                switch instruction.code {
                case jumpEqual: taken = accumulator == instruction.k
                case jumpGreater: taken = accumulator > instruction.k
                case jumpGreaterOrEqual: taken = accumulator >= instruction.k
                default:
                    if holdsNumber { return .unsupported }
                    taken = accumulator & instruction.k != 0
                }
                pc += Int(taken ? instruction.jt : instruction.jf)
            case returnConstant:
                return .action(instruction.k)
            default:
                return .unsupported
            }
        }
        // The kernel's checker refuses a program that can run off its end.
        return .unsupported
    }

    /// A 32-bit word of `seccomp_data`, or nil for one the call leaves unknown.
    private static func load(_ offset: UInt32, _ call: Call) -> UInt32? {
        switch offset {
        case 0: return call.number
        case 4: return call.arch
        case 8, 12:
            guard call.arguments != nil else { return nil }
            return half(call.instructionPointer, high: offset == 12)
        case 16..<64 where offset % 4 == 0:
            guard let arguments = call.arguments else { return nil }
            let index = Int(offset - 16) / 8
            return half(index < arguments.count ? arguments[index] : 0, high: (offset - 16) % 8 == 4)
        default:
            return nil
        }
    }

    /// seccomp_data's 64-bit fields are in the machine's byte order: on the little-endian machines
    /// Cella runs on, the low half comes first.
    private static func half(_ value: UInt64, high: Bool) -> UInt32 {
        #if _endian(little)
        return UInt32(truncatingIfNeeded: high ? value >> 32 : value)
        #else
        return UInt32(truncatingIfNeeded: high ? value : value >> 32)
        #endif
    }
}
