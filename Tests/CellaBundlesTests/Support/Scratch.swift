import Foundation
import Testing

@testable import CellaBundles

/// A private temporary directory per test, removed when the test ends: `out` is where archives
/// unpack, everything beside it counts as "outside the bundle".
final class Scratch {
    let path: String

    init() {
        var template = Array("/tmp/cella-bundle-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The unpack target; does not exist until an unpack succeeds.
    var out: String { path + "/out" }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) -> String {
        let target = file(name)
        _ = FileManager.default.createFile(atPath: target, contents: Data(bytes))
        return target
    }

    /// Unpacks into `out`; first runs the check-only pass the controller runs at upload over the
    /// same bytes and expects the very same outcome (summary, or error code and message).
    func unpack(_ archive: [UInt8], limits: BundleLimits = .default) throws(BundleError) -> BundleUnpacker.Summary {
        let checked = Result { () throws(BundleError) in try BundleUnpacker.check(archive, limits: limits) }
        let unpacked = Result { () throws(BundleError) in
            try BundleUnpacker.unpack(archiveAt: write(archive, to: "archive"), into: out, limits: limits)
        }
        switch (checked, unpacked) {
        case (.success(let a), .success(let b)): #expect(a == b, "check-only and unpack disagree")
        case (.failure(let a), .failure(let b)):
            #expect(a.code == b.code && a.message == b.message, "check-only said \(a), unpack said \(b)")
        case (.success, .failure(let b)) where b.code == .io: break  // the file system's refusal, not the archive's
        default: Issue.record("check-only gave \(checked), unpack gave \(unpacked)")
        }
        return try unpacked.get()
    }

    /// `lstat` of a path under `out`.
    func status(_ relative: String) -> stat? {
        var st = stat()
        return lstat(out + "/" + relative, &st) == 0 ? st : nil
    }

    func contents(_ relative: String) -> String? {
        FileManager.default.contents(atPath: out + "/" + relative).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Everything under `out`, relative, sorted (links not followed).
    func listing() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: out) else { return [] }
        return walker.compactMap { $0 as? String }.sorted()
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}

/// Unpacks an archive that must be refused and checks how: the code, the entry the message
/// names, and that no trace of the unpack is left.
@discardableResult
func expectRejected(
    _ archive: [UInt8], _ code: BundleError.Code, entry: String?, limits: BundleLimits = .default,
    in scratch: Scratch = Scratch(), sourceLocation: SourceLocation = #_sourceLocation
) -> BundleError? {
    do {
        let summary = try scratch.unpack(archive, limits: limits)
        Issue.record("unpacked \(summary.entries) entries; expected \(code)", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.entry == entry, "\(error.message)", sourceLocation: sourceLocation)
        if let entry {
            #expect(error.message.hasPrefix("entry \(BundleError.quoted(entry)): "), "\(error.message)", sourceLocation: sourceLocation)
        }
        #expect(!Scratch.exists(scratch.out), "the failed unpack left its directory", sourceLocation: sourceLocation)
        return error
    }
}
