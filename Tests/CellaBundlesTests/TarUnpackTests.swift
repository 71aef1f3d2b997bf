import Foundation
import Testing

@testable import CellaBundles

@Suite("tar.gz bundles: valid archives")
struct TarUnpackTests {
    static var bundle: TarBuilder {
        var tar = TarBuilder()
        tar.directory("./")
        tar.file("./app.py", "def handler(event, context):\n    return 42\n")
        tar.directory("./bin/")
        tar.file("./bin/run", "#!/bin/sh\necho run\n", mode: 0o755)
        tar.file("./bin/setuid", "#!/bin/sh\n", mode: 0o6755)
        tar.add("./sticky/", type: "5", mode: 0o1777)
        tar.file("./lib/v1/__init__.py", "VERSION = 1\n")
        tar.symlink("./lib/current", "v1")
        tar.hardLink("./lib/again.py", "./lib/v1/__init__.py")
        tar.file("./empty.txt")
        return tar
    }

    @Test("round trip: contents, normalized modes, implicit directories, links")
    func roundTrip() throws {
        let scratch = Scratch()
        let summary = try scratch.unpack(Self.bundle.gzipped)
        #expect(summary == .init(format: .tarGzip, entries: 10, files: 5, unpackedBytes: 84))
        #expect(scratch.contents("app.py") == "def handler(event, context):\n    return 42\n")
        #expect(scratch.contents("lib/current/__init__.py") == "VERSION = 1\n")
        #expect(scratch.contents("lib/again.py") == "VERSION = 1\n")
        #expect(scratch.status("lib/again.py")?.st_ino == scratch.status("lib/v1/__init__.py")?.st_ino)
        let modes: [(String, mode_t)] = [
            ("app.py", 0o100644), ("bin/run", 0o100755), ("bin/setuid", 0o100755), ("sticky", 0o040755),
            ("lib", 0o040755), ("lib/current", 0o120777), ("", 0o040755),
        ]
        for (path, mode) in modes {
            #expect(scratch.status(path)?.st_mode == mode, "\(path)")
        }
        #expect(scratch.status("app.py")?.st_mtim.tv_sec == TarBuilder.mtime)
        #expect(scratch.status("bin")?.st_mtim.tv_sec == TarBuilder.mtime)
        #expect(scratch.status("")?.st_mtim.tv_sec == TarBuilder.mtime)
        #expect(scratch.status("lib")?.st_mtim.tv_sec == Int(TreeWriter.defaultMtime))
    }

    @Test("GNU long names and long link targets")
    func gnuLongNames() throws {
        let name = String(repeating: "long-directory-name/", count: 8) + "module.py"
        let target = String(repeating: "sub/", count: 30) + "x"
        var tar = TarBuilder()
        tar.longName(name)
        tar.add(String(name.prefix(100)), data: Array("long".utf8))
        tar.longName(String(repeating: "l", count: 150))
        tar.longName(target, type: "K")
        tar.symlink(String(repeating: "l", count: 100), "truncated")
        let scratch = Scratch()
        _ = try scratch.unpack(tar.gzipped)
        #expect(scratch.contents(name) == "long")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.out + "/" + String(repeating: "l", count: 150)) == target)
    }

    @Test("pax path, linkpath, size and mtime override the header")
    func paxRecords() throws {
        let name = "pax/" + String(repeating: "p", count: 200) + ".py"
        var tar = TarBuilder()
        tar.pax([("path", name), ("mtime", "1600000000.123456789"), ("uname", "someone")])
        tar.add("pax/short", data: Array("pax".utf8))
        tar.pax([("linkpath", "pax/" + String(repeating: "p", count: 200) + ".py")])
        tar.symlink("pax-link", "short")
        let scratch = Scratch()
        _ = try scratch.unpack(tar.gzipped)
        #expect(scratch.contents(name) == "pax")
        #expect(scratch.status(name)?.st_mtim.tv_sec == 1_600_000_000)
        #expect(scratch.contents("pax-link") == "pax")
    }

    @Test("gzip members one after another read as one stream")
    func concatenatedMembers() throws {
        let tar = Self.bundle.tar
        let half = tar.count / 1024 * 512
        let archive = Zlib.deflate(Array(tar[..<half]), gzip: true) + Zlib.deflate(Array(tar[half...]), gzip: true)
        let scratch = Scratch()
        #expect(try scratch.unpack(archive).entries == 10)
    }

    @Test("an archive without the end-of-archive blocks is accepted")
    func noEndMarker() throws {
        var tar = TarBuilder()
        tar.file("a.py", "a")
        let scratch = Scratch()
        #expect(try scratch.unpack(Zlib.deflate(tar.blocks, gzip: true)).files == 1)
    }
}
