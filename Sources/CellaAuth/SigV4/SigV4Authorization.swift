/// A parsed `Authorization` header:
/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=<64 hex>`.
///
/// The three parts may come in any order, each once, separated by commas and optional spaces.
/// Signed header names must be lowercase, as every SDK sends them; they are kept sorted and
/// unique, which is what the canonical request lists.
package struct SigV4Authorization: Sendable, Hashable {
    package static let algorithm = "AWS4-HMAC-SHA256"

    package let accessKeyId: String
    /// `YYYYMMDD`.
    package let scopeDate: String
    package let region: String
    package let service: String
    package let signedHeaders: [String]
    /// The signature's 64 lowercase hex digits, as sent.
    package let signature: [UInt8]

    /// `date/region/service/aws4_request`.
    package var credentialScope: String { "\(scopeDate)/\(region)/\(service)/aws4_request" }

    /// Parses the header value. Works on UTF-8 bytes: splitting `String`s by `Character` made
    /// this the costliest step of verification.
    /// - Throws: `AuthError` `.malformedAuthorization` saying what is wrong.
    package init(parsing header: String) throws(AuthError) {
        let bytes = Array(header.utf8)
        let prefix = Array((Self.algorithm + " ").utf8)
        guard bytes.starts(with: prefix) else {
            throw AuthError(.malformedAuthorization, "Authorization must start with \(Self.algorithm)")
        }
        var credential: ArraySlice<UInt8>?
        var signedHeaders: ArraySlice<UInt8>?
        var signature: ArraySlice<UInt8>?
        for rawPart in bytes[prefix.count...].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let part = Self.trimmingSpaces(rawPart)
            guard let equals = part.firstIndex(of: UInt8(ascii: "=")) else {
                throw AuthError(.malformedAuthorization, "an Authorization part is not name=value")
            }
            let value = part[(equals + 1)...]
            switch String(decoding: part[..<equals], as: UTF8.self) {
            case "Credential" where credential == nil: credential = value
            case "SignedHeaders" where signedHeaders == nil: signedHeaders = value
            case "Signature" where signature == nil: signature = value
            default:
                throw AuthError(.malformedAuthorization, "unexpected or repeated Authorization part '\(String(decoding: part[..<equals].prefix(40), as: UTF8.self))'")
            }
        }
        guard let credential, let signedHeaders, let signature else {
            throw AuthError(.malformedAuthorization, "Authorization needs Credential, SignedHeaders and Signature")
        }
        let scope = credential.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard scope.count == 5, !scope[0].isEmpty, scope[1].count == 8, scope[1].allSatisfy(Self.isDigit),
              !scope[2].isEmpty, !scope[3].isEmpty, scope[4].elementsEqual("aws4_request".utf8)
        else {
            throw AuthError(.malformedAuthorization, "Credential must be AKID/YYYYMMDD/region/service/aws4_request")
        }
        let names = signedHeaders.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.contains { $0 >= 0x41 && $0 <= 0x5A } }) else {
            throw AuthError(.malformedAuthorization, "SignedHeaders must be lowercase names separated by ';'")
        }
        guard signature.count == 64, signature.allSatisfy(Self.isLowerHex) else {
            throw AuthError(.malformedAuthorization, "Signature must be 64 lowercase hex digits")
        }
        accessKeyId = String(decoding: scope[0], as: UTF8.self)
        scopeDate = String(decoding: scope[1], as: UTF8.self)
        region = String(decoding: scope[2], as: UTF8.self)
        service = String(decoding: scope[3], as: UTF8.self)
        let sortedNames = names.map { String(decoding: $0, as: UTF8.self) }.sorted()
        var unique: [String] = []
        for name in sortedNames where unique.last != name { unique.append(name) }
        self.signedHeaders = unique
        self.signature = Array(signature)
    }

    private static func trimmingSpaces(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var result = bytes
        while result.first == UInt8(ascii: " ") { result = result.dropFirst() }
        while result.last == UInt8(ascii: " ") { result = result.dropLast() }
        return result
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isLowerHex(_ byte: UInt8) -> Bool { isDigit(byte) || (byte >= 0x61 && byte <= 0x66) }
}
