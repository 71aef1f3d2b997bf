import Foundation
import Testing

@testable import CellaBundles

@Suite("Bombs: caps on unpacked bytes and entries")
struct BombTests {
    static let limits = BundleLimits(maxUnpackedBytes: 8 << 20, maxEntries: 100)
    static let zeros = [UInt8](repeating: 0, count: 64 << 20)

    @Test("a small zip whose one entry inflates to 64 MiB of zeros, under an 8 MiB cap")
    func zipBomb() throws {
        let entry = ZipBuilder.Entry(name: Array("zeros.bin".utf8), data: Self.zeros)
        let archive = ZipBuilder([entry]).build()
        #expect(archive.count < 100 << 10)
        let scratch = Scratch()
        #expect(throws: Never.self) { _ = try Scratch().unpack(archive, limits: BundleLimits(maxUnpackedBytes: 64 << 20)) }
        let error = expectRejected(archive, .tooLarge, entry: "zeros.bin", limits: Self.limits, in: scratch)
        #expect(error?.message.contains("\(8 << 20)") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["archive"])
    }

    @Test("sizes that lie: the central directory says 100 bytes, the data inflates to 64 MiB")
    func lyingSizes() {
        var entry = ZipBuilder.Entry(name: Array("liar.bin".utf8), data: Self.zeros)
        entry.declaredSize = 100
        expectRejected(ZipBuilder([entry]).build(), .tooLarge, entry: "liar.bin", limits: Self.limits)
    }

    @Test("many small entries each under the cap, together over it")
    func manyEntriesOverTheCap() {
        let chunk = [UInt8](repeating: 7, count: 3 << 20)
        let entries = (0..<3).map { ZipBuilder.Entry(name: Array("part\($0).bin".utf8), data: chunk) }
        expectRejected(ZipBuilder(entries).build(), .tooLarge, entry: "part2.bin", limits: Self.limits)
    }

    @Test("many-files bomb: one entry past the cap, zip and tar.gz", arguments: [false, true])
    func tooManyFiles(tar: Bool) {
        let names = (0...100).map { "f/\($0).txt" }
        let archive: [UInt8]
        if tar {
            var builder = TarBuilder()
            for name in names { builder.file(name, "") }
            archive = builder.gzipped
        } else {
            archive = ZipBuilder(names.map { ZipBuilder.file($0) }).build()
        }
        expectRejected(archive, .tooManyFiles, entry: "f/100.txt", limits: Self.limits)
    }

    @Test("a tar.gz entry that declares 64 MiB is refused before it is inflated")
    func tarBomb() {
        var tar = TarBuilder()
        tar.add("zeros.bin", data: Self.zeros)
        let archive = tar.gzipped
        #expect(archive.count < 100 << 10)
        expectRejected(archive, .tooLarge, entry: "zeros.bin", limits: Self.limits)
    }

    @Test("the gzip stream itself is capped: 64 MiB of padding after the end of the archive")
    func gzipPadding() {
        var tar = TarBuilder()
        tar.file("a.py", "a")
        let error = expectRejected(Zlib.deflate(tar.tar + Self.zeros, gzip: true), .tooLarge, entry: nil, limits: Self.limits)
        #expect(error?.message.contains("unpacked-size limit") == true)
    }

    @Test("global pax headers count as entries")
    func globalHeaders() {
        var tar = TarBuilder()
        for index in 0...100 { tar.add("g\(index)", type: "g", data: Array("10 a=bcde\n".utf8)) }
        expectRejected(tar.gzipped, .tooManyFiles, entry: "g100", limits: Self.limits)
    }

    @Test("an archive over the archive cap")
    func archiveTooLarge() {
        let archive = ZipBuilder([ZipBuilder.file("a.txt", String(repeating: "x", count: 2000), method: 0)]).build()
        let error = expectRejected(archive, .tooLarge, entry: nil, limits: BundleLimits(maxArchiveBytes: 1000))
        #expect(error?.message.contains("1000-byte limit") == true)
    }
}
