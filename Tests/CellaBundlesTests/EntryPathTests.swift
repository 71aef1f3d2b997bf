import Testing

@testable import CellaBundles

@Suite("Entry paths")
struct EntryPathTests {
    @Test("normalizes what is safe", arguments: [
        ("a.py", ["a.py"], false),
        ("./a.py", ["a.py"], false),
        ("a//b/./c", ["a", "b", "c"], false),
        ("dir/", ["dir"], true),
        ("./", [], true),
        ("..foo/bar..", ["..foo", "bar.."], false),
        ("ünïcode/名前.txt", ["ünïcode", "名前.txt"], false),
    ])
    func accepts(raw: String, components: [String], isDirectory: Bool) throws {
        let (path, slash) = try EntryPath.parse(Array(raw.utf8), limits: .default)
        #expect(path.components == components)
        #expect(slash == isDirectory)
    }

    static let rejections: [([UInt8], BundleError.Code)] = [
        (Array("../evil.py".utf8), .pathTraversal),
        (Array("a/../../evil.py".utf8), .pathTraversal),
        (Array("a/..".utf8), .pathTraversal),
        (Array("/etc/passwd".utf8), .absolutePath),
        (Array("//etc/passwd".utf8), .absolutePath),
        (Array("".utf8), .invalidPath),
        (Array("a\u{0}b".utf8), .invalidPath),
        (Array("a\\..\\evil".utf8), .invalidPath),
        (Array("line\nbreak".utf8), .invalidPath),
        ([0x66, 0xFF, 0x6F], .invalidPath),
        (Array(String(repeating: "a", count: 256).utf8), .pathTooLong),
        (Array(String(repeating: "a/", count: 65).utf8), .pathTooLong),
        (Array(String(repeating: "abcdefghi/", count: 103).utf8), .pathTooLong),
    ]

    @Test("rejects what is not", arguments: rejections)
    func rejects(raw: [UInt8], code: BundleError.Code) {
        #expect {
            _ = try EntryPath.parse(raw, limits: .default)
        } throws: { error in
            let error = error as! BundleError
            return error.code == code && error.entry == String(decoding: raw, as: UTF8.self)
        }
    }

    @Test("link targets resolve lexically from the link's directory", arguments: [
        ("lib/current", "v1", ["lib", "v1"] as [String]?),
        ("lib/current", "../lib/v1", ["lib", "v1"]),
        ("a/b/link", "../../x", ["x"]),
        ("a/b/link", "../../../x", nil),
        ("link", "..", nil),
        ("link", ".", []),
    ])
    func linkResolution(link: String, target: String, landing: [String]?) {
        let path = try! EntryPath.parse(Array(link.utf8), limits: .default).path
        let resolved = try? path.resolveLink(target: Array(target.utf8), entry: link, limits: .default)
        #expect(resolved == landing)
    }

    @Test("message quotes hostile names so they cannot forge log lines")
    func quoting() {
        #expect(BundleError.quoted("a\"b\\c\nd\u{1}\u{7f}") == "\"a\\\"b\\\\c\\nd\\u0001\\u007f\"")
        let error = BundleError.entry(.pathTraversal, "../evil.py", "path escapes the bundle root")
        #expect(error.message == "entry \"../evil.py\": path escapes the bundle root")
    }
}
