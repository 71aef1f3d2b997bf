import ArgumentParser
import AsyncHTTPClient
import CellaIAM
import Foundation
import NIOCore

/// `cella policy`: policy tools.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Put, get, list, delete, attach, detach and simulate IAM policies.",
        subcommands: [PolicyPut.self, PolicyGet.self, PolicyList.self, PolicyRemove.self, PolicyAttach.self,
                      PolicyDetach.self, PolicySimulateCommand.self]
    )
}

/// `cella policy simulate`: what would Cella decide? Offline over policy files (like `aws iam
/// simulate-custom-policy`), or on the server over a principal's attached policies.
struct PolicySimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Print the decision (allowed, explicitDeny, implicitDeny) for an action on a resource.",
        discussion: """
            Exit status: 0 allowed, 1 denied, 2 invalid input (a bad policy, action, or context). \
            With --policy-file (repeatable) nothing is sent anywhere; with --principal the server \
            decides over the principal's attached policies (POST /v1/policies/simulate).
            """
    )

    @Option(help: "The action, e.g. cella:InvokeFunction or lambda:InvokeFunction.")
    var action: String

    @Option(help: "The resource, e.g. crn:cella:acme:function:resize.")
    var resource: String

    @Option(name: .customLong("condition"), help: ArgumentHelp("A condition key and value, e.g. cella:SourceIp=10.0.0.1 (repeatable).", valueName: "key=value"))
    var contextValues: [String] = []

    @Option(name: .customLong("policy-file"), help: ArgumentHelp("A policy document to evaluate offline (repeatable).", valueName: "file"))
    var policyFiles: [String] = []

    @Option(help: "On the server: the principal whose attached policies decide.")
    var principal: String?

    @Option(help: "Offline: the principal's name (default: simulated).")
    var principalName = "simulated"

    /// On the server: where, with which key (allowed cella:SimulatePolicy) and in which tenant;
    /// offline, `--tenant` is the principal's tenant (default: the resource's).
    @OptionGroup var client: ClientOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "text or json.")
    var output = "text"

    struct Result: Encodable {
        var decision: String
        var statement: String?
    }

    func run() async throws {
        guard (policyFiles.isEmpty) != (principal == nil) else {
            fail("give either --policy-file (offline) or --principal (on the server)")
        }
        guard output == "text" || output == "json" else { fail("-o: text or json") }
        var values: [String: [String]] = [:]
        for pair in contextValues {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { fail("--condition \(pair): expected key=value") }
            values[String(pair[..<eq]), default: []].append(String(pair[pair.index(after: eq)...]))
        }
        let result: Result
        if let principal {
            result = try await online(principal: principal, values: values)
        } else {
            guard let action = Action(named: action) else { fail("--action \(action) is not a Cella action") }
            var policies: [CompiledPolicy] = []
            for file in policyFiles {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { fail("cannot read \(file)") }
                do { policies.append(try CompiledPolicy(id: file, document: text)) } catch { fail("\(file): \(error)") }
            }
            let tenantId = client.tenant ?? CellaResourceName(resource)?.tenant ?? "default"
            var request = RequestContext(action: action, resource: resource, tenantId: tenantId, principalName: principalName, conditionValues: values)
            request.setRequestTime(Date())
            let decision = PolicyEvaluator.evaluate(request, policies: policies)
            result = Result(decision: decision.outcome.rawValue, statement: decision.statement.map { "\($0)" })
        }
        if output == "json" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(result.decision + (result.statement.map { $0.isEmpty ? "" : "  (\($0))" } ?? ""))
        }
        if result.decision != "allowed" { throw ExitCode(1) }
    }

    func online(principal: String, values: [String: [String]]) async throws -> Result {
        let target: ClientOptions.Resolved
        do { target = try client.resolve() } catch {
            fail("\(error.message)\(error.hint.map { "\nhint: \($0)" } ?? "")")
        }
        var request = HTTPClientRequest(url: target.endpoint + "/v1/policies/simulate")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(target.key)")
        if let tenant = target.tenant { request.headers.add(name: "X-Cella-Tenant", value: tenant) }
        request.headers.add(name: "Content-Type", value: "application/json")
        let body: [String: Any] = ["principal": principal, "action": action, "resource": resource, "context": values]
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
        guard response.status.code == 200, let decision = json["decision"] as? String else {
            FileHandle.standardError.write(Data("error: \(json["message"] as? String ?? "the server answered \(response.status.code)")\n".utf8))
            throw ExitCode(response.status.code == 400 ? 2 : 3)
        }
        return Result(decision: decision, statement: json["statement"] as? String)
    }

    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
