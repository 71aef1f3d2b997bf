/// A precompiled IAM wildcard pattern: `*` matches any run of characters (also none), `?` exactly
/// one character; everything else matches itself, byte for byte (case rules are applied before:
/// actions are lowercased on both sides, resources and condition values are not).
///
/// A pattern is a list of units: `0...255` are literal UTF-8 bytes, ``star`` and ``one`` are the
/// wildcards. Keeping them out of the byte range lets a variable's value or a `${*}` escape put a
/// literal `*` into a pattern. `?` consumes one whole UTF-8 sequence, so it means one character,
/// not one byte. Common shapes (`*`, no wildcard, `prefix*`) skip the general matcher.
package struct WildcardPattern: Sendable, Hashable {
    package static let star: UInt16 = 0x100
    package static let one: UInt16 = 0x101

    private enum Kind: UInt8, Sendable, Hashable {
        /// Only stars.
        case everything
        /// No wildcard.
        case exact
        /// Literal units, then one star.
        case prefix
        case general
    }

    // A tag and a plain array rather than an enum with array payloads: binding a payload in a
    // `switch` retains and releases it, and this runs for every statement of every request.
    private let kind: Kind
    private let units: [UInt16]

    /// Compiles a pattern from units.
    package init(units: [UInt16]) {
        let wildcardCount = units.count { $0 > 0xFF }
        self.units = units
        if wildcardCount == 0 {
            kind = .exact
        } else if wildcardCount == units.count {
            kind = units.contains(Self.one) ? .general : .everything
        } else if wildcardCount == 1, units.last == Self.star {
            kind = .prefix
        } else {
            kind = .general
        }
    }

    /// Compiles `text`, treating `*` and `?` as wildcards.
    package init(wildcardText text: String) {
        self.init(units: Self.units(wildcardText: text))
    }

    /// `text`'s UTF-8 bytes as units, with `*` and `?` turned into wildcards.
    package static func units(wildcardText text: String) -> [UInt16] {
        text.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "*"): star
            case UInt8(ascii: "?"): one
            default: UInt16(byte)
            }
        }
    }

    /// Matches the whole of `subject`.
    @inline(__always)
    package func matches(_ subject: [UInt8]) -> Bool {
        subject.withUnsafeBufferPointer { matches($0) }
    }

    /// Matches the whole of `subject`.
    package func matches(_ subject: UnsafeBufferPointer<UInt8>) -> Bool {
        switch kind {
        case .everything:
            return true
        case .exact:
            return units.count == subject.count && units.withUnsafeBufferPointer { Self.literalsMatch($0, subject, count: $0.count) }
        case .prefix:
            return subject.count >= units.count - 1
                && units.withUnsafeBufferPointer { Self.literalsMatch($0, subject, count: $0.count - 1) }
        case .general:
            return units.withUnsafeBufferPointer { Self.matchGeneral($0, subject) }
        }
    }

    @inline(__always)
    private static func literalsMatch(_ pattern: UnsafeBufferPointer<UInt16>, _ subject: UnsafeBufferPointer<UInt8>, count: Int) -> Bool {
        for index in 0..<count where pattern[index] != UInt16(subject[index]) {
            return false
        }
        return true
    }

    /// The classic linear-space greedy matcher with one backtrack point: on a mismatch after a
    /// `*`, let that `*` swallow one more character and retry. Correct because a later `*` can
    /// absorb anything an earlier one could.
    private static func matchGeneral(_ pattern: UnsafeBufferPointer<UInt16>, _ subject: UnsafeBufferPointer<UInt8>) -> Bool {
        var p = 0
        var s = 0
        var starP = -1
        var starS = 0
        let count = subject.count
        while s < count {
            if p < pattern.count {
                let unit = pattern[p]
                if unit == star {
                    starP = p
                    starS = s
                    p += 1
                    continue
                }
                if unit == one {
                    s = min(s + sequenceLength(subject[s]), count)
                    p += 1
                    continue
                }
                if unit == UInt16(subject[s]) {
                    s += 1
                    p += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            starS = min(starS + sequenceLength(subject[starS]), count)
            s = starS
            p = starP + 1
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }

    /// The length of the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte).
    @inline(__always)
    private static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC0...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF7: 4
        default: 1
        }
    }
}
