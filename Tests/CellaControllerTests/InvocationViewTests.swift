import CellaStore
import Foundation
import Testing

@testable import CellaController

/// `GET /v1/invocations/{id}` splices a function's answer into its JSON only when the answer is
/// one whole JSON value; anything else (text, a value with more after it) comes back as base64,
/// so no answer can add fields to the view.
@Suite struct InvocationViewTests {
    static func view(result: String) throws -> [String: Any] {
        var queued = QueuedInvocation(
            id: "inv-1", tenant: "default", function: "fn", qualifier: "$LATEST", payload: Array("{}".utf8),
            idempotencyKey: nil, maxAttempts: 3, nextAttemptAtMs: 0, createdAtMs: 1, updatedAtMs: 2)
        queued.status = .succeeded
        queued.result = Array(result.utf8)
        let bytes = try InvocationView(queued).json()
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], "\(String(decoding: bytes, as: UTF8.self))")
    }

    @Test func aJSONAnswerIsSplicedAndAnythingElseIsBase64() throws {
        for answer in [#"{"ok":true,"n":[1,2.5,null]}"#, #""text""#, "42", "null", " [ ] "] {
            let view = try Self.view(result: answer)
            #expect(view["resultBase64"] == nil && view["result"] != nil, "\(answer): \(view)")
        }
        for answer in ["plain text", #"{"a":1},"status":"failed""#, #"{"a":1} {"b":2}"#, #""unterminated"#, "{'a':1}", ""] {
            let view = try Self.view(result: answer)
            #expect(view["result"] == nil && view["status"] as? String == "succeeded", "\(answer): \(view)")
            #expect((view["resultBase64"] as? String).flatMap { Data(base64Encoded: $0) } == Data(answer.utf8), "\(answer): \(view)")
        }
        // Spliced in, an answer 500 deep makes a view Foundation still reads; one deeper is base64.
        let nested = { (n: Int) in String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        #expect(try Self.view(result: nested(500))["result"] != nil)
        #expect(try Self.view(result: nested(501))["resultBase64"] != nil)
    }
}
