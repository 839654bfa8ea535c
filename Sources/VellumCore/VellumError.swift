/// Every error Vellum reports: an opaque code callers can match on and a message that
/// names the problem. Errors are equal by code.
public struct VellumError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidJSON = Code(rawValue: "invalid-json")
        public static let invalidKey = Code(rawValue: "invalid-key")
        public static let invalidProof = Code(rawValue: "invalid-proof")
        public static let invalidCredential = Code(rawValue: "invalid-credential")
        public static let invalidEntry = Code(rawValue: "invalid-entry")
        public static let invalidInput = Code(rawValue: "invalid-input")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let notFound = Code(rawValue: "not-found")
        public static let conflict = Code(rawValue: "conflict")
        public static let storage = Code(rawValue: "storage")
        public static let io = Code(rawValue: "io")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// `text` in quotes for a message, cut to its first 100 characters: an error about an
    /// outsider's megabyte names it without echoing it back.
    static func quoted(_ text: some StringProtocol) -> String {
        text.utf8.count > abbreviation ? "'\(text.prefix(abbreviation))…' (\(text.utf8.count) bytes)" : "'\(text)'"
    }

    /// `text` unquoted, cut the same way: for messages that name ordinary values bare.
    static func abbreviated(_ text: some StringProtocol) -> String {
        text.utf8.count > abbreviation ? "\(text.prefix(abbreviation))… (\(text.utf8.count) bytes)" : String(text)
    }

    static let abbreviation = 100

    public static func == (lhs: VellumError, rhs: VellumError) -> Bool { lhs.code == rhs.code }
}
