/// An HTTP request exactly as it arrived, which is all SigV4 verification may look at.
///
/// Nothing here is decoded or normalized by the transport: the path keeps its percent-encoding
/// (`/functions/arn%3Aaws%3Alambda...`), the query its own encoding and order, and headers their
/// received order, repetitions and spacing. Verification rebuilds the client's canonical request
/// from these bytes; a decode-and-re-encode round trip would change them. With HTTP/2, pass
/// `:authority` as a `host` header.
public struct SigV4Request: Sendable {
    public var method: String
    /// The path as received on the wire, still percent-encoded.
    public var rawPath: String
    /// The query string as received, without the `?`; empty when there is none.
    public var rawQuery: String
    /// Header fields in the order received; names in any case, values untrimmed.
    public var headers: [(name: String, value: String)]

    /// Creates a request from its parts.
    public init(method: String, rawPath: String, rawQuery: String = "", headers: [(name: String, value: String)]) {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
    }

    /// Creates a request from the request-target (`/path?query`) as received.
    public init(method: String, target: String, headers: [(name: String, value: String)]) {
        if let question = target.firstIndex(of: "?") {
            self.init(method: method, rawPath: String(target[..<question]),
                      rawQuery: String(target[target.index(after: question)...]), headers: headers)
        } else {
            self.init(method: method, rawPath: target, headers: headers)
        }
    }

    /// The values of every header named `lowercasedName` (compared ignoring ASCII case), in order.
    package func values(ofHeader lowercasedName: String) -> [String] {
        var found: [String] = []
        for header in headers where Self.asciiCaseInsensitiveEquals(header.name, lowercasedName) {
            found.append(header.value)
        }
        return found
    }

    private static func asciiCaseInsensitiveEquals(_ name: String, _ lowercased: String) -> Bool {
        guard name.utf8.count == lowercased.utf8.count else { return false }
        for (byte, expected) in zip(name.utf8, lowercased.utf8) {
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }
}
