import CellaSandbox
import Foundation
import Glibc

extension BundleStore {
    /// Removes a bundle: its tree (first, by renaming it into `tmp/` so it vanishes at once),
    /// then its archive. The caller makes sure no sandbox still mounts the tree.
    /// - Returns: whether there was anything to remove.
    /// - Throws: `BundleError` with `io`.
    @discardableResult
    public func remove(_ digest: BundleDigest) async throws(BundleError) -> Bool {
        setRemoving(digest, true)
        defer { setRemoving(digest, false) }
        await settle(digest)
        forget(digest)
        let name = beginTemporary("remove")
        defer { activeTemporaries.remove(name) }
        return try await workers.perform { [layout] () throws(BundleError) in
            var removed = false
            if rename(layout.treeEntry(digest), layout.temporary(name)) == 0 {
                removed = true
                try BundleSyscalls.syncDirectory(layout.trees)
                try BundleSyscalls.removeTree(atPath: layout.temporary(name))
            } else if case let code = errno, code != ENOENT {
                throw .io(.init(call: "rename", subject: layout.treeEntry(digest), errno: code))
            }
            if unlink(layout.blob(digest)) == 0 {
                removed = true
                try BundleSyscalls.syncDirectory(layout.blobs)
            } else if case let code = errno, code != ENOENT {
                throw .io(.init(call: "unlink", subject: layout.blob(digest), errno: code))
            }
            return removed
        }
    }

    /// Every bundle in the store, by digest.
    /// - Throws: `BundleError` with `io`.
    public func list() async throws(BundleError) -> [BundleStoreEntry] {
        try await workers.perform { [layout] () throws(BundleError) in
            var digests = Set<BundleDigest>()
            for directory in [layout.blobs, layout.trees] {
                digests.formUnion(try BundleSyscalls.list(directory).compactMap { try? BundleDigest(parsing: $0) })
            }
            return digests.sorted().map { digest in
                var entry = BundleStoreEntry(digest: digest, archiveBytes: nil, unpackedBytes: nil, files: nil, lastUsed: .distantPast)
                var st = stat()
                if lstat(layout.blob(digest), &st) == 0 {
                    entry.archiveBytes = Int64(st.st_size)
                    entry.lastUsed = max(entry.lastUsed, Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)))
                }
                if lstat(layout.info(digest), &st) == 0 {
                    entry.lastUsed = max(entry.lastUsed, Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)))
                    if let text = try? FileIO.read(layout.info(digest)), let info = TreeInfo(text: text) {
                        entry.unpackedBytes = info.unpackedBytes
                        entry.files = info.files
                    }
                }
                return entry
            }
        }
    }

    /// Deletes what interrupted work left under `tmp/` (half-written archives, half-unpacked
    /// trees, half-removed ones); work in progress in this store is left alone. Call it on start.
    /// - Returns: how many leftovers were removed.
    /// - Throws: `BundleError` with `io`.
    @discardableResult
    public func removeIncomplete() async throws(BundleError) -> Int {
        let directory = layout.temporary
        let names = try await workers.perform { () throws(BundleError) in try BundleSyscalls.list(directory) }
        // Filtered after listing: anything begun since is not in `names`, and names never recur.
        let leftovers = names.filter { !activeTemporaries.contains($0) }
        try await workers.perform { () throws(BundleError) in
            for name in leftovers { try BundleSyscalls.removeTree(atPath: directory + "/" + name) }
        }
        return leftovers.count
    }
}
