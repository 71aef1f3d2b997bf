/// Caps that keep one hostile or careless bundle from filling a node's disk, inodes or memory.
///
/// Sizes are counted on the bytes actually read and decompressed, as they stream; sizes an
/// archive declares are only ever used to reject early, never to allow.
public struct BundleLimits: Sendable, Equatable {
    /// The archive itself, as uploaded. Default 50 MiB (AWS Lambda's direct-upload limit).
    public var maxArchiveBytes: Int64
    /// Every byte the decompressor produces: the sum of all zip entries' inflated data, or the
    /// whole gunzipped tar stream (headers included). Default 250 MiB (Lambda's unzipped limit).
    public var maxUnpackedBytes: Int64
    /// Archive members of every kind: files, directories, symbolic and hard links, and tar's
    /// global headers. Default 50,000, enough for a large `node_modules` while bounding inodes.
    public var maxEntries: Int
    /// The length in bytes of a path or a symbolic link's target. Default 1,024; a single
    /// component is always held to 255 (Linux's NAME_MAX).
    public var maxPathBytes: Int
    /// Components in a path. Default 64.
    public var maxPathDepth: Int

    /// The defaults above.
    public static let `default` = BundleLimits()

    public init(
        maxArchiveBytes: Int64 = 50 << 20, maxUnpackedBytes: Int64 = 250 << 20,
        maxEntries: Int = 50_000, maxPathBytes: Int = 1024, maxPathDepth: Int = 64
    ) {
        self.maxArchiveBytes = maxArchiveBytes
        self.maxUnpackedBytes = maxUnpackedBytes
        self.maxEntries = maxEntries
        self.maxPathBytes = maxPathBytes
        self.maxPathDepth = maxPathDepth
    }

    /// Linux's NAME_MAX: no file system Cella runs on takes a longer component.
    static let maxComponentBytes = 255
    /// Tar metadata (pax extended headers, GNU long names) held in memory for one entry.
    static let maxTarMetadataBytes = 1 << 20
}
