/// Reads a policy document, checks it against the grammar of PROTOCOLS.md §4 and compiles it.
///
/// Everything is checked in one walk so that each error can name the JSON path it was found at.
/// Choices beyond the bare grammar, all made so that a policy that is accepted means what it
/// says:
/// - `Version` is required (AWS defaults a missing one to 2008-10-17, where variables are plain
///   text; here a variable in a 2008-10-17 document is an error instead of a literal `${`).
/// - `Id` (optional string) is accepted as in AWS's grammar and ignored; `Principal` and
///   `NotPrincipal` are rejected, as IAM rejects them in identity policies.
/// - `Sid` is ASCII letters and digits and unique within the document, as IAM requires.
/// - Every action must match at least one operation in the ``Action`` catalogue, so a misspelt
///   name or service is rejected instead of never matching.
/// - A resource is `*` or a `crn:` pattern; one without wildcards or variables must be a valid
///   ``CellaResourceName``. Lambda ARNs are not accepted in policies (requests map them to `crn:`).
struct PolicyParser {
    let version: PolicyVersion

    /// Parses and compiles `text`.
    static func parse(_ text: String, options: PolicyOptions) throws(IAMError) -> (PolicyVersion, [CompiledStatement]) {
        try checkSize(text, options: options)
        let root = try StrictJSONParser.parse(text)
        guard case .object(let members) = root else {
            throw IAMError(.invalidType, path: "", "a policy must be a JSON object, got \(root.typeName)")
        }
        let rootPath = JSONPath()
        let elements = try Self.elements(members, allowed: ["Version", "Id", "Statement"], path: rootPath)
        guard let versionValue = elements["Version"] else {
            throw IAMError(.missingElement, path: "", "\"Version\" is required (\"2012-10-17\")")
        }
        let versionPath = rootPath.appending(key: "Version")
        guard case .string(let versionText) = versionValue else {
            throw IAMError(.invalidType, path: versionPath.description, "Version must be a string")
        }
        guard let version = PolicyVersion(rawValue: versionText) else {
            throw IAMError(.invalidVersion, path: versionPath.description,
                           "Version must be \"2012-10-17\" or \"2008-10-17\", got \"\(versionText)\"")
        }
        switch elements["Id"] {
        case nil, .string?: break
        default: throw IAMError(.invalidType, path: "Id", "Id must be a string")
        }
        guard let statementValue = elements["Statement"] else {
            throw IAMError(.missingElement, path: "", "\"Statement\" is required")
        }
        let parser = PolicyParser(version: version)
        let statements = try parser.parseStatements(statementValue, path: rootPath.appending(key: "Statement"))
        return (version, statements)
    }

    /// The whitespace-free length limit (IAM does not count whitespace), and a raw byte cap that
    /// bounds the parser's work on whitespace padding.
    private static func checkSize(_ text: String, options: PolicyOptions) throws(IAMError) {
        let bytes = text.utf8.count
        guard bytes <= options.maxBytes else {
            throw IAMError(.policyTooLarge, path: "", "the document is \(bytes) bytes; the limit is \(options.maxBytes)")
        }
        var characters = 0
        for scalar in text.unicodeScalars where !(scalar.isASCII && StrictJSONParser.isWhitespace(UInt8(scalar.value))) {
            characters += 1
        }
        guard characters <= options.maxCharacters else {
            throw IAMError(.policyTooLarge, path: "",
                           "the document has \(characters) characters besides whitespace; the limit is \(options.maxCharacters)")
        }
    }

    private func parseStatements(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [CompiledStatement] {
        var items: [(JSONValue, JSONPath)] = []
        switch value {
        case .object:
            items = [(value, path)]
        case .array(let array):
            guard !array.isEmpty else {
                throw IAMError(.invalidType, path: path.description, "Statement must not be empty")
            }
            items = array.enumerated().map { ($0.element, path.appending(index: $0.offset)) }
        default:
            throw IAMError(.invalidType, path: path.description,
                           "Statement must be an object or an array of objects, got \(value.typeName)")
        }
        var statements: [CompiledStatement] = []
        var sids: Set<String> = []
        for (index, (item, itemPath)) in items.enumerated() {
            let statement = try parseStatement(item, index: index, path: itemPath)
            if let sid = statement.sid, !sids.insert(sid).inserted {
                throw IAMError(.duplicateSid, path: itemPath.appending(key: "Sid").description,
                               "Sid \"\(sid)\" is used by an earlier statement")
            }
            statements.append(statement)
        }
        return statements
    }

    private func parseStatement(_ value: JSONValue, index: Int, path: JSONPath) throws(IAMError) -> CompiledStatement {
        guard case .object(let members) = value else {
            throw IAMError(.invalidType, path: path.description, "a statement must be an object, got \(value.typeName)")
        }
        let allowed: Set<String> = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]
        let elements = try Self.elements(members, allowed: allowed, path: path)
        let sid = try parseSid(elements["Sid"], path: path.appending(key: "Sid"))
        let effect = try parseEffect(elements["Effect"], path: path)
        let (actionKey, actionValue) = try Self.exclusive("Action", "NotAction", in: elements, path: path)
        let actionPatterns = try parseActions(actionValue, path: path.appending(key: actionKey))
        let (resourceKey, resourceValue) = try Self.exclusive("Resource", "NotResource", in: elements, path: path)
        let resources = try parseResources(resourceValue, path: path.appending(key: resourceKey))
        var conditions: [CompiledCondition] = []
        if let condition = elements["Condition"] {
            conditions = try parseCondition(condition, path: path.appending(key: "Condition"))
        }
        return CompiledStatement(
            index: index, sid: sid, effect: effect,
            actionMask: CompiledStatement.actionMask(patterns: actionPatterns, negated: actionKey == "NotAction"),
            resources: resources, resourcesNegated: resourceKey == "NotResource",
            conditions: conditions
        )
    }

    private func parseSid(_ value: JSONValue?, path: JSONPath) throws(IAMError) -> String? {
        guard let value else { return nil }
        guard case .string(let sid) = value else {
            throw IAMError(.invalidType, path: path.description, "Sid must be a string")
        }
        guard !sid.isEmpty, sid.utf8.allSatisfy(Self.isASCIIAlphanumeric) else {
            throw IAMError(.invalidSid, path: path.description, "Sid must be ASCII letters and digits, got \"\(sid)\"")
        }
        return sid
    }

    private func parseEffect(_ value: JSONValue?, path: JSONPath) throws(IAMError) -> Effect {
        guard let value else {
            throw IAMError(.missingElement, path: path.description, "\"Effect\" is required")
        }
        let effectPath = path.appending(key: "Effect").description
        guard case .string(let text) = value else {
            throw IAMError(.invalidType, path: effectPath, "Effect must be a string")
        }
        guard let effect = Effect(rawValue: text) else {
            throw IAMError(.invalidEffect, path: effectPath, "Effect must be \"Allow\" or \"Deny\", got \"\(text)\"")
        }
        return effect
    }

    private func parseActions(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [WildcardPattern] {
        var patterns: [WildcardPattern] = []
        for (text, itemPath) in try Self.strings(value, path: path) {
            let pattern = WildcardPattern(units: WildcardPattern.units(wildcardText: text.lowercased()))
            guard Action.catalogueContains(match: pattern) else {
                throw IAMError(.invalidAction, path: itemPath.description,
                               "\"\(text)\" matches no Cella action (cella:Name or lambda:Name, or a wildcard)")
            }
            patterns.append(pattern)
        }
        return patterns
    }

    private func parseResources(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [PolicyTemplate] {
        var templates: [PolicyTemplate] = []
        for (text, itemPath) in try Self.strings(value, path: path) {
            if text.hasPrefix("arn:") {
                throw IAMError(.invalidResource, path: itemPath.description,
                               "policies name resources as crn:cella:{tenant}:function:{name}, not ARNs")
            }
            guard text.hasPrefix("crn:") || text == "*" else {
                throw IAMError(.invalidResource, path: itemPath.description,
                               "a resource must be \"*\" or a crn:cella:... pattern, got \"\(text)\"")
            }
            let template = try PolicyTemplate(parsing: text, wildcards: true,
                                              variables: version.allowsVariables, path: itemPath)
            if let fixed = template.fixedUnits, !fixed.contains(where: { $0 > 0xFF }) {
                // No wildcard: the text (after `${$}`-style escapes) must be a real name.
                let literal = String(decoding: fixed.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
                do throws(IAMError) {
                    _ = try CellaResourceName.parse(literal)
                } catch {
                    throw IAMError(.invalidResource, path: itemPath.description, error.message)
                }
            }
            templates.append(template)
        }
        return templates
    }
}

extension PolicyParser {
    /// An object's members by key, rejecting keys outside `allowed` (duplicates were rejected by
    /// the JSON reader).
    static func elements(_ members: [JSONMember], allowed: Set<String>, path: JSONPath) throws(IAMError) -> [String: JSONValue] {
        var elements: [String: JSONValue] = [:]
        for member in members {
            guard allowed.contains(member.key) else {
                let hint = member.key == "Principal" || member.key == "NotPrincipal"
                    ? "; identity policies take no Principal" : ""
                throw IAMError(.unknownKey, path: path.appending(key: member.key).description,
                               "unknown key \"\(member.key)\"\(hint)")
            }
            elements[member.key] = member.value
        }
        return elements
    }

    static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            false
        }
    }

    /// Exactly one of `first` and `second`.
    static func exclusive(
        _ first: String, _ second: String, in elements: [String: JSONValue], path: JSONPath
    ) throws(IAMError) -> (String, JSONValue) {
        switch (elements[first], elements[second]) {
        case (let value?, nil): return (first, value)
        case (nil, let value?): return (second, value)
        case (.some, .some):
            throw IAMError(.conflictingElements, path: path.appending(key: second).description,
                           "a statement takes \(first) or \(second), not both")
        case (nil, nil):
            throw IAMError(.missingElement, path: path.description, "a statement needs \(first) or \(second)")
        }
    }

    /// A string, or a non-empty array of strings, with each string's path.
    static func strings(_ value: JSONValue, path: JSONPath) throws(IAMError) -> [(String, JSONPath)] {
        switch value {
        case .string(let text):
            return [(text, path)]
        case .array(let items):
            guard !items.isEmpty else {
                throw IAMError(.invalidType, path: path.description, "must not be an empty array")
            }
            var result: [(String, JSONPath)] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item else {
                    throw IAMError(.invalidType, path: path.appending(index: index).description,
                                   "must be a string, got \(item.typeName)")
                }
                result.append((text, path.appending(index: index)))
            }
            return result
        default:
            throw IAMError(.invalidType, path: path.description,
                           "must be a string or an array of strings, got \(value.typeName)")
        }
    }
}
