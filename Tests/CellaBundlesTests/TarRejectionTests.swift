import Foundation
import Testing

@testable import CellaBundles

struct TarCase: CustomTestStringConvertible, Sendable {
    var label: String
    var build: @Sendable (inout TarBuilder) -> Void
    var code: BundleError.Code
    var entry: String?
    var testDescription: String { label }
}

@Suite("tar.gz bundles: rejections")
struct TarRejectionTests {
    static let cases: [TarCase] = [
        TarCase(label: "../ traversal", build: { $0.file("ok.py", "ok"); $0.file("../evil.py", "x") },
                code: .pathTraversal, entry: "../evil.py"),
        TarCase(label: "absolute path", build: { $0.file("/tmp/evil.py", "x") }, code: .absolutePath, entry: "/tmp/evil.py"),
        TarCase(label: "traversal through a GNU long name",
                build: { $0.longName("a/" + String(repeating: "b", count: 100) + "/../../../evil.py"); $0.file("short", "x") },
                code: .pathTraversal, entry: "a/" + String(repeating: "b", count: 100) + "/../../../evil.py"),
        TarCase(label: "traversal through a pax path", build: { $0.pax([("path", "../evil.py")]); $0.file("innocent.py", "x") },
                code: .pathTraversal, entry: "../evil.py"),
        TarCase(label: "symlink to /etc", build: { $0.symlink("etc", "/etc") }, code: .linkEscape, entry: "etc"),
        TarCase(label: "symlink to ../../x", build: { $0.symlink("a/link", "../../x") }, code: .linkEscape, entry: "a/link"),
        TarCase(label: "symlink, then a file through it",
                build: { $0.directory("real/"); $0.symlink("link", "real"); $0.file("link/evil.py", "x") },
                code: .linkTraversal, entry: "link/evil.py"),
        TarCase(label: "hard link to ../../etc/passwd", build: { $0.hardLink("passwd", "../../etc/passwd") },
                code: .hardLinkEscape, entry: "passwd"),
        TarCase(label: "hard link to an absolute path", build: { $0.hardLink("passwd", "/etc/passwd") },
                code: .hardLinkEscape, entry: "passwd"),
        TarCase(label: "hard link to a later file", build: { $0.hardLink("early", "late"); $0.file("late", "x") },
                code: .hardLinkEscape, entry: "early"),
        TarCase(label: "hard link to a directory", build: { $0.directory("d/"); $0.hardLink("h", "d") },
                code: .hardLinkEscape, entry: "h"),
        TarCase(label: "hard link to a symlink", build: { $0.symlink("s", "x"); $0.hardLink("h", "s") },
                code: .hardLinkEscape, entry: "h"),
        TarCase(label: "hard link through a symlinked directory",
                build: { $0.file("d/f", "x"); $0.symlink("s", "d"); $0.hardLink("h", "s/f") },
                code: .hardLinkEscape, entry: "h"),
        TarCase(label: "character device", build: { $0.add("dev/null", type: "3") }, code: .specialFile, entry: "dev/null"),
        TarCase(label: "block device", build: { $0.add("dev/sda", type: "4") }, code: .specialFile, entry: "dev/sda"),
        TarCase(label: "fifo", build: { $0.add("pipe", type: "6") }, code: .specialFile, entry: "pipe"),
        TarCase(label: "GNU sparse file", build: { $0.add("sparse", type: "S") }, code: .unsupportedFeature, entry: "sparse"),
        TarCase(label: "pax sparse file", build: { $0.pax([("GNU.sparse.major", "1")]); $0.file("sparse", "x") },
                code: .unsupportedFeature, entry: "sparse"),
        TarCase(label: "duplicate entry", build: { $0.file("a.py", "1"); $0.file("a.py", "2") }, code: .duplicateEntry, entry: "a.py"),
        TarCase(label: "directory twice", build: { $0.directory("d/"); $0.directory("d/") }, code: .duplicateEntry, entry: "d/"),
        TarCase(label: "data cut short (size larger than the archive)", build: { $0.add("short.py", data: Array("abc".utf8), size: 4096) },
                code: .corrupt, entry: "short.py"),
        TarCase(label: "malformed pax record", build: { $0.add("./PaxHeaders/bad", type: "x", data: Array("99 path=x\n".utf8)); $0.file("f", "x") },
                code: .corrupt, entry: "./PaxHeaders/bad"),
    ]

    @Test("refused, named, nothing left behind", arguments: cases)
    func rejected(_ test: TarCase) {
        var tar = TarBuilder()
        test.build(&tar)
        let scratch = Scratch()
        expectRejected(tar.gzipped, test.code, entry: test.entry, in: scratch)
        #expect(!Scratch.exists(scratch.file("evil.py")))
        #expect(!Scratch.exists("/tmp/evil.py"))
    }

    @Test("a header with a bad checksum")
    func checksum() {
        var tar = TarBuilder()
        tar.file("good.py", "x")
        var bytes = tar.tar
        bytes[0] = UInt8(ascii: "G")
        expectRejected(Zlib.deflate(bytes, gzip: true), .corrupt, entry: "Good.py")
    }

    @Test("a truncated gzip stream names the entry it stopped in")
    func truncatedGzip() {
        var tar = TarBuilder()
        tar.file("first.py", "x")
        var random = SystemRandomNumberGenerator()
        tar.file("big.bin", String((0..<200_000).map { _ in Character(UnicodeScalar(UInt8.random(in: 0x21...0x7E, using: &random))) }))
        let archive = tar.gzipped
        expectRejected(Array(archive.prefix(archive.count / 2)), .corrupt, entry: "big.bin")
    }

    @Test("a corrupt gzip trailer (CRC) is caught after the last entry")
    func corruptTrailer() {
        var tar = TarBuilder()
        tar.file("a.py", "x")
        var archive = tar.gzipped
        archive[archive.count - 6] ^= 0xFF
        let error = expectRejected(archive, .corrupt, entry: nil)
        #expect(error?.message.contains("gzip stream is corrupt") == true)
    }

    @Test("the hard link case escapes a naive reading: the target exists outside")
    func hardLinkProbe() throws {
        // Shows the probe is meaningful: the name a hard link gives really points at a file
        // outside the bundle directory when joined naively.
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.out + "/x", withIntermediateDirectories: true)
        #expect(FileManager.default.fileExists(atPath: scratch.out + "/x/../../../../etc/passwd"))
        try FileManager.default.removeItem(atPath: scratch.out)
        var tar = TarBuilder()
        tar.hardLink("x/passwd", "../../../../etc/passwd")
        expectRejected(tar.gzipped, .hardLinkEscape, entry: "x/passwd", in: scratch)
    }
}
