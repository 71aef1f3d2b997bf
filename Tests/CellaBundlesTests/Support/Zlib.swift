import CZlib

/// zlib's deflate and CRC-32, for building archives in tests.
enum Zlib {
    /// Compresses `data` as raw deflate (zip) or gzip (tar.gz).
    static func deflate(_ data: [UInt8], gzip: Bool, level: Int32 = 6) -> [UInt8] {
        // zlib keeps a pointer back to the stream, so it must not move: heap, not a local.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { deflateEnd(stream); stream.deallocate() }
        precondition(cella_deflate_init(stream, level, gzip ? 15 + 16 : -15) == Z_OK)
        var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, uLong(data.count))) + 64)
        var input = data
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.pointee.next_in = inBuffer.baseAddress
                stream.pointee.avail_in = uInt(inBuffer.count)
                stream.pointee.next_out = outBuffer.baseAddress
                stream.pointee.avail_out = uInt(outBuffer.count)
                return CZlib.deflate(stream, Z_FINISH)
            }
        }
        precondition(status == Z_STREAM_END, "deflate: \(status)")
        return Array(output.prefix(Int(stream.pointee.total_out)))
    }

    static func crc(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    }
}

extension Array where Element == UInt8 {
    mutating func put16(_ value: Int) { append(UInt8(value & 0xFF)); append(UInt8(value >> 8 & 0xFF)) }
    mutating func put32(_ value: UInt32) { put16(Int(value & 0xFFFF)); put16(Int(value >> 16)) }
    mutating func put64(_ value: UInt64) { put32(UInt32(value & 0xFFFF_FFFF)); put32(UInt32(value >> 32)) }
}
