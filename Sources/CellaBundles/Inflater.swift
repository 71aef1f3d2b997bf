import CZlib

/// A zlib inflate stream: raw deflate for zip entries, gzip (members one after another, as
/// gzip(1) reads them) for tar.gz. Feeds input and fills output a buffer at a time, so nothing
/// ever decompresses more than the caller asked for.
final class Inflater {
    enum Format {
        /// Headerless deflate, as zip stores it (window bits -15).
        case raw
        /// gzip framing with its CRC-32 and length check (window bits 15 + 16).
        case gzip
    }

    struct Step {
        /// Input bytes used.
        var consumed: Int
        /// Output bytes made.
        var produced: Int
        /// The deflate stream (or gzip member) ended.
        var finished: Bool
    }

    private let stream: UnsafeMutablePointer<z_stream>

    /// - Throws: `BundleError` with code `io` when zlib cannot allocate its state.
    init(_ format: Format) throws(BundleError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = cella_inflate_init(stream, format == .raw ? -15 : 15 + 16)
        guard status == Z_OK else {
            stream.deallocate()
            throw BundleError(.io, "zlib inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Starts a new stream (the next gzip member) with the same settings.
    func reset() { inflateReset(stream) }

    /// Inflates from `input` into `output` until one of them runs out or the stream ends.
    /// - Parameter entry: the entry being read, for the error message.
    /// - Throws: `BundleError` with code `corrupt` when the data is not valid deflate or gzip, or
    ///   fails its check value.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                 entry: String?) throws(BundleError) -> Step {
        let inBase = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.next_in = inBase
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(output.count)
        let status = CZlib.inflate(stream, Z_NO_FLUSH)
        let step = Step(consumed: input.count - Int(stream.pointee.avail_in),
                        produced: output.count - Int(stream.pointee.avail_out),
                        finished: status == Z_STREAM_END)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        switch status {
        case Z_OK, Z_STREAM_END: return step
        // No progress possible: the caller gives more input or more room, or finds truncation.
        case Z_BUF_ERROR: return step
        case Z_MEM_ERROR: throw BundleError(.io, "zlib ran out of memory", entry: entry)
        default:
            let reason = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
            let what = entry == nil ? "gzip stream" : "compressed data"
            throw BundleError(.corrupt, "\(what) is corrupt (zlib: \(reason))", entry: entry)
        }
    }
}

/// zlib's CRC-32, as zip records it per entry.
struct CRC32 {
    private(set) var value: UInt32 = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        value = UInt32(crc32(uLong(value), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}
