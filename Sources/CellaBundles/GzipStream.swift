/// The decompressed bytes of a gzip file, read a buffer at a time, with every byte the
/// decompressor produces counted against a cap as it is produced.
final class GzipStream {
    private let file: ArchiveFile
    private let inflater: Inflater
    private let limit: Int64
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var inputRange = 0..<0
    private var outputRange = 0..<0
    private var memberEnded = false
    private var fileEnded = false
    /// Bytes produced so far.
    private(set) var produced: Int64 = 0
    /// The entry being read, for messages.
    var entry: String?

    /// - Parameters:
    ///   - file: the gzip file, read from its start.
    ///   - limit: the most decompressed bytes allowed (`BundleLimits.maxUnpackedBytes`).
    init(file: ArchiveFile, limit: Int64) throws(BundleError) {
        self.file = file
        self.limit = limit
        inflater = try Inflater(.gzip)
        input = .allocate(byteCount: 64 << 10, alignment: 16)
        output = .allocate(byteCount: 256 << 10, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// The next decompressed bytes, at most `max`; valid until the next call; empty at the end.
    /// - Throws: `BundleError`: `tooLarge` past the limit, `corrupt` for bad or truncated data.
    func next(max: Int) throws(BundleError) -> UnsafeRawBufferPointer {
        while outputRange.isEmpty {
            if inputRange.isEmpty && !fileEnded {
                let n = try file.readNext(into: input)
                inputRange = 0..<n
                fileEnded = n == 0
            }
            if inputRange.isEmpty {
                if memberEnded { return UnsafeRawBufferPointer(start: nil, count: 0) }
                throw BundleError(.corrupt, "gzip stream is truncated", entry: entry)
            }
            if memberEnded {
                // More bytes after a member: another member, as gzip(1) concatenates them.
                inflater.reset()
                memberEnded = false
            }
            let step = try inflater.inflate(UnsafeRawBufferPointer(rebasing: input[inputRange]), into: output, entry: entry)
            inputRange = inputRange.lowerBound + step.consumed..<inputRange.upperBound
            outputRange = 0..<step.produced
            memberEnded = step.finished
            produced += Int64(step.produced)
            if produced > limit {
                throw BundleError(.tooLarge, "unpacks to more than \(limit) bytes (the unpacked-size limit)", entry: entry)
            }
        }
        let count = min(max, outputRange.count)
        let chunk = UnsafeRawBufferPointer(rebasing: output[outputRange.lowerBound..<outputRange.lowerBound + count])
        outputRange = outputRange.lowerBound + count..<outputRange.upperBound
        return chunk
    }

    /// Exactly `count` bytes, or nil at a clean end of stream before the first byte.
    /// - Throws: `BundleError` with `corrupt` when the stream ends part way.
    func read(_ count: Int) throws(BundleError) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let chunk = try next(max: count - bytes.count)
            if chunk.isEmpty {
                if bytes.isEmpty { return nil }
                throw BundleError(.corrupt, "archive ends in the middle of a tar block", entry: entry)
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// Reads and drops `count` bytes (padding, skipped data).
    func skip(_ count: Int64) throws(BundleError) {
        var left = count
        while left > 0 {
            let chunk = try next(max: Int(min(left, 1 << 20)))
            if chunk.isEmpty { throw BundleError(.corrupt, "archive ends in the middle of an entry", entry: entry) }
            left -= Int64(chunk.count)
        }
    }

    /// Reads to the end, so the gzip trailer's CRC and length are checked, and stops at the cap.
    func drain() throws(BundleError) {
        while try !next(max: 1 << 20).isEmpty {}
    }
}
