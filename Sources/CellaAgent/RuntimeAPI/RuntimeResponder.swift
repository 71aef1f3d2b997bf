import NIOCore
import NIOHTTP1

/// Answers one Runtime API request, from any thread: the write hops to the connection's event
/// loop. A `GET /next` keeps its responder until an invocation arrives (the long poll).
struct RuntimeResponder: Sendable {
    let channel: any Channel
    let keepAlive: Bool

    func send(_ status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer? = nil) {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        let channel = self.channel
        let keepAlive = self.keepAlive
        let write: @Sendable () -> Void = {
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            if let body { channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil) }
            let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        }
        if channel.eventLoop.inEventLoop { write() } else { channel.eventLoop.execute(write) }
    }

    /// `{"errorMessage": ..., "errorType": ...}`, the Runtime API's error shape.
    func sendError(_ status: HTTPResponseStatus, type: String, message: String) {
        let json = #"{"errorMessage":"\#(JSONText.escape(message))","errorType":"\#(JSONText.escape(type))"}"#
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        send(status, headers: headers, body: ByteBuffer(string: json))
    }
}

/// Small JSON text helpers for hand-built bodies on hot paths (and for quoting untrusted names in
/// messages: control characters and DEL come out escaped).
enum JSONText {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
