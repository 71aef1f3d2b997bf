import CellaAuth
import Foundation

/// One entry of `../shared/vectors/sigv4.json`, produced by botocore's own signer.
struct SigV4Vector: Decodable, Sendable, CustomStringConvertible {
    let name: String
    let method: String
    let url: String
    let body: String
    let region: String
    let service: String
    let accessKey: String
    let secretKey: String
    let sessionToken: String?
    let headersAfterSigning: [String: String]
    let canonicalRequest: String
    let stringToSign: String
    let signingKeyHex: String
    let signature: String
    let authorization: String
    let amzDate: String

    enum CodingKeys: String, CodingKey {
        case name, method, url, body, region, service, signature, authorization
        case accessKey = "access_key"
        case secretKey = "secret_key"
        case sessionToken = "session_token"
        case headersAfterSigning = "headers_after_signing(botocore)"
        case canonicalRequest = "canonical_request"
        case stringToSign = "string_to_sign"
        case signingKeyHex = "signing_key_hex"
        case amzDate = "x-amz-date"
    }

    var description: String { name }

    /// Every vector, from `Tests/Fixtures/sigv4.json` (a copy of the project's shared vectors, kept
    /// in the repository so the tests run from any clone).
    static let all: [SigV4Vector] = {
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/sigv4.json")
        do {
            return try JSONDecoder().decode([SigV4Vector].self, from: Data(contentsOf: file))
        } catch {
            fatalError("cannot read the SigV4 vectors at \(file.path): \(error)")
        }
    }()

    /// `scheme://netloc/target`: botocore's Host header is the netloc (port included).
    var netloc: String {
        let afterScheme = url.components(separatedBy: "://")[1]
        return String(afterScheme.prefix { $0 != "/" })
    }

    /// The request-target as sent: the URL's path and query, untouched.
    var target: String {
        let afterScheme = url.components(separatedBy: "://")[1]
        return String(afterScheme.drop { $0 != "/" })
    }

    /// The request as a server receives it: botocore's headers plus Host.
    var request: SigV4Request {
        var headers = [(name: "Host", value: netloc)]
        headers += headersAfterSigning.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        return SigV4Request(method: method, target: target, headers: headers)
    }

    var bodyBytes: [UInt8] { Array(body.utf8) }

    /// The moment the vector was signed.
    var signedAt: Date {
        var components = DateComponents()
        let digits = Array(amzDate)
        func number(_ range: Range<Int>) -> Int { Int(String(digits[range])) ?? -1 }
        components.year = number(0..<4)
        components.month = number(4..<6)
        components.day = number(6..<8)
        components.hour = number(9..<11)
        components.minute = number(11..<13)
        components.second = number(13..<15)
        components.timeZone = TimeZone(identifier: "UTC")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar.date(from: components) ?? .distantPast
    }

    var credential: SigV4Credential {
        SigV4Credential(accessKeyId: accessKey, secretAccessKey: secretKey, principalId: "principal-\(accessKey)",
                        sessionToken: sessionToken)
    }
}
