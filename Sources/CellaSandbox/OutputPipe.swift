import CSandboxShim
import Foundation
import Glibc
import Synchronization

/// A pipe that collects a sandbox's output line by line. The sandbox gets `writeEnd` as its stdout
/// and stderr; one process-wide thread reads every pipe as data arrives, and `drain()` reads what
/// is already there on demand. The agent drains when a runtime reports a result: everything the
/// runtime wrote before it answered is in the pipe by then, so its lines go to the right
/// invocation however the two file descriptors are scheduled.
public final class OutputPipe: Sendable {
    /// The sandbox's end. Close it in the caller with `closeWriteEnd()` once the sandbox started.
    public let writeEnd: Int32
    let readEnd: Int32
    private let onLine: @Sendable ([UInt8]) -> Void
    private let state = Mutex(State())
    /// Lines longer than this are delivered in pieces of this size.
    public static let maxLineBytes = 64 * 1024

    private struct State {
        var partial: [UInt8] = []
        var writeOpen = true
        var eof = false
        var closed = false
    }

    /// - Parameter onLine: called with each line, without its newline, in order, under a lock:
    ///   it must be quick and must not call back into this pipe.
    /// - Throws: `SandboxError` `.launchFailed` when the pipe cannot be made.
    public init(onLine: @escaping @Sendable ([UInt8]) -> Void) throws(SandboxError) {
        var fds: [Int32] = [-1, -1]
        let r = cella_pipe_cloexec(&fds)
        guard r == 0 else { throw SandboxError(.launchFailed, "pipe2: \(Errno.describe(r))", errno: r) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        readEnd = fds[0]
        writeEnd = fds[1]
        self.onLine = onLine
        OutputWatcher.shared.watch(self)
    }

    /// Closes this process's copy of the write end; the reader sees EOF once the sandbox's copies
    /// are gone too.
    public func closeWriteEnd() {
        state.withLock { state in
            if state.writeOpen { Glibc.close(writeEnd); state.writeOpen = false }
        }
    }

    /// Reads everything available now and delivers the complete lines.
    public func drain() {
        state.withLock { state in read(&state) }
    }

    /// Delivers what is left (a last line without newline too) and closes the pipe.
    public func close() {
        OutputWatcher.shared.unwatch(self)
        state.withLock { state in
            guard !state.closed else { return }
            if state.writeOpen { Glibc.close(writeEnd); state.writeOpen = false }
            read(&state)
            if !state.partial.isEmpty { onLine(state.partial); state.partial = [] }
            Glibc.close(readEnd)
            state.closed = true
        }
    }

    /// Called by the watcher thread. Returns false at EOF.
    func readable() -> Bool {
        state.withLock { state in
            read(&state)
            return !state.eof
        }
    }

    private func read(_ state: inout State) {
        guard !state.closed, !state.eof else { return }
        // On the stack: the agent drains on every invocation's answer, usually finding nothing.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16 * 1024) { buffer in
            read(&state, into: buffer)
        }
    }

    private func read(_ state: inout State, into buffer: UnsafeMutableBufferPointer<UInt8>) {
        while true {
            let n = Glibc.read(readEnd, buffer.baseAddress, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n == 0 {
                state.eof = true
                if !state.partial.isEmpty { onLine(state.partial); state.partial = [] }
                return
            }
            if n < 0 { return }  // EAGAIN: nothing more for now
            var start = 0
            for i in 0..<n where buffer[i] == UInt8(ascii: "\n") {
                state.partial.append(contentsOf: buffer[start..<i])
                onLine(state.partial)
                state.partial.removeAll(keepingCapacity: true)
                start = i + 1
            }
            state.partial.append(contentsOf: buffer[start..<n])
            while state.partial.count >= Self.maxLineBytes {
                onLine(Array(state.partial.prefix(Self.maxLineBytes)))
                state.partial.removeFirst(Self.maxLineBytes)
            }
            if n < buffer.count { return }
        }
    }

    deinit {
        state.withLock { state in
            if state.writeOpen { Glibc.close(writeEnd) }
            if !state.closed { Glibc.close(readEnd) }
        }
    }
}

/// One thread that waits with epoll on every `OutputPipe`'s read end and drains the ready ones.
final class OutputWatcher: Sendable {
    static let shared = OutputWatcher()
    private let pipes = Mutex<[Int32: OutputPipe]>([:])
    private let loop = EpollThread(name: "cella-output") { fd in
        let watcher = OutputWatcher.shared
        guard let pipe = watcher.pipes.withLock({ $0[fd] }) else { return }
        if !pipe.readable() { watcher.unwatch(pipe) }
    }

    private init() {}

    func watch(_ pipe: OutputPipe) {
        pipes.withLock { pipes in
            pipes[pipe.readEnd] = pipe
            loop.add(pipe.readEnd, oneShot: false)
        }
    }

    /// Stops watching before the pipe's fd is closed, so a reused fd number is never confused.
    func unwatch(_ pipe: OutputPipe) {
        pipes.withLock { pipes in
            if pipes[pipe.readEnd] === pipe {
                loop.remove(pipe.readEnd)
                pipes[pipe.readEnd] = nil
            }
        }
    }
}
