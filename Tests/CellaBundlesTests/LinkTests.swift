import Foundation
import Testing

@testable import CellaBundles

@Suite("Bundles never write through links")
struct LinkTests {
    /// A link to a directory beside the bundle, then a file "inside" the link.
    static let slip: [ZipBuilder.Entry] = [
        ZipBuilder.symlink("link", "../outside"),
        ZipBuilder.file("link/evil.py", "import os\n"),
    ]

    @Test("zip slip through a symlink escapes a naive extractor, not Cella")
    func slipThroughLink() throws {
        let naive = Scratch()
        try FileManager.default.createDirectory(atPath: naive.file("outside"), withIntermediateDirectories: false)
        NaiveExtractor.extract(Self.slip, into: naive.out)
        #expect(Scratch.exists(naive.file("outside/evil.py")), "the archive must really escape when unchecked")

        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.file("outside"), withIntermediateDirectories: false)
        expectRejected(ZipBuilder(Self.slip).build(), .linkEscape, entry: "link", in: scratch)
        #expect(!Scratch.exists(scratch.file("outside/evil.py")))
    }

    @Test("a link that stays inside still cannot be written through", arguments: [
        [ZipBuilder.directory("real/"), ZipBuilder.symlink("link", "real"), ZipBuilder.file("link/evil.py", "x")],
        [ZipBuilder.symlink("link", "."), ZipBuilder.file("link/evil.py", "x")],
    ])
    func writeThroughInnerLink(entries: [ZipBuilder.Entry]) {
        let scratch = Scratch()
        expectRejected(ZipBuilder(entries).build(), .linkTraversal, entry: "link/evil.py", in: scratch)
    }

    @Test("a link that comes after the files under its name is a duplicate")
    func linkAfterFiles() {
        let entries = [ZipBuilder.file("link/evil.py", "x"), ZipBuilder.symlink("link", "../outside")]
        expectRejected(ZipBuilder(entries).build(), .duplicateEntry, entry: "link")
    }

    @Test("the full-tree check: a link that is fine on its own escapes through another")
    func chainedEscape() {
        let naive = Scratch()
        let entries = [ZipBuilder.directory("a/"), ZipBuilder.symlink("a/up", ".."), ZipBuilder.symlink("b", "a/up/..")]
        // Lexically "a/up/.." is "a": inside. Followed, it is ".." of the root: outside.
        let lexical = try! EntryPath.parse(Array("b".utf8), limits: .default).path
            .resolveLink(target: Array("a/up/..".utf8), entry: "b", limits: .default)
        #expect(lexical == ["a"])
        NaiveExtractor.extract(entries, into: naive.out)
        #expect(URL(fileURLWithPath: naive.out + "/b").resolvingSymlinksInPath().path == naive.path)
        expectRejected(ZipBuilder(entries).build(), .linkEscape, entry: "b")
    }

    @Test("links inside are kept as they are, dangling or not")
    func innerLinks() throws {
        let scratch = Scratch()
        let entries = [
            ZipBuilder.file("lib/real.py", "x"), ZipBuilder.symlink("lib/alias.py", "real.py"),
            ZipBuilder.symlink("top", "lib/../lib/real.py"), ZipBuilder.symlink("dangling", "missing/file"),
            ZipBuilder.symlink("chain", "top"),
        ]
        _ = try scratch.unpack(ZipBuilder(entries).build())
        #expect(scratch.contents("chain") == "x")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.out + "/dangling") == "missing/file")
    }
}
