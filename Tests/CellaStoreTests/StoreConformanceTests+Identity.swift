import CellaModel
import Foundation
import Testing
@testable import CellaStore

extension StoreConformanceTests {
    @Test(arguments: Backend.allCases)
    func principalsAndCredentials(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            let alice = PrincipalRecord(tenant: "acme", name: "alice", kind: .user, tags: ["dept": "ops"], isAdmin: true, createdAtMs: 1)
            let bot = PrincipalRecord(tenant: "acme", name: "bot", kind: .serviceAccount, createdAtMs: 2)
            try await store.createPrincipal(bot)
            try await store.createPrincipal(alice)
            await expectStoreError(.conflict) { try await store.createPrincipal(alice) }
            await expectStoreError(.notFound) {
                try await store.createPrincipal(PrincipalRecord(tenant: "ghost", name: "x", kind: .user, createdAtMs: 1))
            }
            #expect(try await store.principal(tenant: "acme", name: "alice") == alice)
            #expect(try await store.principal(tenant: "other", name: "alice") == nil)
            #expect(try await store.principals(tenant: "acme") == [alice, bot])

            let secret = "hash-of-the-secret-0123456789abcdef"
            let key = CredentialRecord(id: "AKID1", kind: .apiKey, tenant: "acme", principal: "alice", secret: secret, createdAtMs: 10, expiresAtMs: 99_000)
            let access = CredentialRecord(id: "AKID2", kind: .accessKey, tenant: "acme", principal: "bot", secret: "s2", createdAtMs: 11)
            try await store.createCredential(key)
            try await store.createCredential(access)
            var clash = key
            clash.tenant = "other"
            clash.secret = "another-secret-value-42"
            let conflict = await expectStoreError(.conflict) {
                try await store.createPrincipal(PrincipalRecord(tenant: "other", name: "alice", kind: .user, createdAtMs: 1))
                try await store.createCredential(clash)
            }
            #expect(conflict?.message.contains("AKID1") == true)
            #expect(conflict.map { "\($0)".contains(clash.secret) || "\($0)".contains(secret) } == false)
            let missing = await expectStoreError(.notFound) {
                try await store.createCredential(CredentialRecord(id: "AKID3", kind: .apiKey, tenant: "acme", principal: "ghost", secret: secret, createdAtMs: 1))
            }
            #expect(missing.map { "\($0)".contains(secret) } == false)

            // Found by id alone, whatever the tenant.
            #expect(try await store.credential(id: "AKID1") == key)
            #expect(try await store.credential(id: "nope") == nil)
            #expect(try await store.credentials(tenant: "acme", principal: nil) == [key, access])
            #expect(try await store.credentials(tenant: "acme", principal: "bot") == [access])
            #expect(try await store.credentials(tenant: "other", principal: nil).isEmpty)

            #expect(try await store.revokeCredential(tenant: "other", id: "AKID1", nowMs: 50) == false)
            #expect(try await store.revokeCredential(tenant: "acme", id: "AKID1", nowMs: 50))
            #expect(try await store.revokeCredential(tenant: "acme", id: "AKID1", nowMs: 60) == false)
            #expect(try await store.credential(id: "AKID1")?.revokedAtMs == 50)

            #expect(try await store.deletePrincipal(tenant: "acme", name: "bot"))
            #expect(try await store.deletePrincipal(tenant: "acme", name: "bot") == false)
            #expect(try await store.credential(id: "AKID2") == nil)
            #expect(try await store.principals(tenant: "acme") == [alice])
        }
    }

    @Test(arguments: Backend.allCases)
    func policiesAndAttachments(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "other"])
            try await store.createPrincipal(PrincipalRecord(tenant: "acme", name: "alice", kind: .user, createdAtMs: 1))
            try await store.createPrincipal(PrincipalRecord(tenant: "acme", name: "bob", kind: .user, createdAtMs: 1))
            // Kept byte for byte, spacing and key order included.
            let document = #"{ "Version": "2012-10-17",  "Statement": [{"Effect":"Allow","Action":"lambda:*","Resource":"*"}] }"#
            let read = PolicyRecord(tenant: "acme", name: "read", document: document, updatedAtMs: 1)
            let write = PolicyRecord(tenant: "acme", name: "write", document: "{}", updatedAtMs: 1)
            try await store.putPolicy(write)
            try await store.putPolicy(read)
            await expectStoreError(.notFound) { try await store.putPolicy(PolicyRecord(tenant: "ghost", name: "p", document: "{}", updatedAtMs: 1)) }
            #expect(try await store.policy(tenant: "acme", name: "read") == read)
            #expect(try await store.policy(tenant: "other", name: "read") == nil)
            let rewritten = PolicyRecord(tenant: "acme", name: "write", document: #"{"Statement":[]}"#, updatedAtMs: 5)
            try await store.putPolicy(rewritten)
            #expect(try await store.policies(tenant: "acme") == [read, rewritten])

            try await store.attachPolicy(tenant: "acme", policy: "write", principal: "alice")
            try await store.attachPolicy(tenant: "acme", policy: "read", principal: "alice")
            try await store.attachPolicy(tenant: "acme", policy: "read", principal: "alice")
            try await store.attachPolicy(tenant: "acme", policy: "read", principal: "bob")
            await expectStoreError(.notFound) { try await store.attachPolicy(tenant: "acme", policy: "ghost", principal: "alice") }
            await expectStoreError(.notFound) { try await store.attachPolicy(tenant: "acme", policy: "read", principal: "ghost") }
            await expectStoreError(.notFound) { try await store.attachPolicy(tenant: "other", policy: "read", principal: "alice") }
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "alice") == [read, rewritten])
            #expect(try await store.attachedPolicies(tenant: "other", principal: "alice").isEmpty)

            #expect(try await store.detachPolicy(tenant: "acme", policy: "write", principal: "alice"))
            #expect(try await store.detachPolicy(tenant: "acme", policy: "write", principal: "alice") == false)
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "alice") == [read])
            #expect(try await store.deletePolicy(tenant: "acme", name: "read"))
            #expect(try await store.deletePolicy(tenant: "acme", name: "read") == false)
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "alice").isEmpty)
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "bob").isEmpty)
            // Deleting a principal takes its attachments.
            try await store.attachPolicy(tenant: "acme", policy: "write", principal: "bob")
            #expect(try await store.deletePrincipal(tenant: "acme", name: "bob"))
            try await store.createPrincipal(PrincipalRecord(tenant: "acme", name: "bob", kind: .user, createdAtMs: 2))
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "bob").isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func deleteTenantTakesEverythingItOwns(_ backend: Backend) async throws {
        try await withStore(backend) { store in
            try await Fixture.seed(store, tenants: ["acme", "keep"])
            for tenant in ["acme", "keep"] {
                try await store.createFunction(Fixture.function(tenant, "fn"))
                _ = try await store.publishVersion(tenant: tenant, name: "fn", description: "", nowMs: 1)
                try await store.putAlias(AliasRecord(tenant: tenant, function: "fn", name: "live", version: "1", updatedAtMs: 1))
                _ = try await store.enqueue(Fixture.invocation("inv-\(tenant)", tenant: tenant))
                try await store.appendRecords([Fixture.record("rec-\(tenant)", tenant: tenant, startMs: 5)])
                try await store.appendLogs([Fixture.log("rec-\(tenant)", "hello", tenant: tenant, timeMs: 5)])
                try await store.createPrincipal(PrincipalRecord(tenant: tenant, name: "p", kind: .user, createdAtMs: 1))
                try await store.createCredential(CredentialRecord(id: "key-\(tenant)", kind: .apiKey, tenant: tenant, principal: "p", secret: "h", createdAtMs: 1))
                try await store.putPolicy(PolicyRecord(tenant: tenant, name: "pol", document: "{}", updatedAtMs: 1))
                try await store.attachPolicy(tenant: tenant, policy: "pol", principal: "p")
            }
            #expect(try await store.deleteTenant("acme"))
            #expect(try await store.tenant("acme") == nil)
            #expect(try await store.functions(tenant: "acme").isEmpty)
            #expect(try await store.versions(tenant: "acme", name: "fn").isEmpty)
            #expect(try await store.aliases(tenant: "acme", function: "fn").isEmpty)
            #expect(try await store.invocation(tenant: "acme", id: "inv-acme") == nil)
            #expect(try await store.records(InvocationQuery(tenant: "acme")).isEmpty)
            #expect(try await store.logs(InvocationQuery(tenant: "acme")).isEmpty)
            #expect(try await store.principals(tenant: "acme").isEmpty)
            #expect(try await store.credential(id: "key-acme") == nil)
            #expect(try await store.policies(tenant: "acme").isEmpty)
            #expect(try await store.attachedPolicies(tenant: "acme", principal: "p").isEmpty)
            #expect(try await store.queueDepth() == 1)

            // The other tenant keeps all of its own; bundles are shared and stay.
            #expect(try await store.functions(tenant: "keep").count == 1)
            #expect(try await store.versions(tenant: "keep", name: "fn").count == 1)
            #expect(try await store.aliases(tenant: "keep", function: "fn").count == 1)
            #expect(try await store.invocation(tenant: "keep", id: "inv-keep") != nil)
            #expect(try await store.records(InvocationQuery(tenant: "keep")).count == 1)
            #expect(try await store.logs(InvocationQuery(tenant: "keep")).count == 1)
            #expect(try await store.credential(id: "key-keep") != nil)
            #expect(try await store.attachedPolicies(tenant: "keep", principal: "p").count == 1)
            #expect(try await store.hasBundle(digest: Fixture.digest))
            // The id is free again.
            try await store.createTenant(TenantRecord(id: "acme", createdAtMs: 9))
            #expect(try await store.functions(tenant: "acme").isEmpty)
        }
    }
}
