@testable import CellaAuth
import CellaModel
import Crypto
import Foundation

/// Builds requests signed with the package's signer (whose canonical forms the botocore vectors
/// pin), so negative tests can start from a validly signed request and break one thing.
enum TestSigner {
    static let accessKey = "AKIDEXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let amzDate = "20150830T123600Z"
    static let signedAt = Date(timeIntervalSince1970: 1_440_938_160)

    /// Adds `Authorization` (and `X-Amz-Date` unless present) to `headers`, signing `signedHeaders`.
    static func sign(
        method: String = "POST",
        target: String = "/2015-03-31/functions/f/invocations",
        headers: [(name: String, value: String)] = [(name: "Host", value: "127.0.0.1:9001")],
        body: [UInt8] = Array(#"{"k":1}"#.utf8),
        signedHeaders: [String]? = nil,
        payloadHash: String? = nil,
        secret: String = secret,
        scopeDate: String = "20150830",
        region: String = "us-east-1",
        service: String = "lambda"
    ) throws -> SigV4Request {
        var headers = headers
        if !headers.contains(where: { $0.name.lowercased() == "x-amz-date" }) {
            headers.append((name: "X-Amz-Date", value: amzDate))
        }
        let unsigned = SigV4Request(method: method, target: target, headers: headers)
        let authorization = try SigV4Signer.authorization(
            for: unsigned,
            payloadHash: payloadHash ?? Bytes.hexString(SHA256.hash(data: body)),
            signedHeaders: signedHeaders ?? headers.map { $0.name.lowercased() },
            accessKeyId: accessKey, secret: secret, scopeDate: scopeDate, region: region, service: service)
        return SigV4Request(method: method, target: target, headers: headers + [(name: "Authorization", value: authorization)])
    }
}

extension SigV4Request {
    /// A copy with every header named `name` (any case) replaced by `value`, or removed when nil.
    func replacingHeader(_ name: String, with value: String?) -> SigV4Request {
        var copy = self
        copy.headers.removeAll { $0.name.lowercased() == name.lowercased() }
        if let value { copy.headers.append((name: name, value: value)) }
        return copy
    }
}

/// A provider whose store is down.
struct FailingCredentialProvider: SigV4CredentialProvider {
    struct StoreDown: Error {}

    func credential(forAccessKeyId accessKeyId: String) async throws -> SigV4Credential? {
        throw StoreDown()
    }
}
