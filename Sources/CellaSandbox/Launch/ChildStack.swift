import Glibc
import Synchronization

/// Stacks for CLONE_VM children. A stack is in use from clone until the child has exec'd or
/// died (the error pipe says which); then it goes back to the pool for the next launch.
final class ChildStack: Sendable {
    struct Stack: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let size: Int
    }

    static let shared = ChildStack()
    static let size = 256 * 1024
    private let free = Mutex<[Stack]>([])

    func take() -> Stack {
        if let stack = free.withLock({ $0.popLast() }) { return stack }
        let guardSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let total = Self.size + guardSize
        guard let mem = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0),
              mem != MAP_FAILED
        else { fatalError("mmap of a child stack failed: \(Errno.describe(errno))") }
        // A guard page below the stack turns an overflow into a crash of the child, not corruption.
        mprotect(mem, guardSize, PROT_NONE)
        return Stack(base: mem + guardSize, size: Self.size)
    }

    func give(_ stack: Stack) {
        free.withLock { $0.append(stack) }
    }
}
