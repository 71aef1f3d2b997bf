/// How a sandbox's user namespace maps its ids onto the host: inside ids `0..<count` become host
/// ids `hostBase..<hostBase + count`. Host root (0) is never in range, so even the namespace's
/// root is an unprivileged host user.
public struct IDMapping: Sendable, Equatable {
    public static let rangeSize: UInt32 = 65_536
    /// The first host uid Cella hands out; below it are the host's own users and the usual
    /// `/etc/subuid` ranges starting at 100000.
    public static let firstHostID: UInt32 = 1_000_000
    /// Owners beyond this index would overflow 32-bit ids.
    public static let maxOwnerIndex: UInt32 = (UInt32.max - firstHostID) / rangeSize - 1

    public let hostBase: UInt32
    public let count: UInt32

    /// The range of the owner with the given index (e.g. a tenant's number): each owner gets its
    /// own 65,536 host ids, so processes of different owners never share a host uid.
    public init(ownerIndex: UInt32 = 0) {
        precondition(ownerIndex <= Self.maxOwnerIndex, "owner index out of range")
        self.hostBase = Self.firstHostID + ownerIndex * Self.rangeSize
        self.count = Self.rangeSize
    }

    /// A host uid for an inside uid.
    public func hostID(for insideID: UInt32) -> UInt32 { hostBase + insideID }

    /// The `uid_map` / `gid_map` line.
    var mapLine: String { "0 \(hostBase) \(count)\n" }
}
