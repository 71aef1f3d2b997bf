/// The matcher of `ArnEquals`/`ArnLike` (and their negations): both sides are cut at their first
/// five colons into at most six components, the counts must agree, and each component matches on
/// its own with `*` and `?` — so a wildcard never spans a colon among the first five. This is
/// AWS's documented rule, and AWS treats `ArnEquals` exactly like `ArnLike`.
///
/// With Cella's names that means `crn:cella:t:function:*` matches unqualified functions only
/// (five components); `crn:cella:t:function:*:*` matches qualified ones.
package struct ArnPattern: Sendable, Hashable {
    private let components: [WildcardPattern]

    /// Compiles pattern units (see ``WildcardPattern``).
    package init(units: [UInt16]) {
        var components: [WildcardPattern] = []
        var current: [UInt16] = []
        for unit in units {
            if unit == UInt16(UInt8(ascii: ":")), components.count < 5 {
                components.append(WildcardPattern(units: current))
                current = []
            } else {
                current.append(unit)
            }
        }
        components.append(WildcardPattern(units: current))
        self.components = components
    }

    /// Whether `subject` (a request value) matches, component by component.
    package func matches(_ subject: String) -> Bool {
        var subject = subject
        return subject.withUTF8 { bytes in
            var start = 0
            var componentIndex = 0
            for index in 0..<bytes.count where bytes[index] == UInt8(ascii: ":") && componentIndex < 5 {
                guard componentIndex < components.count - 1,
                      components[componentIndex].matches(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                else { return false }
                componentIndex += 1
                start = index + 1
            }
            return componentIndex == components.count - 1
                && components[componentIndex].matches(UnsafeBufferPointer(rebasing: bytes[start...]))
        }
    }
}
