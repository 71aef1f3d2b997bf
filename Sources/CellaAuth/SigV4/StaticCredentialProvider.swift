/// A fixed set of credentials: for tests, benchmarks and single-user setups.
public struct StaticCredentialProvider: SigV4CredentialProvider {
    private let credentials: [String: SigV4Credential]

    public init(_ credentials: [SigV4Credential]) {
        self.credentials = Dictionary(credentials.map { ($0.accessKeyId, $0) }, uniquingKeysWith: { _, last in last })
    }

    public func credential(forAccessKeyId accessKeyId: String) async throws -> SigV4Credential? {
        credentials[accessKeyId]
    }
}
