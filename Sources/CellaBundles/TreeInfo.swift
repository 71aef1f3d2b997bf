/// The `info` file of an unpacked tree: `key=value` lines.
struct TreeInfo: Equatable {
    var format: BundleFormat
    var entries: Int
    var files: Int
    var unpackedBytes: Int64

    init(_ summary: BundleUnpacker.Summary) {
        format = summary.format
        entries = summary.entries
        files = summary.files
        unpackedBytes = summary.unpackedBytes
    }

    var text: String {
        "format=\(format.rawValue)\nentries=\(entries)\nfiles=\(files)\nunpacked_bytes=\(unpackedBytes)\n"
    }

    /// Parses `text`; nil when a field is missing or malformed.
    init?(text: String) {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            fields[line[..<equals]] = line[line.index(after: equals)...]
        }
        guard let format = fields["format"].flatMap({ BundleFormat(rawValue: String($0)) }),
              let entries = fields["entries"].flatMap({ Int($0) }),
              let files = fields["files"].flatMap({ Int($0) }),
              let bytes = fields["unpacked_bytes"].flatMap({ Int64($0) })
        else { return nil }
        self.format = format
        self.entries = entries
        self.files = files
        unpackedBytes = bytes
    }
}
