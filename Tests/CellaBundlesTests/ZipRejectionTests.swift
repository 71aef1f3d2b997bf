import Glibc
import Testing

@testable import CellaBundles

/// One archive Cella must refuse: the entries, the code, and the entry the message must name.
struct ZipCase: CustomTestStringConvertible, Sendable {
    var label: String
    var entries: [ZipBuilder.Entry]
    var code: BundleError.Code
    var entry: String?
    var testDescription: String { label }
}

extension ZipBuilder.Entry: @unchecked Sendable {}

@Suite("Zip bundles: rejections")
struct ZipRejectionTests {
    static let cases: [ZipCase] = [
        ZipCase(label: "../ traversal", entries: [ZipBuilder.file("ok.py", "ok"), ZipBuilder.file("../evil.py", "x")],
                code: .pathTraversal, entry: "../evil.py"),
        ZipCase(label: "traversal in the middle", entries: [ZipBuilder.file("a/../../evil.py", "x")],
                code: .pathTraversal, entry: "a/../../evil.py"),
        ZipCase(label: "absolute path", entries: [ZipBuilder.file("/tmp/evil.py", "x")],
                code: .absolutePath, entry: "/tmp/evil.py"),
        ZipCase(label: "backslashes", entries: [ZipBuilder.file("..\\evil.py", "x")],
                code: .invalidPath, entry: "..\\evil.py"),
        ZipCase(label: "NUL in a name", entries: [ZipBuilder.file("ok.py\u{0}../../evil", "x")],
                code: .invalidPath, entry: "ok.py\u{0}../../evil"),
        ZipCase(label: "empty name", entries: [ZipBuilder.file("", "x")], code: .invalidPath, entry: ""),
        ZipCase(label: "file named like a directory", entries: [ZipBuilder.file("dir/", "x")],
                code: .invalidPath, entry: "dir/"),
        ZipCase(label: "symlink to /etc", entries: [ZipBuilder.symlink("etc", "/etc")],
                code: .linkEscape, entry: "etc"),
        ZipCase(label: "symlink to ../../x", entries: [ZipBuilder.symlink("a/link", "../../x")],
                code: .linkEscape, entry: "a/link"),
        ZipCase(label: "symlink out through another symlink",
                entries: [ZipBuilder.symlink("here", "."), ZipBuilder.symlink("up", "here/..")],
                code: .linkEscape, entry: "up"),
        ZipCase(label: "symlink loop", entries: [ZipBuilder.symlink("a", "b"), ZipBuilder.symlink("b", "a")],
                code: .linkEscape, entry: "a"),
        ZipCase(label: "character device", entries: [ZipBuilder.special("tty", type: 0o020000)],
                code: .specialFile, entry: "tty"),
        ZipCase(label: "block device", entries: [ZipBuilder.special("sda", type: 0o060000)],
                code: .specialFile, entry: "sda"),
        ZipCase(label: "fifo", entries: [ZipBuilder.special("pipe", type: 0o010000)], code: .specialFile, entry: "pipe"),
        ZipCase(label: "socket", entries: [ZipBuilder.special("sock", type: 0o140000)], code: .specialFile, entry: "sock"),
        ZipCase(label: "duplicate file", entries: [ZipBuilder.file("a.py", "1"), ZipBuilder.file("a.py", "2")],
                code: .duplicateEntry, entry: "a.py"),
        ZipCase(label: "duplicate after normalization", entries: [ZipBuilder.file("a.py", "1"), ZipBuilder.file("./a.py", "2")],
                code: .duplicateEntry, entry: "./a.py"),
        ZipCase(label: "file where a directory is", entries: [ZipBuilder.file("d/x", "1"), ZipBuilder.file("d", "2")],
                code: .duplicateEntry, entry: "d"),
        ZipCase(label: "directory under a file", entries: [ZipBuilder.file("f", "1"), ZipBuilder.file("f/x", "2")],
                code: .duplicateEntry, entry: "f/x"),
        ZipCase(label: "component over 255 bytes", entries: [ZipBuilder.file(String(repeating: "n", count: 256), "x")],
                code: .pathTooLong, entry: String(repeating: "n", count: 256)),
        ZipCase(label: "encrypted entry", entries: [{ var e = ZipBuilder.file("enc.py", "x"); e.flags = 1; return e }()],
                code: .unsupportedFeature, entry: "enc.py"),
        ZipCase(label: "LZMA method", entries: [{ var e = ZipBuilder.file("l.py", "x", method: 0); e.method = 14; return e }()],
                code: .unsupportedFeature, entry: "l.py"),
        ZipCase(label: "local header names another file",
                entries: [{ var e = ZipBuilder.file("safe.py", "x"); e.localName = Array("../evil".utf8); return e }()],
                code: .corrupt, entry: "safe.py"),
        ZipCase(label: "CRC-32 mismatch", entries: [{ var e = ZipBuilder.file("c.py", "data"); e.crc = 1; return e }()],
                code: .corrupt, entry: "c.py"),
        ZipCase(label: "size smaller than the data", entries: [{ var e = ZipBuilder.file("s.py", "data"); e.declaredSize = 2; return e }()],
                code: .corrupt, entry: "s.py"),
        ZipCase(label: "overlapping entries (the overlap zip bomb)",
                entries: [ZipBuilder.file("a.txt", "payload"), { var e = ZipBuilder.file("b.txt", "payload"); e.sharesDataWith = 0; return e }()],
                code: .corrupt, entry: "b.txt"),
    ]

    @Test("refused, named, nothing left behind", arguments: cases)
    func rejected(_ test: ZipCase) {
        let scratch = Scratch()
        expectRejected(ZipBuilder(test.entries).build(), test.code, entry: test.entry, in: scratch)
        #expect(!Scratch.exists(scratch.file("evil.py")))
        #expect(!Scratch.exists("/tmp/evil.py"))
    }

    @Test("deep paths over the depth cap")
    func depth() {
        let name = Array(repeating: "d", count: 9).joined(separator: "/") + "/f"
        expectRejected(ZipBuilder([ZipBuilder.file(name, "x")]).build(), .pathTooLong, entry: name,
                       limits: BundleLimits(maxPathDepth: 8))
    }

    @Test("corrupt deflate data names the entry")
    func corruptData() {
        var archive = ZipBuilder([ZipBuilder.file("a.py", String(repeating: "compressible ", count: 200))]).build()
        // The deflate data starts after the 30-byte local header and the 4-byte name.
        for index in 34..<44 { archive[index] ^= 0xA5 }
        expectRejected(archive, .corrupt, entry: "a.py")
    }

    @Test("truncated archives", arguments: [0.25, 0.5, 0.9])
    func truncated(fraction: Double) {
        let archive = ZipBuilder([ZipBuilder.file("a.py", String(repeating: "abc", count: 500))]).build()
        let error = expectRejected(Array(archive.prefix(Int(Double(archive.count) * fraction))), .corrupt, entry: nil)
        #expect(error?.message.contains("end of central directory") == true)
    }

    @Test("data in front of the zip (self-extracting archives) is another format")
    func prefixed() {
        let error = expectRejected(Array("#!/bin/sh\n".utf8) + ZipBuilder([ZipBuilder.file("a", "b")]).build(), .unsupportedFormat, entry: nil)
        #expect(error?.message.contains("23 21 2f 62") == true)
    }

    @Test("unknown formats", arguments: [Array("hello, world".utf8), [], [0x42, 0x5A, 0x68, 0x39], TarBuilder().tar])
    func unknown(bytes: [UInt8]) {
        expectRejected(bytes, .unsupportedFormat, entry: nil)
    }
}
