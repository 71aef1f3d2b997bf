import Glibc

/// C memory for one launch: strings, arrays and structs the child reads through shared memory.
/// Everything is freed together when the launch is over (the child has exec'd or failed).
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Objects whose memory the child reads too (a shared plan), kept as long as the arena.
    private var kept: [AnyObject] = []

    deinit { for block in blocks { free(block) } }

    func string(_ s: String) -> UnsafePointer<CChar> {
        let copy = strdup(s)!
        blocks.append(copy)
        return UnsafePointer(copy)
    }

    func keep(_ object: AnyObject) { kept.append(object) }

    func optionalString(_ s: String?) -> UnsafePointer<CChar>? { s.map(string) }

    func array<T>(_ values: [T]) -> UnsafePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    /// One value in C memory, which the parent may still change before it releases a held child.
    func value<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        p.initialize(to: value)
        blocks.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// A NULL-terminated `char *const *`, as execve wants.
    func stringVector(_ strings: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?> {
        let vector: [UnsafeMutablePointer<CChar>?] = strings.map { UnsafeMutablePointer(mutating: string($0)) } + [nil]
        return array(vector)
    }
}
