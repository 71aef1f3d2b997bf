import ArgumentParser
import Foundation

/// A failure of a client command, with the exit status it maps to (docs/cli.md, Exit codes) and a
/// hint saying what to do about it.
struct ClientError: Error, CustomStringConvertible, Sendable {
    /// Why the command failed; decides the exit status. Raw values are the documented statuses.
    enum Kind: Int32, Sendable {
        /// The function ran and failed (`X-Cella-Function-Error`).
        case function = 1
        /// The command line, a file it names, or the configuration is wrong.
        case usage = 2
        /// The platform refused or failed the call, or could not be reached.
        case api = 3
    }

    var kind: Kind
    var message: String
    var hint: String?
    /// The API's stable error code (`ResourceNotFound`, ...), when the API answered with one.
    var code: String?
    /// The HTTP status, when there was an answer.
    var status: Int?

    init(_ kind: Kind, _ message: String, hint: String? = nil, code: String? = nil, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.code = code
        self.status = status
    }

    static func usage(_ message: String, hint: String? = nil) -> ClientError { .init(.usage, message, hint: hint) }

    var description: String { message }

    /// Builds the error for an API answer: `{"code","message"}` when the body has them, with a hint
    /// chosen by status and code.
    static func api(status: Int, body: [UInt8]) -> ClientError {
        var code: String?
        var message = "the API answered \(status)"
        if let value = try? JSONValue.parse(body), case .object(let fields) = value {
            if case .string(let c)? = fields["code"] { code = c }
            if case .string(let m)? = fields["message"] { message = m }
            if case .string(let reason)? = fields["reason"] { message += " (\(reason))" }
        } else if let text = String(validating: body, as: UTF8.self), !text.isEmpty {
            message = "the API answered \(status): \(text.prefix(300))"
        }
        return ClientError(.api, message, hint: hint(status: status, code: code), code: code, status: status)
    }

    static func hint(status: Int, code: String?) -> String? {
        switch (status, code) {
        case (401, _): return "run `cella login` again, or pass a valid --key (or $CELLA_KEY)"
        case (403, _): return "this call needs the operator's key or a policy that allows it"
        case (404, _): return "check the name (`cella fn ls` lists functions) and the tenant (--tenant)"
        case (409, _): return "the name is taken or another update came first; fetch it again and retry"
        case (413, _): return "make the request smaller (events: 6 MB sync, 1 MB async; bundles: 50 MB)"
        case (429, _): return "wait a moment and retry, or raise the quota"
        case (503, "NoNodes"?): return "no node agent is registered; start one (`cella agent --controller URL`) or use `cella up`"
        case (400, _): return "fix the value the message names"
        case (500..., _): return "the platform failed; see the controller's log"
        default: return nil
        }
    }

    /// Prints `error: MESSAGE` and the hint to stderr.
    func report() {
        var text = "error: \(message)\n"
        if let hint { text += "hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Runs a client command's body: a `ClientError` is reported and becomes its exit status; any
/// other error is reported as a platform error (status 3).
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        error.report()
        throw ExitCode(error.kind.rawValue)
    } catch let error as ExitCode {
        throw error
    } catch {
        ClientError(.api, "\(error)").report()
        throw ExitCode(ClientError.Kind.api.rawValue)
    }
}
