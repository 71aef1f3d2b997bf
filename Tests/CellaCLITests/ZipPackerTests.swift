import CellaTestSupport
import Foundation
import Testing

@testable import CellaCLI

/// The directory packer: what goes in, the exec bit, and the same bytes every time. Archives are
/// read back with Info-ZIP's unzip, an independent reader.
@Suite struct ZipPackerTests {
    private func withTree(_ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "cella-zip-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/src/lib", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = dir + "/src"
        try Data("def handler(e, c):\n    return e\n".utf8).write(to: URL(fileURLWithPath: src + "/app.py"))
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: src + "/bootstrap"))
        chmod(src + "/bootstrap", 0o750)
        try Data(String(repeating: "compressible line\n", count: 500).utf8).write(to: URL(fileURLWithPath: src + "/lib/data.txt"))
        try FileManager.default.createSymbolicLink(atPath: src + "/link.py", withDestinationPath: "app.py")
        try body(dir)
    }

    private func run(_ argv: [String]) throws -> (status: Int32, output: String) {
        let r = Command.run(argv)
        return (r.status, r.stdout + r.stderr)
    }

    @Test func entriesInOrderWithModes() throws {
        try withTree { dir in
            let archive = try ZipPacker.pack(directory: dir + "/src/")
            #expect(archive.entries.map(\.path) == ["app.py", "bootstrap", "lib/", "lib/data.txt", "link.py"])
            #expect(archive.entries.map(\.kind) == [.file, .file, .directory, .file, .symlink])
            #expect(archive.entries.map { $0.mode & 0o777 } == [0o644, 0o755, 0o755, 0o644, 0o777])
            // The deflated text is smaller than the text.
            #expect(archive.bytes.count < 9000 + 500)
        }
    }

    @Test func sameTreeSameBytes() throws {
        try withTree { dir in
            let first = try ZipPacker.pack(directory: dir + "/src")
            // Different mtimes and a different (group-only) exec mode give the same archive.
            sleep(1)
            let touched = dir + "/src/app.py"
            try Data("def handler(e, c):\n    return e\n".utf8).write(to: URL(fileURLWithPath: touched))
            chmod(dir + "/src/bootstrap", 0o700)
            let second = try ZipPacker.pack(directory: dir + "/src")
            #expect(first.bytes == second.bytes)
            // A changed byte changes the archive.
            try Data("def handler(e, c):\n    return None\n".utf8).write(to: URL(fileURLWithPath: touched))
            #expect(try ZipPacker.pack(directory: dir + "/src").bytes != first.bytes)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/unzip"), "needs Info-ZIP unzip at /usr/bin/unzip"))
    func unzipReadsItBackWithTheExecBit() throws {
        try withTree { dir in
            let archive = try ZipPacker.pack(directory: dir + "/src")
            let zip = dir + "/code.zip"
            try Data(archive.bytes).write(to: URL(fileURLWithPath: zip))
            let test = try run(["/usr/bin/unzip", "-t", zip])
            #expect(test.status == 0, "\(test.output)")
            #expect(test.output.contains("No errors detected"), "\(test.output)")
            let out = dir + "/out"
            let extract = try run(["/usr/bin/unzip", "-q", zip, "-d", out])
            #expect(extract.status == 0, "\(extract.output)")
            var st = stat()
            #expect(stat(out + "/bootstrap", &st) == 0 && st.st_mode & 0o111 == 0o111, "bootstrap lost its exec bit")
            #expect(stat(out + "/app.py", &st) == 0 && st.st_mode & 0o111 == 0, "app.py became executable")
            #expect(try String(contentsOfFile: out + "/lib/data.txt", encoding: .utf8) == String(repeating: "compressible line\n", count: 500))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/link.py") == "app.py")
        }
    }

    @Test func refusesWhatCannotBeDeployed() throws {
        try withTree { dir in
            #expect(throws: ClientError.self) { try ZipPacker.pack(directory: dir + "/src/app.py") }
            try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
            #expect(throws: ClientError.self) { try ZipPacker.pack(directory: dir + "/empty") }
            #expect(mkfifo(dir + "/src/pipe", 0o600) == 0)
            let error = #expect(throws: ClientError.self) { try ZipPacker.pack(directory: dir + "/src") }
            #expect(error?.message.contains("pipe") == true)
        }
    }

    @Test func deployReadsArchivesAsTheyAre() throws {
        try withTree { dir in
            let zip = dir + "/code.zip"
            try Data([0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)).write(to: URL(fileURLWithPath: zip))
            #expect(try FnDeploy.bundle(from: zip).bytes.count == 22)
            #expect(throws: ClientError.self) { try FnDeploy.bundle(from: dir + "/src/app.py") }
            #expect(throws: ClientError.self) { try FnDeploy.bundle(from: dir + "/missing") }
        }
    }
}
