/// A hybrid logical clock (Kulkarni et al.): wall-clock milliseconds in the high 48 bits and a
/// logical counter in the low 16, so timestamps order causally even when campus clocks drift.
///
/// The clock never reads time itself: `now` is passed in.
public struct HLC: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(milliseconds: UInt64, counter: UInt16) { self.rawValue = milliseconds << 16 | UInt64(counter) }

    public var milliseconds: UInt64 { rawValue >> 16 }
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
    public var timestamp: Timestamp { Timestamp(millisecondsSinceEpoch: Int64(milliseconds)) }

    public static func < (a: HLC, b: HLC) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(timestamp.rfc3339)#\(counter)" }

    /// The timestamp for a local event, strictly after `self`.
    public func tick(now: Timestamp) -> HLC {
        let wall = UInt64(max(0, now.millisecondsSinceEpoch))
        if wall > milliseconds { return HLC(milliseconds: wall, counter: 0) }
        return HLC(rawValue: rawValue + 1)
    }

    /// The clock after receiving `remote`: after both `self` and `remote`.
    public func receive(_ remote: HLC, now: Timestamp) -> HLC {
        let wall = UInt64(max(0, now.millisecondsSinceEpoch))
        let top = max(self, remote)
        if wall > top.milliseconds { return HLC(milliseconds: wall, counter: 0) }
        return HLC(rawValue: top.rawValue + 1)
    }
}
