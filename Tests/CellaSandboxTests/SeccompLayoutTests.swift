import CSandboxShim
import CSeccomp
import Glibc
import Testing

@testable import CellaSandbox

/// The re-laid-out seccomp program gives libseccomp's answer for every call, and is the one used;
/// no privileges needed (the programs are emulated here and installed by the sandbox tests).
@Suite struct SeccompLayoutTests {
    static let native = seccomp_arch_native()
    static let i386: UInt32 = 0x4000_0003
    static let allow: UInt32 = 0x7fff_0000
    static func errno(_ value: Int32) -> UInt32 { 0x0005_0000 | UInt32(value) }

    /// Every number up to 1,023 and the edges of the x32 range, on the native and i386 arches.
    static let everyNumber = Array(0..<UInt32(1024)) + [0x3fff_ffff, 0x4000_0000, 0x4000_0001, 0x4000_0010, 0xffff_fffe, 0xffff_ffff]

    static func calls(_ numbers: [UInt32] = everyNumber, arguments: [UInt64]? = nil) -> [SeccompEmulator.Call] {
        numbers.flatMap { number in
            [native, i386].map { SeccompEmulator.Call(number: number, arch: $0, arguments: arguments) }
        }
    }

    /// Asserts the two programs answer alike for the numbers with each argument vector, and that
    /// the answers are actions (so the comparison compared something).
    static func expectSameAnswers(_ filter: SeccompFilter, _ reference: [sock_filter], arguments: [[UInt64]],
                                  numbers: [UInt32] = everyNumber) {
        let program = Array(filter.program)
        var compared = 0
        for vector in arguments {
            for call in calls(numbers, arguments: vector) {
                let expected = SeccompEmulator.run(reference, call)
                guard case .action = expected else {
                    Issue.record("libseccomp's program gave \(expected) for \(call)")
                    return
                }
                let got = SeccompEmulator.run(program, call)
                if got != expected {
                    Issue.record("syscall \(call.number) arch \(call.arch) args \(vector): \(got), libseccomp \(expected)")
                    return
                }
                compared += 1
            }
        }
        #expect(compared == arguments.count * numbers.count * 2)
    }

    static func number(_ name: String) -> UInt32 { UInt32(bitPattern: seccomp_syscall_resolve_name(name)) }

    static func answer(_ filter: SeccompFilter, _ name: String, _ arguments: [UInt64] = [0, 0, 0, 0, 0, 0]) -> SeccompEmulator.Outcome {
        SeccompEmulator.run(Array(filter.program), .init(number: number(name), arch: native, arguments: arguments))
    }

    @Test("the default profile is laid out in fewer instructions and answers every call as libseccomp's program does")
    func defaultProfile() throws {
        let filter = try SeccompCompiler().filter(for: .default)
        let reference = try SeccompCompiler.libseccompProgram(.default).program
        #expect(filter.relaid)
        #expect(filter.libseccompInstructionCount == reference.count)
        #expect(filter.instructionCount * 3 < reference.count * 2, "\(filter.instructionCount) vs libseccomp's \(reference.count)")
        // The values the default's argument rules are about: address families, socket types,
        // clone flags with and without CLONE_NEW*, personalities; then high halves set.
        var vectors: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
        for first: UInt64 in [1, 2, 10, 16, 17, 0x11, 0x0001_0011, 0x1000_0011, 0x7E02_0000, 8, 0x20000, 0x20008, 0xffff_ffff, 0xffff_ffff_ffff_ffff] {
            for third: UInt64 in [0, 9, 1 << 32] {
                vectors.append([first, 1, third, 0, 0, 0])
                vectors.append([first | 1 << 32, 3, third, 0, 0, 0])
            }
        }
        Self.expectSameAnswers(filter, reference, arguments: vectors)
        let checked = ["socket", "socketpair", "clone", "personality"].map(Self.number)
        Self.expectSameAnswers(filter, reference, arguments: SeccompLayout.argumentSamples(from: reference), numbers: checked)
    }

    @Test("the laid-out default allows, denies and checks arguments as the profile says")
    func defaultAnswers() throws {
        let filter = try SeccompCompiler().filter(for: .default)
        #expect(Self.answer(filter, "read") == .action(Self.allow))
        #expect(Self.answer(filter, "execve") == .action(Self.allow))
        #expect(Self.answer(filter, "mount") == .action(Self.errno(EPERM)))
        #expect(Self.answer(filter, "bpf") == .action(Self.errno(EPERM)))
        #expect(Self.answer(filter, "clone3") == .action(Self.errno(ENOSYS)))
        #expect(Self.answer(filter, "clone", [0x11, 0, 0, 0, 0, 0]) == .action(Self.allow))
        #expect(Self.answer(filter, "clone", [0x1000_0011, 0, 0, 0, 0, 0]) == .action(Self.errno(EPERM)))
        #expect(Self.answer(filter, "socket", [2, 1, 0, 0, 0, 0]) == .action(Self.allow))
        #expect(Self.answer(filter, "socket", [17, 3, 0, 0, 0, 0]) == .action(Self.errno(EPERM)))
        // A foreign architecture is killed; so is an x32 number.
        let program = Array(filter.program)
        #expect(SeccompEmulator.run(program, .init(number: 0, arch: Self.i386)) == .action(0))
        #expect(SeccompEmulator.run(program, .init(number: 0x4000_0000, arch: Self.native)) == .action(0))
        // With the arguments unknown, only the argument-checked calls lack an answer.
        let open = (0..<UInt32(1024)).filter { SeccompEmulator.run(program, .init(number: $0, arch: Self.native)) == .readsArguments }
        #expect(Set(open) == Set(["socket", "socketpair", "clone", "personality"].map(Self.number)))
    }

    static func name(_ number: UInt32) -> String? {
        guard let name = seccomp_syscall_resolve_num_arch(native, Int32(number)) else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    /// A profile whose rules overlap on the same syscalls, with every comparison operator on
    /// 64-bit values, actions of every kind, and a default that kills; and a run of plain allows
    /// long enough that the laid-out program is the shorter one (so it is used).
    static let special = ["socket", "personality", "dup", "dup2", "ioctl", "mount", "umount2", "getpid"]
    static let overlapping = SeccompProfile(defaultAction: .killProcess, syscalls: [
        .init(names: (0..<UInt32(300)).compactMap(name).filter { !special.contains($0) }, action: .allow),
        .init(names: ["read"], action: .killProcess, args: [.init(index: 0, value: 5, op: .equal)]),
        .init(names: ["write"], action: .errno, errnoRet: 7, args: [.init(index: 0, value: 5, op: .equal)]),
        .init(names: ["socket"], action: .allow, args: [.init(index: 0, value: 1, op: .equal)]),
        .init(names: ["socket"], action: .trap, args: [.init(index: 1, value: 2, op: .equal)]),
        .init(names: ["personality"], action: .allow, args: [.init(index: 0, value: 0x1_0000_0000, op: .lessThan)]),
        .init(names: ["personality"], action: .log, args: [.init(index: 1, value: 0x2_0000_0005, op: .greaterOrEqual)]),
        .init(names: ["dup"], action: .allow, args: [.init(index: 0, value: 0xffff_0000_ffff, op: .lessOrEqual)]),
        .init(names: ["dup2"], action: .allow, args: [.init(index: 1, value: 3, op: .greaterThan), .init(index: 0, value: 9, op: .notEqual)]),
        .init(names: ["ioctl"], action: .errno, errnoRet: 25, args: [.init(index: 1, value: 0xffff_0000_0000_ff00, valueTwo: 0x5400, op: .maskedEqual)]),
        .init(names: ["mount", "umount2"], action: .errno, errnoRet: 1),
        .init(names: ["getpid"], action: .killThread),
    ])

    @Test("overlapping rules, every operator and every action keep libseccomp's answers")
    func overlappingRules() throws {
        let filter = try SeccompCompiler().filter(for: Self.overlapping)
        let reference = try SeccompCompiler.libseccompProgram(Self.overlapping).program
        #expect(filter.relaid)
        Self.expectSameAnswers(filter, reference, arguments: [[0, 0, 0, 0, 0, 0], [5, 2, 0, 0, 0, 0], [1 << 32 | 5, 1, 0, 0, 0, 0]])
        let checked = ["read", "write", "socket", "personality", "dup", "dup2", "ioctl", "getpid"].map(Self.number)
        Self.expectSameAnswers(filter, reference, arguments: SeccompLayout.argumentSamples(from: reference), numbers: checked)
        // libseccomp lets a syscall's rule without conditions stand over its conditional ones.
        #expect(Self.answer(filter, "read", [5, 0, 0, 0, 0, 0]) == .action(Self.allow))
        #expect(Self.answer(filter, "dup2", [8, 4, 0, 0, 0, 0]) == .action(Self.allow))
        #expect(Self.answer(filter, "dup2", [9, 4, 0, 0, 0, 0]) == .action(0x8000_0000))
    }

    @Test("a profile with no rules keeps libseccomp's (shorter) program")
    func empty() throws {
        let empty = SeccompProfile(defaultAction: .allow, syscalls: [])
        let filter = try SeccompCompiler().filter(for: empty)
        let reference = try SeccompCompiler.libseccompProgram(empty).program
        #expect(!filter.relaid)
        #expect(filter.instructionCount == reference.count)
        Self.expectSameAnswers(filter, reference, arguments: [[0, 0, 0, 0, 0, 0]])
    }

    @Test("answers that alternate with every number lay out with far jumps and keep every answer")
    func farJumps() throws {
        // A chain with an answer per number, alternating between two actions, written long (the
        // number reloaded before each return) so that the search is the shorter program: its
        // lower halves hold several hundred instructions, reached through `ja`.
        var reference = [SeccompLayout.load(4), SeccompLayout.jump(SeccompEmulator.jumpEqual, Self.native, whenTrue: 1, whenFalse: 0),
                         SeccompLayout.ret(0), SeccompLayout.load(0)]
        for number in UInt32(0)..<600 {
            reference.append(SeccompLayout.jump(SeccompEmulator.jumpEqual, number, whenTrue: 0, whenFalse: 2))
            reference.append(SeccompLayout.load(0))
            reference.append(SeccompLayout.ret(number % 2 == 0 ? Self.allow : Self.errno(ENOSYS)))
        }
        reference.append(SeccompLayout.ret(Self.errno(EPERM)))
        let relaid = try SeccompLayout(nativeArch: Self.native).relayout(reference) { _ in
            Issue.record("no argument rules, so no tail")
            return []
        }
        let program = try #require(relaid)
        #expect(program.count > 2 * 256 && program.count < reference.count, "\(program.count) instructions")
        #expect(program.contains { $0.code == SeccompEmulator.jumpAlways }, "the far-jump path was not reached")
        for call in Self.calls() {
            #expect(SeccompEmulator.run(program, call) == SeccompEmulator.run(reference, call), "\(call)")
        }
        #expect(SeccompEmulator.run(program, .init(number: 599, arch: Self.native)) == .action(Self.errno(ENOSYS)))
        #expect(SeccompEmulator.run(program, .init(number: 600, arch: Self.native)) == .action(Self.errno(EPERM)))
    }

    @Test("a profile whose laid-out program would be longer than libseccomp's keeps libseccomp's")
    func longerKept() throws {
        // One argument rule on each of about 350 syscalls: the tail alone is libseccomp's whole
        // program again, and the search comes on top of it.
        let names = (0..<UInt32(400)).compactMap(Self.name)
        let profile = SeccompProfile(defaultAction: .errno, syscalls: [
            .init(names: names, action: .allow, args: [.init(index: 0, value: 1, op: .equal)]),
        ])
        let filter = try SeccompCompiler().filter(for: profile)
        let reference = try SeccompCompiler.libseccompProgram(profile).program
        #expect(!filter.relaid)
        #expect(filter.instructionCount == reference.count)
        #expect(Array(filter.program).elementsEqual(reference) { $0.code == $1.code && $0.jt == $1.jt && $0.jf == $1.jf && $0.k == $1.k })
    }

    @Test("the emulator reads seccomp_data as the kernel lays it out and refuses what it does not model")
    func emulator() throws {
        func run(_ program: [sock_filter], _ call: SeccompEmulator.Call) -> SeccompEmulator.Outcome {
            SeccompEmulator.run(program, call)
        }
        let returnFirstArgumentHigh = [SeccompLayout.load(20), sock_filter(code: 0x16, jt: 0, jf: 0, k: 0)]
        // BPF_RET | BPF_A is not among what libseccomp emits: no answer.
        #expect(run(returnFirstArgumentHigh, .init(number: 0, arch: Self.native, arguments: [1 << 32])) == .unsupported)
        let highIsOne = [
            SeccompLayout.load(20),
            SeccompLayout.jump(SeccompEmulator.jumpEqual, 1, whenTrue: 0, whenFalse: 1),
            SeccompLayout.ret(Self.allow),
            SeccompLayout.ret(0),
        ]
        #expect(run(highIsOne, .init(number: 0, arch: Self.native, arguments: [1 << 32])) == .action(Self.allow))
        #expect(run(highIsOne, .init(number: 0, arch: Self.native, arguments: [1])) == .action(0))
        #expect(run(highIsOne, .init(number: 0, arch: Self.native)) == .readsArguments)
        let bitTestOnNumber = [
            SeccompLayout.load(0),
            SeccompLayout.jump(SeccompEmulator.jumpBitsSet, 1, whenTrue: 0, whenFalse: 1),
            SeccompLayout.ret(Self.allow),
            SeccompLayout.ret(0),
        ]
        #expect(run(bitTestOnNumber, .init(number: 3, arch: Self.native)) == .unsupported)
        #expect(run([SeccompLayout.load(0)], .init(number: 3, arch: Self.native)) == .unsupported)
        // A program libseccomp would never emit is kept as it is, not re-laid out.
        let relaid = try SeccompLayout(nativeArch: Self.native).relayout(bitTestOnNumber) { _ in [] }
        #expect(relaid == nil)
    }
}
