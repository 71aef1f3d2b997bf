import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@testable import CellaHTTP

/// DirectRoutes over real TCP: a Hummingbird application with some routes answered in the
/// pipeline, driven by a raw socket so that pipelining, partial bodies and closes are the test's.
@Suite struct DirectRoutesTests {
    /// Routes: `POST /direct/:id[?sleep=ms][?gate]` (accepted) echoes `direct <id> <body>` after
    /// an optional sleep or once the test opens the gate; `POST /stream[?gate]` (not accepted)
    /// sleeps 50 ms (and waits for the gate) and echoes `stream <body>`; `GET /plain`;
    /// `POST /direct-big` (accepted) answers `bigBody` bytes; `POST /direct-throw` (accepted)
    /// throws. Each route counts its calls on entry, before reading the body.
    final class Server: Sendable {
        final class Counts: Sendable {
            private let counts = Mutex<[String: Int]>([:])
            func add(_ name: String) { counts.withLock { $0[name, default: 0] += 1 } }
            func of(_ name: String) -> Int { counts.withLock { $0[name, default: 0] } }
            /// `?gate` routes wait until the test opens it.
            private let gate = Mutex(false)
            var isOpen: Bool { gate.withLock { $0 } }
            func open() { gate.withLock { $0 = true } }
        }
        let counts = Counts()
        let port: Int
        final class Flag: Sendable {
            private let value = Mutex(false)
            var isSet: Bool { value.withLock { $0 } }
            func set() { value.withLock { $0 = true } }
        }
        /// The service group's run returned.
        let ended = Flag()
        private let group: ServiceGroup
        private let run: Task<Void, any Error>

        /// More than loopback's socket buffers take at once.
        static let bigBody = 48 << 20

        init(maxBody: Int = 64) async throws {
            let counts = counts
            let router = Router()
            router.post("/direct/:id") { request, context in
                var request = request
                counts.add("direct")
                if let ms = request.uri.queryParameters["sleep"].flatMap({ Int($0) }) { try await Task.sleep(for: .milliseconds(ms)) }
                if request.uri.queryParameters["gate"] != nil {
                    while !counts.isOpen { try await Task.sleep(for: .milliseconds(10)) }
                }
                let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
                return "direct \(try context.parameters.require("id")) \(body)"
            }
            router.post("/stream") { request, _ in
                var request = request
                counts.add("stream")
                try await Task.sleep(for: .milliseconds(50))
                if request.uri.queryParameters["gate"] != nil {
                    while !counts.isOpen { try await Task.sleep(for: .milliseconds(10)) }
                }
                return "stream \(String(buffer: try await request.collectBody(upTo: 1 << 20)))"
            }
            router.get("/plain") { _, _ in "plain" }
            router.post("/direct-big") { _, _ in
                counts.add("direct-big")
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "b"), count: Self.bigBody)))
            }
            struct Failure: Error {}
            router.post("/direct-throw") { _, _ -> String in throw Failure() }
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let logger = Logger(label: "direct-routes-test")
            let app = DirectRoutes.application(
                responder: router.buildResponder(),
                accepts: { $0.method == .post && (DirectRoutes.matches($0.path, ["direct", "*"]) || DirectRoutes.matches($0.path, ["direct-throw"])
                    || DirectRoutes.matches($0.path, ["direct-big"])) },
                maxBody: maxBody,
                configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "direct-test"),
                onServerRunning: { channel in
                    continuation.yield(channel.localAddress?.port ?? 0)
                    continuation.finish()
                },
                logger: logger)
            let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            self.group = group
            let ended = ended
            run = Task {
                defer { ended.set() }
                try await group.run()
            }
            var it = ports.makeAsyncIterator()
            port = await it.next() ?? 0
        }

        func calls(_ name: String) -> Int { counts.of(name) }

        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await run.value
        }

        func shutDownInBackground() -> Task<Void, Never> {
            let group = group
            return Task { await group.triggerGracefulShutdown() }
        }
    }

    static func post(_ path: String, _ body: String, extra: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }

    @Test func pipelinedRequestsAreAnsweredInTheOrderTheyCame() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        // The streamed one sleeps 50 ms; the direct ones answer at once, and must still wait.
        try client.send(Self.post("/stream", "s") + Self.post("/direct/1", "a") + Self.post("/direct/2", "b")
            + "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n" + Self.post("/direct/3", "c"))
        var answers: [RawClient.Answer] = []
        for _ in 0..<5 { answers.append(try await client.readResponse()) }
        #expect(answers.map(\.body) == ["stream s", "direct 1 a", "direct 2 b", "plain", "direct 3 c"])
        #expect(answers.allSatisfy { $0.status == 200 })
        #expect(server.calls("direct") == 3 && server.calls("stream") == 1)
        await server.stop()
    }

    @Test func anAcceptedRequestsRouteRunsOnlyOnceItsWholeBodyIsIn() async throws {
        let server = try await Server(maxBody: 16)
        // Accepted, 10 bytes declared, 5 sent: gathered in the pipeline, so the route waits.
        let direct = try RawClient(port: server.port)
        try direct.send("POST /direct/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde")
        // Not accepted (or accepted, but over maxBody or chunked): Hummingbird calls the route at
        // the head, and the route reads the body as it streams.
        let streamed = try RawClient(port: server.port)
        try streamed.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde")
        let large = try RawClient(port: server.port)
        try large.send("POST /direct/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabcde")
        let chunked = try RawClient(port: server.port)
        try chunked.send("POST /direct/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n")
        // Polled (the parallel test run can starve the server for seconds), then a grace period.
        let deadline = ContinuousClock.now + .seconds(30)
        while server.calls("stream") < 1 || server.calls("direct") < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(server.calls("stream") == 1)
        #expect(server.calls("direct") == 2, "the large and the chunked request, not the gathered one")
        try direct.send("fghij")
        #expect(try await direct.readResponse().body == "direct 1 abcdefghij")
        #expect(server.calls("direct") == 3)
        try streamed.send("fghij")
        #expect(try await streamed.readResponse().body == "stream abcdefghij")
        try large.send("fghijklmnopqrst")
        #expect(try await large.readResponse().body == "direct 2 abcdefghijklmnopqrst")
        try chunked.send("0\r\n\r\n")
        #expect(try await chunked.readResponse().body == "direct 3 abcde")
        await server.stop()
    }

    @Test func answersCarryLengthDateAndServerAndAFailureIs500() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/direct/7", "x") + Self.post("/direct-throw", ""))
        let ok = try await client.readResponse()
        #expect(ok.status == 200 && ok.body == "direct 7 x")
        #expect(ok.headers["content-length"] == "10" && ok.headers["server"] == "direct-test")
        #expect(ok.headers["date"]?.hasSuffix(" GMT") == true)
        let failed = try await client.readResponse()
        #expect(failed.status == 500 && failed.body.isEmpty)
        // The connection stays usable after a failure.
        try client.send(Self.post("/direct/8", "y"))
        #expect(try await client.readResponse().body == "direct 8 y")
        await server.stop()
    }

    @Test func connectionCloseEndsTheConnectionAfterTheAnswer() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/direct/1", "a", extra: "Connection: close\r\n") + Self.post("/direct/2", "b"))
        let answer = try await client.readResponse()
        #expect(answer.body == "direct 1 a" && answer.headers["connection"] == "close")
        #expect(try await client.readToEnd().isEmpty, "nothing after the closing answer")
        #expect(server.calls("direct") == 1)
        await server.stop()
    }

    @Test func aGracefulShutdownLetsAnAnswerInFlightFinish() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/direct/1?gate", "a"))
        while server.calls("direct") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        // Hummingbird, seeing no request of its own on the connection, would close it at once.
        let stopping = server.shutDownInBackground()
        try await Task.sleep(for: .milliseconds(500))
        server.counts.open()
        let answer = try await client.readResponse()
        #expect(answer.body == "direct 1 a")
        // Closed after the answer (marked `Connection: close` unless a loaded machine delivered the
        // shutdown to the connection only after the answer had left).
        #expect(try await client.readToEnd().isEmpty)
        await stopping.value
        await server.stop()
    }

    @Test func bytesThatAreNotHTTPAreRefusedAfterTheAnswerBeforeThem() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/direct/1?sleep=200", "a") + "NOT HTTP\r\n\r\n")
        let answer = try await client.readResponse()
        #expect(answer.status == 200 && answer.body == "direct 1 a")
        #expect(try await client.readResponse().status == 400)
        #expect(try await client.readToEnd().isEmpty)
        await server.stop()
    }

    @Test func aHalfClosingClientStillGetsItsAnswers() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/stream", "s") + Self.post("/direct/1?sleep=100", "a"))
        client.shutdownWrite()
        #expect(try await client.readResponse().body == "stream s")
        #expect(try await client.readResponse().body == "direct 1 a")
        #expect(try await client.readToEnd().isEmpty)
        await server.stop()
    }

    @Test func aShutdownWhileHummingbirdOwesAnAnswerStillAnswersTheRequestBehindIt() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/stream?gate", "s") + Self.post("/direct/1", "a"))
        while server.calls("stream") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let stopping = server.shutDownInBackground()
        try await Task.sleep(for: .milliseconds(300))
        server.counts.open()
        #expect(try await client.readResponse().body == "stream s")
        // Run and answered (Hummingbird would close after its own answer, under it), then closed
        // (marked `Connection: close` unless a loaded machine delivered the shutdown to the
        // connection only after the answer had left).
        #expect(try await client.readResponse().body == "direct 1 a")
        #expect(try await client.readToEnd().isEmpty)
        #expect(server.calls("direct") == 1)
        await stopping.value
        await server.stop()
    }

    @Test func aDecodingErrorIsAnsweredAfterEveryRequestBeforeIt() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/stream", "s") + Self.post("/direct/1", "a") + "NOT HTTP\r\n\r\n")
        #expect(try await client.readResponse().body == "stream s")
        #expect(try await client.readResponse().body == "direct 1 a")
        #expect(try await client.readResponse().status == 400)
        #expect(try await client.readToEnd().isEmpty)
        await server.stop()
    }

    @Test func theServerEndsOnlyAfterAnAnswerWhoseClientLeft() async throws {
        let server = try await Server()
        do {
            let client = try RawClient(port: server.port)
            try client.send(Self.post("/direct/1?gate", "a"))
            while server.calls("direct") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }  // the client is gone: its socket closed
        let stopping = server.shutDownInBackground()
        try await Task.sleep(for: .milliseconds(300))
        #expect(!server.ended.isSet, "the invocation under way is not cut short")
        server.counts.open()
        await stopping.value
        await server.stop()
        #expect(server.ended.isSet)
    }

    @Test func aClientLeavingMidBodyDoesNotHoldTheConnectionOrTheShutdown() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send("POST /direct/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nabcde")
        client.shutdownWrite()
        // Closed, with at most Hummingbird's 400 for the broken message; the request never ran.
        let rest = String(decoding: try await client.readToEnd(), as: UTF8.self)
        #expect(!rest.contains("direct"), "\(rest)")
        #expect(server.calls("direct") == 0)
        let stopping = server.shutDownInBackground()
        let deadline = ContinuousClock.now + .seconds(20)
        while !server.ended.isSet, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.ended.isSet, "the server stopped")
        await stopping.value
    }

    @Test func aShutdownWhileABodyIsGatheredLetsItFinishAndAnswer() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send("POST /direct/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcde")
        try await Task.sleep(for: .milliseconds(100))
        let stopping = server.shutDownInBackground()
        try await Task.sleep(for: .milliseconds(300))
        try client.send("fghij")
        let answer = try await client.readResponse()
        #expect(answer.body == "direct 1 abcdefghij")
        #expect(try await client.readToEnd().isEmpty)
        await stopping.value
        await server.stop()
    }

    @Test func nothingIsRunAfterAStreamedRequestThatClosesTheConnection() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/stream", "s", extra: "Connection: close\r\n") + Self.post("/direct/1", "a"))
        #expect(try await client.readResponse().body == "stream s")
        #expect(try await client.readToEnd().isEmpty)
        try await Task.sleep(for: .milliseconds(200))
        // NIO's decoder passes nothing on after a `Connection: close` request; DirectResponder
        // relies on that (this test is what would catch a decoder that did).
        #expect(server.calls("direct") == 0, "not run on a connection that was closing")
        await server.stop()
    }

    @Test func aRequestAfterAShutdownHandedToHummingbirdIsNotRunAndCutsNothing() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/stream?gate", "s"))
        while server.calls("stream") == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let stopping = server.shutDownInBackground()
        try await Task.sleep(for: .milliseconds(300))
        try client.send(Self.post("/direct/1", "a"))
        try await Task.sleep(for: .milliseconds(100))
        server.counts.open()
        // Hummingbird's answer whole, then the close; the request behind it never ran.
        #expect(try await client.readResponse().body == "stream s")
        #expect(try await client.readToEnd().isEmpty)
        #expect(server.calls("direct") == 0)
        await stopping.value
        await server.stop()
    }

    @Test func aHalfClosingClientGetsALargeAnswerWhole() async throws {
        let server = try await Server()
        let client = try RawClient(port: server.port)
        try client.send(Self.post("/direct-big", ""))
        client.shutdownWrite()
        // Not read for a while: most of the answer waits in the server's socket buffer.
        try await Task.sleep(for: .milliseconds(300))
        let answer = try await client.readResponse()
        #expect(answer.status == 200 && answer.body.utf8.count == Server.bigBody)
        #expect(try await client.readToEnd().isEmpty)
        await server.stop()
    }

    @Test func pathsMatchSegmentBySegment() {
        let pattern: [Substring] = ["v1", "functions", "*", "invoke"]
        #expect(DirectRoutes.matches("/v1/functions/f/invoke", pattern))
        #expect(DirectRoutes.matches("/v1/functions/f/invoke?qualifier=2", pattern))
        #expect(DirectRoutes.matches("/v1/functions/a%20b/invoke?x=/y", pattern))
        #expect(!DirectRoutes.matches("/v1/functions//invoke", pattern))
        #expect(!DirectRoutes.matches("/v1/functions/f/invoke/", pattern))
        #expect(!DirectRoutes.matches("/v1/functions/f/g/invoke", pattern))
        #expect(!DirectRoutes.matches("/v1/functions/f", pattern))
        #expect(!DirectRoutes.matches("/v1/functions/f/invokes", pattern))
        #expect(!DirectRoutes.matches("v1/functions/f/invoke", pattern))
        #expect(!DirectRoutes.matches(nil, pattern))
        #expect(!DirectRoutes.matches("/", pattern))
    }

    @Test func connectionCloseIsAnOptionAmongOthers() {
        #expect(DirectRoutes.hasCloseToken("close") && DirectRoutes.hasCloseToken("Close"))
        #expect(DirectRoutes.hasCloseToken("keep-alive, close") && DirectRoutes.hasCloseToken("TE ,CLOSE"))
        #expect(!DirectRoutes.hasCloseToken("keep-alive") && !DirectRoutes.hasCloseToken("closed") && !DirectRoutes.hasCloseToken(""))
    }

    @Test func theDateHeaderIsIMFFixdate() throws {
        let text = HTTPDate.now()
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let parsed = try #require(f.date(from: text), "\(text)")
        #expect(abs(parsed.timeIntervalSinceNow) < 2, "\(text)")
        #expect(f.string(from: parsed) == text)
    }
}

/// A blocking TCP client with a 30 s receive timeout, reading HTTP/1.1 answers with a
/// Content-Length.
final class RawClient: @unchecked Sendable {
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            sent += n
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more into `pending`; false at the end of the stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        pending += chunk[..<n]
        return n > 0
    }

    /// Reads on a thread of its own: a blocking read on Swift's cooperative pool (two threads
    /// here) would starve the server's tasks that the test process runs there too.
    func readResponse() async throws -> Answer { try await offPool { try self.readResponseBlocking() } }

    func readToEnd() async throws -> [UInt8] { try await offPool { try self.readToEndBlocking() } }

    private func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try work() }) }.start()
        }
    }

    private func readResponseBlocking() throws -> Answer {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            if pending.count >= 4 {
                headEnd = (0...(pending.count - 4)).first { pending[$0..<($0 + 4)].elementsEqual(separator) }
            }
            if headEnd == nil { guard try fill() else { throw POSIXError(.ECONNRESET) } }
        }
        let lines = String(decoding: pending[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let start = headEnd! + 4
        while pending.count < start + length { guard try fill() else { throw POSIXError(.ECONNRESET) } }
        let body = String(decoding: pending[start..<(start + length)], as: UTF8.self)
        pending.removeFirst(start + length)
        return Answer(status: status, headers: headers, body: body)
    }

    /// What remains until the peer closes.
    private func readToEndBlocking() throws -> [UInt8] {
        while try fill() {}
        defer { pending = [] }
        return pending
    }
}
