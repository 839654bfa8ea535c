/// ECMAScript's Number::toString for finite doubles, as RFC 8785 section 3.2.2.3 requires.
///
/// Swift's `description` already yields the shortest digit string that round-trips (and the
/// closest one among equals), which is what ECMAScript asks for; this type only re-lays those
/// digits out by ECMAScript's rules for where the decimal point and exponent go.
public enum ES6Number {
    public static func format(_ value: Double) -> String {
        precondition(value.isFinite, "JCS has no representation for NaN or Infinity")
        if value == 0 { return "0" }
        // An integer below 2^53 is exact, and no shorter digit string rounds to it: its
        // ECMAScript form is its decimal form. The common case, and ten times cheaper than
        // re-laying digits, which counts when an outsider's megabyte of numbers is canonicalized.
        if value.magnitude < 9_007_199_254_740_992, value == value.rounded(.towardZero) { return String(Int64(value)) }
        let negative = value < 0
        let (digits, pointPosition) = decimalDigits(of: negative ? -value : value)
        let k = digits.count
        let n = pointPosition
        var out = negative ? "-" : ""
        if k <= n && n <= 21 {
            out += digits + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            out += digits.prefix(n) + "." + digits.dropFirst(n)
        } else if -6 < n && n <= 0 {
            out += "0." + String(repeating: "0", count: -n) + digits
        } else {
            let exponent = n - 1
            out += String(digits.prefix(1))
            if k > 1 { out += "." + digits.dropFirst() }
            out += "e" + (exponent >= 0 ? "+" : "-") + String(abs(exponent))
        }
        return out
    }

    /// The shortest round-trip significant digits (no leading or trailing zeros) and `n` such
    /// that value = 0.d1d2...dk × 10^n.
    static func decimalDigits(of value: Double) -> (String, Int) {
        let text = value.description  // e.g. "1.5", "1e-07", "1.7976931348623157e+308", "100.0"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        let intPart: Substring
        let fracPart: Substring
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        } else {
            intPart = mantissa
            fracPart = ""
        }
        var all = String(intPart) + fracPart
        var point = intPart.count + exponent
        while all.hasPrefix("0") {
            all.removeFirst()
            point -= 1
        }
        while all.hasSuffix("0") { all.removeLast() }
        return (all, point)
    }
}
