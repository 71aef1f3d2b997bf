import CellaIAM
import Foundation

/// (a) One authorization decision against 20 compiled policies of 10 statements each.
///
/// The statements mix what tenants write: action wildcards and lists, `lambda:` names, resource
/// prefixes and `?` patterns, a policy variable, `Deny` statements, and conditions
/// (`NotIpAddress`, `DateGreaterThan`, `StringEquals`, `IpAddress`). None applies to the request
/// except the last statement of the last policy, so every statement is examined (an `Allow` found
/// earlier would let later ones be skipped) and the six conditions per policy that sit behind a
/// matching action and resource are evaluated.
enum PolicyBenchmark {
    static func policies() throws -> [CompiledPolicy] {
        try (0..<20).map { index in
            try CompiledPolicy(id: "policy-\(index)", document: document(index, last: index == 19))
        }
    }

    static func request() -> RequestContext {
        var context = RequestContext(
            action: .invokeFunction, resource: "crn:cella:acme:function:target-fn", tenantId: "acme",
            principalName: "alice", principalType: "user",
            conditionValues: [ConditionKey.sourceIp: ["10.1.2.3"], ConditionKey.invocationType: ["RequestResponse"]])
        context.setRequestTime(Date(timeIntervalSince1970: 1_767_225_600))
        return context
    }

    /// Building the request context (which parses the address and time values once) and then
    /// evaluating: what one authorization costs the controller, beyond evaluation alone.
    static func runWithContext(iterations: Int) throws -> Measurement {
        let policies = try policies()
        var measurement = Measurement(name: "IAM request context + evaluation", goalMicroseconds: 5)
        let clock = ContinuousClock()
        let now = Date(timeIntervalSince1970: 1_767_225_600)
        for round in 0..<(iterations + iterations / 10) {
            let start = clock.now
            var context = RequestContext(
                action: .invokeFunction, resource: "crn:cella:acme:function:target-fn", tenantId: "acme",
                principalName: "alice", principalType: "user",
                conditionValues: [ConditionKey.sourceIp: ["10.1.2.3"], ConditionKey.invocationType: ["RequestResponse"]])
            context.setRequestTime(now)
            let result = PolicyEvaluator.evaluate(context, policies: policies)
            let elapsed = clock.now - start
            precondition(result.isAllowed)
            if round >= iterations / 10 { measurement.record(elapsed) }
        }
        return measurement
    }

    static func run(iterations: Int) throws -> Measurement {
        let policies = try policies()
        let context = request()
        let decision = PolicyEvaluator.evaluate(context, policies: policies)
        guard decision.outcome == .allowed, decision.statement?.description == "policy-19/P19S9" else {
            fatalError("unexpected decision \(decision)")
        }
        var measurement = Measurement(name: "IAM evaluation, 20 policies x 10 statements", goalMicroseconds: 5)
        let clock = ContinuousClock()
        var allowed = 0
        for round in 0..<(iterations + iterations / 10) {
            let start = clock.now
            let result = PolicyEvaluator.evaluate(context, policies: policies)
            let elapsed = clock.now - start
            if result.isAllowed { allowed += 1 }
            if round >= iterations / 10 { measurement.record(elapsed) }
        }
        precondition(allowed == iterations + iterations / 10)
        return measurement
    }

    private static func document(_ index: Int, last: Bool) -> String {
        let finalStatement = last
            ? #"{"Sid":"P\#(index)S9","Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"crn:cella:acme:function:target-fn","Condition":{"IpAddress":{"cella:SourceIp":"10.0.0.0/8"}}}"#
            : #"{"Sid":"P\#(index)S9","Effect":"Allow","Action":"cella:InvokeFunction","Resource":"crn:cella:acme:function:team\#(index)-??"}"#
        let statements = [
            #"{"Sid":"P\#(index)S0","Effect":"Allow","Action":["cella:Get*","cella:List*"],"Resource":"crn:cella:acme:function:team\#(index)-*"}"#,
            #"{"Sid":"P\#(index)S1","Effect":"Allow","Action":["lambda:CreateFunction","lambda:UpdateFunctionCode"],"Resource":"*"}"#,
            #"{"Sid":"P\#(index)S2","Effect":"Allow","Action":"cella:InvokeFunction","Resource":"crn:cella:acme:function:team\#(index)-*"}"#,
            #"{"Sid":"P\#(index)S3","Effect":"Deny","Action":"cella:DeleteFunction","Resource":"crn:cella:acme:function:prod-*"}"#,
            #"{"Sid":"P\#(index)S4","Effect":"Allow","Action":"cella:InvokeFunction","Resource":"crn:cella:acme:function:${cella:PrincipalName}-\#(index)-*"}"#,
            #"{"Sid":"P\#(index)S5","Effect":"Allow","Action":"cella:*","Resource":"crn:cella:acme:function:svc\#(index)-*","Condition":{"StringEquals":{"cella:InvocationType":"Event"}}}"#,
            #"{"Sid":"P\#(index)S6","Effect":"Deny","Action":"cella:InvokeFunction","Resource":"*","Condition":{"NotIpAddress":{"cella:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}"#,
            #"{"Sid":"P\#(index)S7","Effect":"Allow","Action":"cella:InvokeFunction","Resource":"crn:cella:acme:function:*","Condition":{"DateGreaterThan":{"cella:CurrentTime":"2031-01-01T00:00:00Z"}}}"#,
            #"{"Sid":"P\#(index)S8","Effect":"Allow","Action":["cella:ManageKeys","cella:ManagePolicies"],"Resource":"crn:cella:acme:key:*"}"#,
            finalStatement,
        ]
        return #"{"Version":"2012-10-17","Statement":[\#(statements.joined(separator: ","))]}"#
    }
}
