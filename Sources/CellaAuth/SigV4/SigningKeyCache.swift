import Crypto
import Synchronization

/// SigV4 signing keys by (secret, date, region, service).
///
/// A signing key is four chained HMACs — `"AWS4"+secret` → date → region → service →
/// `aws4_request` — and is the same for every request a client signs in one day, so deriving it
/// once saves four HMACs per request. The secret is part of the key so that a rotated secret gets
/// a new entry. At most ``capacity`` keys are kept; when full, an arbitrary one is dropped.
package final class SigningKeyCache: Sendable {
    private struct Key: Hashable {
        let secret: String
        let date: String
        let region: String
        let service: String
    }

    package let capacity: Int
    private let keys = Mutex<[Key: [UInt8]]>([:])

    package init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The signing key for the scope, derived on a miss.
    package func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        let key = Key(secret: secret, date: date, region: region, service: service)
        if let cached = keys.withLock({ $0[key] }) {
            return SymmetricKey(data: cached)
        }
        let derived = Self.derive(secret: secret, date: date, region: region, service: service)
        keys.withLock { table in
            if table.count >= capacity, table[key] == nil {
                table.remove(at: table.startIndex)
            }
            table[key] = derived
        }
        return SymmetricKey(data: derived)
    }

    /// The HMAC chain of SigV4.
    package static func derive(secret: String, date: String, region: String, service: String) -> [UInt8] {
        var key = Array("AWS4\(secret)".utf8)
        for step in [date, region, service, "aws4_request"] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(step.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }
}
