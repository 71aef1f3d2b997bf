@testable import CellaAuth
import Foundation
import Testing

@Suite struct APIKeyTests {
    @Test func generatedKeysHaveTheDocumentedShape() throws {
        let key = APIKey.generate()
        let token = key.revealedToken
        #expect(token.hasPrefix("cella_"))
        #expect(token.utf8.count == 6 + 16 + 1 + 52)
        #expect(key.keyId.utf8.count == 16)
        let parsed = try APIKey(parsing: token)
        #expect(parsed.keyId == key.keyId)
        #expect(parsed.revealedToken == token)
    }

    @Test func generatedKeysDiffer() {
        let tokens = (0..<200).map { _ in APIKey.generate().revealedToken }
        #expect(Set(tokens).count == tokens.count)
        #expect(Set(tokens.map { $0.prefix(22) }).count == tokens.count)
    }

    @Test func storedFormVerifiesThePresentedKey() throws {
        let key = APIKey.generate()
        let stored = key.stored
        try stored.verify(try APIKey(parsing: key.revealedToken))
        #expect(stored.digest.count == 32)
        let encoded = String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
        #expect(!encoded.contains(String(key.revealedToken.suffix(52))))
    }

    @Test func wrongSecretIsRejected() throws {
        let key = APIKey.generate()
        var token = Array(key.revealedToken)
        token[token.count - 1] = token[token.count - 1] == "a" ? "b" : "a"
        let tampered = try APIKey(parsing: String(token))
        let error = #expect(throws: AuthError.self) { try key.stored.verify(tampered) }
        #expect(error?.code == .invalidAPIKey)
    }

    @Test func anotherKeysStoredFormIsRejected() throws {
        let key = APIKey.generate()
        let other = APIKey.generate()
        let error = #expect(throws: AuthError.self) { try other.stored.verify(key) }
        #expect(error?.code == .invalidAPIKey)
    }

    @Test(arguments: [
        "", "cella_", "cella_abcdefghijklmnop_", "cella-abcdefghijklmnop_" + String(repeating: "a", count: 52),
        "cella_abcdefghijklmnop_" + String(repeating: "a", count: 51),
        "cella_abcdefghijklmnop_" + String(repeating: "a", count: 53),
        "cella_abcdefghijklmnoP_" + String(repeating: "a", count: 52),
        "cella_abcdefghijklmno1_" + String(repeating: "a", count: 52),
        "cella_abcdefghijklmnop-" + String(repeating: "a", count: 52),
        "Bearer cella_abcdefghijklmnop_" + String(repeating: "a", count: 52),
    ])
    func malformedTokens(token: String) {
        let error = #expect(throws: AuthError.self) { try APIKey(parsing: token) }
        #expect(error?.code == .malformedAPIKey)
    }

    @Test func keysDoNotPrintTheirSecret() throws {
        let key = APIKey.generate()
        let secret = String(key.revealedToken.suffix(52))
        var dumped = ""
        dump(key, to: &dumped)
        for text in [key.description, key.debugDescription, "\(key)", String(reflecting: key), dumped] {
            #expect(!text.contains(secret), "\(text)")
            #expect(text.contains(key.keyId))
        }
    }

    @Test(arguments: [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")])
    func base32MatchesRFC4648(input: String, output: String) {
        #expect(Base32.encode(Array(input.utf8)) == output)
    }
}
