import Foundation
import Testing

@testable import CellaBundles

@Suite("Zip bundles: valid archives")
struct ZipUnpackTests {
    static let bundle: [ZipBuilder.Entry] = [
        ZipBuilder.file("app.py", "def handler(event, context):\n    return 42\n"),
        ZipBuilder.file("bin/run", "#!/bin/sh\necho run\n", mode: 0o755),
        ZipBuilder.file("bin/setuid", "#!/bin/sh\n", mode: 0o4755),
        ZipBuilder.file("bin/group-exec", "x", mode: 0o610),
        ZipBuilder.directory("lib/"),
        ZipBuilder.directory("lib/v1/"),
        ZipBuilder.file("lib/v1/__init__.py", "VERSION = 1\n", method: 0),
        ZipBuilder.symlink("lib/current", "v1"),
        ZipBuilder.file("deep/a/b/c.txt", "implicit parents"),
        ZipBuilder.file("empty.txt"),
        ZipBuilder.file("secret.txt", "private", mode: 0o600),
    ]

    @Test("round trip: contents, normalized modes, nested and implicit directories, an inner link")
    func roundTrip() throws {
        let scratch = Scratch()
        let summary = try scratch.unpack(ZipBuilder(Self.bundle).build())
        let bytes = Self.bundle.filter { $0.mode! & 0o170000 == 0o100000 }.reduce(0) { $0 + $1.data.count }
        #expect(summary == .init(format: .zip, entries: 11, files: 8, unpackedBytes: Int64(bytes)))
        #expect(scratch.contents("app.py") == "def handler(event, context):\n    return 42\n")
        #expect(scratch.contents("lib/v1/__init__.py") == "VERSION = 1\n")
        #expect(scratch.contents("lib/current/__init__.py") == "VERSION = 1\n")
        #expect(scratch.contents("deep/a/b/c.txt") == "implicit parents")
        #expect(scratch.contents("empty.txt") == "")
        let modes: [(String, mode_t)] = [
            ("app.py", 0o100644), ("bin/run", 0o100755), ("bin/setuid", 0o100755), ("bin/group-exec", 0o100755),
            ("secret.txt", 0o100644), ("lib", 0o040755), ("deep/a", 0o040755), ("lib/current", 0o120777),
        ]
        for (path, mode) in modes {
            #expect(scratch.status(path)?.st_mode == mode, "\(path)")
        }
        var root = stat()
        lstat(scratch.out, &root)
        #expect(root.st_mode == 0o040755)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.out + "/lib/current") == "v1")
        #expect(scratch.status("app.py")?.st_uid == geteuid())
    }

    @Test("modification times: the archive's for files and listed directories, the zip epoch for implied ones")
    func times() throws {
        let scratch = Scratch()
        _ = try scratch.unpack(ZipBuilder(Self.bundle).build())
        #expect(scratch.status("app.py")?.st_mtim.tv_sec == Int(ZipBuilder.dosMtime))
        #expect(scratch.status("lib")?.st_mtim.tv_sec == Int(ZipBuilder.dosMtime))
        #expect(scratch.status("lib/current")?.st_mtim.tv_sec == Int(ZipBuilder.dosMtime))
        #expect(scratch.status("deep")?.st_mtim.tv_sec == Int(TreeWriter.defaultMtime))
    }

    @Test("an empty zip unpacks to an empty directory")
    func empty() throws {
        let scratch = Scratch()
        let archive = ZipBuilder().build()
        #expect(archive.count == 22)
        #expect(try scratch.unpack(archive) == .init(format: .zip, entries: 0, files: 0, unpackedBytes: 0))
        #expect(scratch.listing() == [])
        #expect(scratch.status("")?.st_mode == 0o040755)
    }

    @Test("zip64 end records and extra fields are read")
    func zip64() throws {
        let scratch = Scratch()
        _ = try scratch.unpack(ZipBuilder([ZipBuilder.file("a.txt", "sixty-four"), ZipBuilder.file("b/c.txt", "bits")], zip64: true).build())
        #expect(scratch.contents("a.txt") == "sixty-four")
        #expect(scratch.contents("b/c.txt") == "bits")
    }

    @Test("MS-DOS entries: a trailing slash or the directory attribute makes a directory, files get 0644")
    func dosEntries() throws {
        var directory = ZipBuilder.directory("docs/")
        directory.mode = nil
        var file = ZipBuilder.file("docs/readme.txt", "hi", mode: 0o755)
        file.mode = nil
        let scratch = Scratch()
        _ = try scratch.unpack(ZipBuilder([directory, file]).build())
        #expect(scratch.status("docs")?.st_mode == 0o040755)
        #expect(scratch.status("docs/readme.txt")?.st_mode == 0o100644)
    }

    @Test("a directory entry after files that implied it is fine, and sets its time")
    func lateDirectory() throws {
        let scratch = Scratch()
        _ = try scratch.unpack(ZipBuilder([ZipBuilder.file("pkg/a.py", "a"), ZipBuilder.directory("pkg/")]).build())
        #expect(scratch.status("pkg")?.st_mtim.tv_sec == Int(ZipBuilder.dosMtime))
    }

    @Test("the extended timestamp field wins over the MS-DOS time")
    func extendedTimestamp() throws {
        var entry = ZipBuilder.file("t.txt", "t")
        entry.centralExtra = [0x55, 0x54, 5, 0, 1]
        entry.centralExtra.put32(1_234_567_890)
        let scratch = Scratch()
        _ = try scratch.unpack(ZipBuilder([entry]).build())
        #expect(scratch.status("t.txt")?.st_mtim.tv_sec == 1_234_567_890)
    }
}
