import CellaAuth
import CellaModel
import Crypto
import Foundation

/// (b) SigV4 verification of a Lambda Invoke with a 1 KB body, as botocore sends it: Host with
/// a port, X-Amz-Date, the invocation headers, an ARN function name percent-encoded in the path,
/// and no X-Amz-Content-Sha256 (so the body is hashed). The signing key is cached after the first
/// request, as it is in service.
enum SigV4Benchmark {
    static func run(iterations: Int) async throws -> Measurement {
        let body = Array(repeating: UInt8(ascii: "x"), count: 1_024)
        let credential = SigV4Credential(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                         principalId: "alice")
        let headers: [(name: String, value: String)] = [
            (name: "Host", value: "127.0.0.1:9001"),
            (name: "X-Amz-Date", value: "20150830T123600Z"),
            (name: "X-Amz-Invocation-Type", value: "RequestResponse"),
            (name: "X-Amz-Log-Type", value: "Tail"),
            (name: "Content-Length", value: "1024"),
            (name: "User-Agent", value: "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7"),
        ]
        let unsigned = SigV4Request(
            method: "POST",
            target: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3Aacme%3Afunction%3Amy-function/invocations?Qualifier=%24LATEST",
            headers: headers)
        let authorization = try SigV4Signer.authorization(
            for: unsigned, payloadHash: Bytes.hexString(SHA256.hash(data: body)),
            signedHeaders: ["host", "x-amz-date", "x-amz-invocation-type", "x-amz-log-type"],
            accessKeyId: credential.accessKeyId, secret: credential.secretAccessKey, scopeDate: "20150830",
            region: "us-east-1", service: "lambda")
        var request = unsigned
        request.headers.append((name: "Authorization", value: authorization))
        let now = Date(timeIntervalSince1970: 1_440_938_160)
        let verifier = SigV4Verifier(credentials: StaticCredentialProvider([credential]),
                                     configuration: .init(service: "lambda"))

        var measurement = Measurement(name: "SigV4 verification, 1 KB body", goalMicroseconds: 20)
        let clock = ContinuousClock()
        for round in 0..<(iterations + iterations / 10) {
            let start = clock.now
            let identity = try await verifier.verify(request, body: body, now: now)
            let elapsed = clock.now - start
            precondition(identity.principalId == "alice")
            if round >= iterations / 10 { measurement.record(elapsed) }
        }
        return measurement
    }
}
