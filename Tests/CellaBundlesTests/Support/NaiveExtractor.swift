import Foundation

/// What an unprotected extractor does: joins each name to the root and writes there, following
/// whatever links are on the way. Tests run it first to show an archive really does escape, so
/// a test of Cella's unpacker could fail if the protection were missing.
enum NaiveExtractor {
    static func extract(_ entries: [ZipBuilder.Entry], into root: String) {
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for entry in entries {
            let name = String(decoding: entry.name, as: UTF8.self)
            let path = name.hasPrefix("/") ? name : root + "/" + name
            let type = (entry.mode ?? 0o100644) & 0o170000
            if type == 0o120000 {
                try? FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: String(decoding: entry.data, as: UTF8.self))
            } else if type == 0o040000 {
                try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } else {
                try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: path, contents: Data(entry.data))
            }
        }
    }
}
