import CellaTestSupport
import Foundation
import Testing

@testable import CellaBundles

/// Archives written by real tools (Python's zipfile and tarfile, GNU tar), not by the tests' own
/// writers, so a misreading shared by the writers and the readers cannot hide.
@Suite("Archives from real tools", .enabled(if: Python.path != nil, "needs python3 (scripts/install-deps.sh installs it)"))
struct InteropTests {
    static let longName = "pkg/" + String(repeating: "very-long-directory-name-", count: 6) + "/handler.py"

    /// Writes the same small function into a directory, then archives it with python.
    static let script = """
    import os, sys, tarfile, zipfile
    kind, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(os.path.join(src, "bin"))
    os.makedirs(os.path.dirname(os.path.join(src, sys.argv[4])))
    for name, text, mode in [("app.py", "print('hi')\\n", 0o644), ("bin/run", "#!/bin/sh\\n", 0o755), (sys.argv[4], "long\\n", 0o600)]:
        path = os.path.join(src, name)
        with open(path, "w") as f: f.write(text)
        os.chmod(path, mode)
    os.symlink("app.py", os.path.join(src, "alias.py"))
    os.link(os.path.join(src, "app.py"), os.path.join(src, "hard.py"))
    if kind == "zip":
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for root, dirs, files in os.walk(src):
                for name in sorted(dirs + files):
                    path = os.path.join(root, name)
                    arc = os.path.relpath(path, src)
                    if os.path.islink(path):
                        info = zipfile.ZipInfo(arc)
                        info.create_system = 3
                        info.external_attr = 0o120777 << 16
                        z.writestr(info, os.readlink(path))
                    else:
                        z.write(path, arc)
    else:
        fmt = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT, "ustar": tarfile.USTAR_FORMAT}[kind]
        with tarfile.open(out, "w:gz", format=fmt) as t:
            t.add(src, arcname=".")
    """

    static func make(_ kind: String, name: String = longName) throws -> Scratch {
        let scratch = Scratch()
        try Python.run(script, [kind, scratch.file("src"), scratch.file("archive"), name])
        return scratch
    }

    static func checkTree(_ scratch: Scratch, name: String = longName) throws {
        #expect(scratch.contents("app.py") == "print('hi')\n")
        #expect(scratch.contents("alias.py") == "print('hi')\n")
        #expect(scratch.contents("hard.py") == "print('hi')\n")
        #expect(scratch.contents(name) == "long\n")
        #expect(scratch.status("bin/run")?.st_mode == 0o100755)
        #expect(scratch.status(name)?.st_mode == 0o100644)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.out + "/alias.py") == "app.py")
    }

    @Test("python zipfile, deflated, with a symlink entry")
    func pythonZip() throws {
        let scratch = try Self.make("zip")
        _ = try BundleUnpacker.unpack(archiveAt: scratch.file("archive"), into: scratch.out)
        try Self.checkTree(scratch)
    }

    @Test("python tarfile, GNU and pax formats (long names), hard links", arguments: ["gnu", "pax"])
    func pythonTar(format: String) throws {
        let scratch = try Self.make(format)
        let summary = try BundleUnpacker.unpack(archiveAt: scratch.file("archive"), into: scratch.out)
        try Self.checkTree(scratch)
        #expect(summary.format == .tarGzip)
        #expect(scratch.status("hard.py")?.st_ino == scratch.status("app.py")?.st_ino)
    }

    @Test("python tarfile, ustar with the prefix field")
    func pythonUstar() throws {
        let name = String(repeating: "d", count: 90) + "/" + String(repeating: "e", count: 40) + "/h.py"
        let scratch = try Self.make("ustar", name: name)
        _ = try BundleUnpacker.unpack(archiveAt: scratch.file("archive"), into: scratch.out)
        try Self.checkTree(scratch, name: name)
    }

    @Test("GNU tar's own output")
    func gnuTar() throws {
        let scratch = try Self.make("gnu")
        let tar = Command.run(["/usr/bin/tar", "-czf", scratch.file("gnu.tar.gz"), "-C", scratch.file("src"), "."])
        #expect(tar.status == 0, "\(tar)")
        _ = try BundleUnpacker.unpack(archiveAt: scratch.file("gnu.tar.gz"), into: scratch.out)
        try Self.checkTree(scratch)
    }

    @Test("python's malicious-but-valid tar: member named ../evil.py")
    func pythonTraversal() throws {
        let scratch = Scratch()
        try Python.run("""
        import io, sys, tarfile
        with tarfile.open(sys.argv[1], "w:gz") as t:
            data = b"import os\\n"
            info = tarfile.TarInfo("../evil.py"); info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        """, [scratch.file("archive")])
        #expect {
            _ = try BundleUnpacker.unpack(archiveAt: scratch.file("archive"), into: scratch.out)
        } throws: { error in
            let error = error as! BundleError
            return error.code == .pathTraversal && error.entry == "../evil.py"
        }
        #expect(!Scratch.exists(scratch.file("evil.py")))
        #expect(!Scratch.exists(scratch.out))
    }
}
