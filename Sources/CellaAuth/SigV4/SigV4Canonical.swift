import CellaModel
import Crypto

/// The canonical request and string to sign of SigV4, rebuilt from a request as received
/// (PROTOCOLS.md §3), byte for byte as botocore builds them when signing:
///
/// - URI: the path as sent, with empty and `.` segments dropped and `..` applied (botocore's
///   `remove_dot_segments`, which also collapses `//`), then percent-encoded once more with RFC
///   3986 unreserved characters and `/` kept: `%3A` becomes `%253A`. Never decoded.
/// - Query: split on `&`, each part at its first `=` (`a` alone is `a=`), sorted by key then
///   value as bytes, re-joined; the client's encoding is kept.
/// - Headers: only the signed ones, `name:value` with the value trimmed and inner whitespace runs
///   collapsed to one space; repeated fields joined with `,` in received order.
package enum SigV4Canonical {
    /// `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED;HEADERS\nPAYLOAD-HASH`.
    /// - Throws: `AuthError` `.signedHeaderMissing` when a signed header is not in the request.
    package static func canonicalRequest(
        _ request: SigV4Request, signedHeaders: [String], payloadHash: String
    ) throws(AuthError) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(512)
        output.append(contentsOf: request.method.utf8)
        output.append(0x0A)
        appendURI(request.rawPath, to: &output)
        output.append(0x0A)
        appendQuery(request.rawQuery, to: &output)
        output.append(0x0A)
        for name in signedHeaders {
            let values = request.values(ofHeader: name)
            guard !values.isEmpty else {
                throw AuthError(.signedHeaderMissing, "the signed header '\(name)' is not in the request")
            }
            output.append(contentsOf: name.utf8)
            output.append(UInt8(ascii: ":"))
            for (index, value) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                appendHeaderValue(value, to: &output)
            }
            output.append(0x0A)
        }
        output.append(0x0A)
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ";")) }
            output.append(contentsOf: name.utf8)
        }
        output.append(0x0A)
        output.append(contentsOf: payloadHash.utf8)
        return output
    }

    /// `AWS4-HMAC-SHA256\n<X-Amz-Date>\n<scope>\n<hex sha256(canonical request)>`.
    package static func stringToSign(amzDate: String, credentialScope: String, canonicalRequest: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(160)
        output.append(contentsOf: SigV4Authorization.algorithm.utf8)
        output.append(0x0A)
        output.append(contentsOf: amzDate.utf8)
        output.append(0x0A)
        output.append(contentsOf: credentialScope.utf8)
        output.append(0x0A)
        output.append(contentsOf: Bytes.hex(SHA256.hash(data: canonicalRequest)))
        return output
    }

    package static func appendURI(_ rawPath: String, to output: inout [UInt8]) {
        let segments = rawPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        var kept: [Substring.UTF8View.SubSequence] = []
        kept.reserveCapacity(segments.count)
        for segment in segments {
            if segment.elementsEqual(".".utf8) { continue }
            if segment.elementsEqual("..".utf8) {
                _ = kept.popLast()
                continue
            }
            kept.append(segment)
        }
        if rawPath.utf8.first == UInt8(ascii: "/") || rawPath.isEmpty { output.append(UInt8(ascii: "/")) }
        for (index, segment) in kept.enumerated() {
            if index > 0 { output.append(UInt8(ascii: "/")) }
            for byte in segment { appendEncoded(byte, to: &output) }
        }
        if rawPath.utf8.last == UInt8(ascii: "/"), !kept.isEmpty { output.append(UInt8(ascii: "/")) }
    }

    package static func appendQuery(_ rawQuery: String, to output: inout [UInt8]) {
        guard !rawQuery.isEmpty else { return }
        var pairs: [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []
        let bytes = Array(rawQuery.utf8)
        for part in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false) {
            if let equals = part.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((part[part.startIndex..<equals], part[(equals + 1)...]))
            } else {
                pairs.append((part, []))
            }
        }
        pairs.sort { left, right in
            left.key == right.key ? left.value.lexicographicallyPrecedes(right.value) : left.key.lexicographicallyPrecedes(right.key)
        }
        for (index, pair) in pairs.enumerated() {
            if index > 0 { output.append(UInt8(ascii: "&")) }
            output.append(contentsOf: pair.key)
            output.append(UInt8(ascii: "="))
            output.append(contentsOf: pair.value)
        }
    }

    /// Trims and collapses runs of whitespace (botocore: `' '.join(value.split())`).
    package static func appendHeaderValue(_ value: String, to output: inout [UInt8]) {
        var pendingSpace = false
        var wroteAny = false
        for byte in value.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D:
                pendingSpace = wroteAny
            default:
                if pendingSpace { output.append(0x20) }
                pendingSpace = false
                wroteAny = true
                output.append(byte)
            }
        }
    }

    private static let upperHex = Array("0123456789ABCDEF".utf8)

    @inline(__always)
    private static func appendEncoded(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
             UInt8(ascii: "."), UInt8(ascii: "~"):
            output.append(byte)
        default:
            output.append(UInt8(ascii: "%"))
            output.append(upperHex[Int(byte >> 4)])
            output.append(upperHex[Int(byte & 0x0F)])
        }
    }
}
