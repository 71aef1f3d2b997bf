import Foundation
import Testing

@testable import CellaBundles

@Suite("BundleDigest")
struct BundleDigestTests {
    static let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    @Test("sha256 of known inputs (FIPS 180-2 vectors)", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", abc),
    ])
    func knownVectors(input: String, hex: String) {
        #expect(BundleDigest(of: Array(input.utf8)).hex == hex)
    }

    @Test("parses with or without the sha256: prefix, in either case, keeping lowercase", arguments: [
        "sha256:" + abc, abc, abc.uppercased(), "sha256:" + abc.uppercased(),
    ])
    func parses(text: String) throws {
        let digest = try BundleDigest(parsing: text)
        #expect(digest.hex == Self.abc)
        #expect(digest.description == "sha256:" + Self.abc)
    }

    @Test("rejects anything but 64 hex digits", arguments: [
        "", "sha256:", "sha512:" + abc, String(abc.dropLast()), abc + "0", "g" + abc.dropFirst(),
        " " + abc, "sha256: " + abc, "SHA256:" + abc,
    ])
    func rejects(text: String) {
        #expect {
            _ = try BundleDigest(parsing: text)
        } throws: { error in
            (error as? BundleError)?.code == .invalidDigest
        }
    }

    @Test("Codable as the sha256: string")
    func codable() throws {
        let digest = try BundleDigest(parsing: Self.abc)
        let data = try JSONEncoder().encode([digest])
        #expect(String(decoding: data, as: UTF8.self) == "[\"sha256:\(Self.abc)\"]")
        #expect(try JSONDecoder().decode([BundleDigest].self, from: data) == [digest])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([BundleDigest].self, from: Data("[\"sha256:00\"]".utf8)) }
    }
}
