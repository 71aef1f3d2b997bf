import Glibc

/// What every program the tests spawn directly (posix_spawn) needs besides its own file actions:
/// no descriptor of the test process but 0, 1 and 2.
///
/// Sockets SwiftNIO accepts are not close-on-exec, and posix_spawn hands a child every descriptor
/// that is not. A long-lived child — the PostgreSQL server `pg_ctl start` leaves running — would
/// then hold, for the rest of the run, whatever connection a test server had open at that moment,
/// and that server's close would never reach its client (a full test run saw a client wait 60 s
/// for a close that the test server had done at once).
enum SpawnActions {
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Debian 12 has 2.36),
    /// which Swift's Glibc module does not import (glibc declares it for `_GNU_SOURCE` only).
    private static let addCloseFrom: AddCloseFrom? = {
        // RTLD_DEFAULT is the null handle.
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Adds "close every descriptor from 3 up" to `actions`, after the ones already added.
    static func closeInherited(_ actions: inout posix_spawn_file_actions_t) {
        guard let addCloseFrom else {
            fatalError("this glibc has no posix_spawn_file_actions_addclosefrom_np (2.34+): spawned programs would inherit the tests' sockets")
        }
        let result = addCloseFrom(&actions, 3)
        precondition(result == 0, "posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(result)))")
    }
}
