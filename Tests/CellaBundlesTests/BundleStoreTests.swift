import Foundation
import Testing

@testable import CellaBundles

@Suite("BundleStore")
struct BundleStoreTests {
    static let archive = ZipBuilder([
        ZipBuilder.file("app.py", "def handler(e, c):\n    return 1\n"), ZipBuilder.file("bin/run", "#!/bin/sh\n", mode: 0o755),
    ]).build()

    static func store(_ scratch: Scratch, limits: BundleLimits = .default) throws -> BundleStore {
        try BundleStore(root: scratch.file("store"), limits: limits)
    }

    static func temporaryNames(_ scratch: Scratch) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.file("store/tmp"))
    }

    @Test("stores by sha256, atomically, once")
    func storeBytes() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let digest = try await store.store(archive: Self.archive)
        #expect(digest == BundleDigest(of: Self.archive))
        #expect(FileManager.default.contents(atPath: scratch.file("store/blobs/sha256/\(digest.hex)")) == Data(Self.archive))
        #expect(await store.contains(digest))
        #expect(try await store.store(archive: Self.archive, expected: digest) == digest)
        #expect(try Self.temporaryNames(scratch) == [])
    }

    @Test("stores a copy of a file")
    func storeFile() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let path = scratch.write(Self.archive, to: "upload.zip")
        #expect(try await store.store(archiveAt: path) == BundleDigest(of: Self.archive))
        #expect(Scratch.exists(path))
    }

    @Test("a digest mismatch stores nothing")
    func digestMismatch() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let wrong = BundleDigest(of: [1, 2, 3])
        await #expect {
            _ = try await store.store(archive: Self.archive, expected: wrong)
        } throws: { error in
            let error = error as! BundleError
            return error.code == .digestMismatch && error.message.contains(wrong.description)
                && error.message.contains(BundleDigest(of: Self.archive).description)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("store/blobs/sha256")) == [])
        #expect(try Self.temporaryNames(scratch) == [])
    }

    @Test("refuses what is not an archive, and archives over the cap, before keeping anything")
    func refusesBeforeStoring() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch, limits: BundleLimits(maxArchiveBytes: 200))
        await #expect { _ = try await store.store(archive: Array("not an archive".utf8)) } throws: {
            ($0 as! BundleError).code == .unsupportedFormat
        }
        let big = ZipBuilder([ZipBuilder.file("a", String(repeating: "x", count: 300), method: 0)]).build()
        await #expect { _ = try await store.store(archive: big) } throws: { ($0 as! BundleError).code == .tooLarge }
        await #expect { _ = try await store.store(archiveAt: scratch.write(big, to: "big.zip")) } throws: {
            ($0 as! BundleError).code == .tooLarge
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("store/blobs/sha256")) == [])
        #expect(try Self.temporaryNames(scratch) == [])
    }

    @Test("unpacks once: later calls return the same tree without unpacking again")
    func unpackOnce() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let digest = try await store.store(archive: Self.archive)
        let path = try await store.unpacked(digest)
        #expect(path == scratch.file("store/trees/sha256/\(digest.hex)/tree"))
        #expect(FileManager.default.contents(atPath: path + "/app.py") != nil)
        var first = stat()
        lstat(path + "/app.py", &first)
        #expect(try await store.unpacked(digest) == path)
        // A new store instance on the same root finds the tree on disk.
        let reopened = try Self.store(scratch)
        #expect(try await reopened.unpacked(digest) == path)
        var second = stat()
        lstat(path + "/app.py", &second)
        #expect(first.st_ino == second.st_ino)
        #expect(await store.unpackCount == 1)
        #expect(await reopened.unpackCount == 0)
    }

    @Test("concurrent requests for one digest share one unpack")
    func concurrentUnpack() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let files = (0..<400).map { ZipBuilder.file("f/\($0).py", String(repeating: "x", count: 1000)) }
        let digest = try await store.store(archive: ZipBuilder(files).build())
        let paths = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await store.unpacked(digest) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(paths).count == 1)
        #expect(await store.unpackCount == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: paths[0] + "/f").count == 400)
    }

    @Test("a failed unpack leaves no tree and nothing in tmp/, and fails again the same way")
    func failedUnpack() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let evil = ZipBuilder([ZipBuilder.file("ok.py", "x"), ZipBuilder.file("../evil.py", "x")]).build()
        let digest = try await store.store(archive: evil)
        for _ in 0..<2 {
            await #expect { _ = try await store.unpacked(digest) } throws: { error in
                let error = error as! BundleError
                return error.code == .pathTraversal && error.entry == "../evil.py"
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("store/trees/sha256")) == [])
        #expect(try Self.temporaryNames(scratch) == [])
        #expect(!Scratch.exists(scratch.file("store/trees/evil.py")))
    }

    @Test("unknown digests are not found")
    func notFound() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        await #expect { _ = try await store.unpacked(BundleDigest(of: [9])) } throws: { ($0 as! BundleError).code == .notFound }
    }

    @Test("an archive damaged on disk is caught before unpacking, and deleted")
    func damagedBlob() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let digest = try await store.store(archive: Self.archive)
        let blob = scratch.file("store/blobs/sha256/\(digest.hex)")
        var damaged = Self.archive
        damaged[40] ^= 1
        try Data(damaged).write(to: URL(fileURLWithPath: blob))
        await #expect { _ = try await store.unpacked(digest) } throws: { ($0 as! BundleError).code == .corrupt }
        #expect(await !store.contains(digest))
    }

    @Test("list reports sizes and use; remove deletes tree and archive")
    func listAndRemove() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let first = try await store.store(archive: Self.archive)
        let second = try await store.store(archive: ZipBuilder([ZipBuilder.file("x", "12345")]).build())
        _ = try await store.unpacked(first)
        let listed = try await store.list()
        #expect(listed.map(\.digest) == [first, second].sorted())
        let one = try #require(listed.first { $0.digest == first })
        #expect(one.archiveBytes == Int64(Self.archive.count))
        #expect(one.unpackedBytes == 42)
        #expect(one.files == 2)
        #expect(abs(one.lastUsed.timeIntervalSinceNow) < 60)
        #expect(listed.first { $0.digest == second }?.unpackedBytes == nil)

        #expect(try await store.remove(first))
        #expect(try await !store.remove(first))
        #expect(await !store.contains(first))
        #expect(!Scratch.exists(scratch.file("store/trees/sha256/\(first.hex)")))
        #expect(try await store.list().map(\.digest) == [second])
        #expect(try Self.temporaryNames(scratch) == [])
        await #expect { _ = try await store.unpacked(first) } throws: { ($0 as! BundleError).code == .notFound }
    }

    @Test("removeIncomplete clears a crash's leftovers and nothing else")
    func removeIncomplete() async throws {
        let scratch = Scratch()
        let store = try Self.store(scratch)
        let digest = try await store.store(archive: Self.archive)
        let path = try await store.unpacked(digest)
        // What a crash leaves: a half-written blob, a half-unpacked tree (with a link in it that
        // must not be followed), a half-removed tree.
        let tmp = scratch.file("store/tmp")
        _ = FileManager.default.createFile(atPath: tmp + "/blob-dead", contents: Data([1, 2, 3]))
        try FileManager.default.createDirectory(atPath: tmp + "/unpack-dead/tree/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp + "/unpack-dead/tree/sub/escape", withDestinationPath: scratch.path)
        try FileManager.default.createDirectory(atPath: tmp + "/remove-dead/tree", withIntermediateDirectories: true)
        #expect(try await store.removeIncomplete() == 3)
        #expect(try Self.temporaryNames(scratch) == [])
        #expect(Scratch.exists(path + "/app.py"))
        #expect(Scratch.exists(scratch.file("store/blobs/sha256/\(digest.hex)")))
        #expect(try await store.removeIncomplete() == 0)
    }
}
