/// A location inside a JSON document, rendered as `Statement[1].Condition.IpAddress.cella:SourceIp[0]`.
///
/// Keys are joined with `.` and array indexes are written `[n]`, the way IAM's own validation
/// messages and people point at policy elements. The root is the empty path.
package struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    package enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    package private(set) var components: [Component] = []

    package init() {}

    /// The path of `key` inside the object at this path.
    package func appending(key: String) -> JSONPath {
        var copy = self
        copy.components.append(.key(key))
        return copy
    }

    /// The path of element `index` inside the array at this path.
    package func appending(index: Int) -> JSONPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    package mutating func push(_ component: Component) {
        components.append(component)
    }

    package mutating func pop() {
        components.removeLast()
    }

    package var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text
    }
}
