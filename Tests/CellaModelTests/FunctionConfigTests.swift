import CellaModel
import Foundation
import Testing

@Suite struct FunctionConfigTests {
    static let valid = FunctionConfig(name: "hello-1", runtime: "python3.11", handler: "app.handler")

    @Test func defaultsAreValid() throws {
        try Self.valid.validate()
    }

    @Test func decodingFillsLambdaDefaults() throws {
        let json = #"{"name":"f","runtime":"provided"}"#
        let config = try JSONDecoder().decode(FunctionConfig.self, from: Data(json.utf8))
        #expect(config.memoryMB == 128)
        #expect(config.timeoutSeconds == 3)
        #expect(config.environment.isEmpty)
        #expect(config.reservedConcurrency == nil)
    }

    static func changed(_ change: (inout FunctionConfig) -> Void) -> FunctionConfig {
        var config = valid
        change(&config)
        return config
    }

    static let invalid: [(FunctionConfig, String)] = [
        (changed { $0.name = "" }, "name"),
        (changed { $0.name = "has space" }, "name"),
        (changed { $0.name = String(repeating: "a", count: 65) }, "name"),
        (changed { $0.runtime = "py/../x" }, "runtime"),
        (changed { $0.handler = "app handler" }, "handler"),
        (changed { $0.memoryMB = 127 }, "memoryMB"),
        (changed { $0.memoryMB = 10241 }, "memoryMB"),
        (changed { $0.timeoutSeconds = 0 }, "timeoutSeconds"),
        (changed { $0.timeoutSeconds = 901 }, "timeoutSeconds"),
        (changed { $0.reservedConcurrency = -1 }, "reservedConcurrency"),
        (changed { $0.environment = ["AWS_REGION": "x"] }, "environment.AWS_REGION"),
        (changed { $0.environment = ["1BAD": "x"] }, "environment.1BAD"),
        (changed { $0.environment = ["BIG": String(repeating: "x", count: 4100)] }, "environment"),
    ]

    @Test(arguments: invalid)
    func invalidConfigsNameTheirField(config: FunctionConfig, field: String) {
        #expect(throws: ModelError.self) { try config.validate() }
        do { try config.validate() } catch { #expect(error.field == field) }
    }

    @Test func boundariesAreInclusive() throws {
        var config = Self.valid
        config.memoryMB = 10240
        config.timeoutSeconds = 900
        config.reservedConcurrency = 0
        try config.validate()
    }

    @Test func billingRoundsUpToWholeMilliseconds() {
        #expect(InvocationRecord.billed(0.2) == 1)
        #expect(InvocationRecord.billed(1.0) == 1)
        #expect(InvocationRecord.billed(1.01) == 2)
        #expect(InvocationRecord.billed(2999.5) == 3000)
    }
}
