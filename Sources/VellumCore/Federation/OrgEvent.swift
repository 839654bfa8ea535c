@preconcurrency import Crypto
import Foundation

/// One event of an organization's key event log: its inception, a key rotation, a campus
/// delegation or undelegation, or an endorsement of a federation document. Every signature an
/// organization makes is an event of its log, at a position (`seq`, `prev`), signed by the key
/// in force at that position (a rotation by the new key, which the previous event committed
/// to). "Signed with a rotated-out key after the rotation" is therefore a statement about
/// positions, never about dates (Docs/FEDERATION.md).
public struct OrgEvent: Sendable, Hashable {
    public enum Body: Sendable, Hashable {
        /// seq 0: the organization's name, first key, and SHA-256 of the next key.
        case inception(name: String, key: DIDKey, next: Bytes32)
        /// The new key, which must hash to the previous commitment, and the next commitment.
        case rotation(key: DIDKey, next: Bytes32)
        case delegation(Delegation)
        case undelegation(Undelegation)
        /// The organization signs a federation document (genesis or proposal) by its digest.
        case endorsement(digest: Bytes32)
    }

    /// The organization's id (`did:vellum:`…), derived from its inception.
    public let org: String
    public let seq: UInt64
    /// The digest of the event at seq - 1; nil for the inception.
    public let prev: Bytes32?
    public let body: Body
    /// Ed25519 over `signingInput`.
    public let proof: [UInt8]

    public static let idPrefix = "did:vellum:"
    static let domainTag = Array("vellum/org-event/1\n".utf8)

    /// What the event's digest and signature cover: every field but the proof.
    public var unsignedJSON: JSON {
        if case .inception(let name, let key, let next) = body { return OrgEvent.inceptionJSON(name: name, key: key, next: next) }
        var o: [String: JSON] = ["seq": .number(Double(seq)), "org": .string(org)]
        if let prev { o["prev"] = .string(prev.hex) }
        switch body {
        case .inception:
            break
        case .rotation(let key, let next):
            o["type"] = "rotation"
            o["key"] = .string(key.did)
            o["next"] = .string(next.hex)
        case .delegation(let d):
            o["type"] = "delegation"
            for (k, v) in d.jsonMembers { o[k] = v }
        case .undelegation(let u):
            o["type"] = "undelegation"
            for (k, v) in u.jsonMembers { o[k] = v }
        case .endorsement(let digest):
            o["type"] = "endorsement"
            o["digest"] = .string(digest.hex)
        }
        return .object(o)
    }

    static func inceptionJSON(name: String, key: DIDKey, next: Bytes32) -> JSON {
        ["seq": 0, "type": "inception", "name": .string(name), "key": .string(key.did), "next": .string(next.hex)]
    }

    public var json: JSON { unsignedJSON.setting("proof", to: .string("z" + Base58.encode(proof))) }

    /// SHA-256 of the unsigned event's JCS form: what the next event's `prev` names.
    public var digest: Bytes32 { Bytes32(Array(SHA256.hash(data: unsignedJSON.canonicalBytes)))! }

    var signingInput: [UInt8] { OrgEvent.domainTag + unsignedJSON.canonicalBytes }

    /// The key that must have signed this event, given the key in force before it.
    public func signer(keyInForce: DIDKey?) -> DIDKey? {
        switch body {
        case .inception(_, let key, _), .rotation(let key, _): key
        default: keyInForce
        }
    }

    /// Checks the proof against `key`. Each (event, key, proof) is checked once per process: a
    /// registry is rebuilt whenever documents arrive, and replays its logs each time.
    public func isSigned(by key: DIDKey) -> Bool {
        let input = signingInput
        let memoKey = SignatureMemo.Key(input: input, signer: key.publicKey + proof)
        if let known = OrgEvent.checked.result(memoKey) { return known }
        let ok = proof.count == 64 && key.signingPublicKey.isValidSignature(proof, for: input)
        OrgEvent.checked.record(memoKey, ok: ok)
        return ok
    }

    private static let checked = SignatureMemo(capacity: 20_000)

    /// The id of the organization an inception event founds.
    public static func organizationID(ofInception unsigned: JSON) -> String {
        idPrefix + "z" + Base58.encode(Array(SHA256.hash(data: unsigned.canonicalBytes)))
    }

    /// Builds and signs an event.
    public static func make(
        org: String?, seq: UInt64, prev: Bytes32?, body: Body, key: Curve25519.Signing.PrivateKey
    ) throws(VellumError) -> OrgEvent {
        let draft = OrgEvent(org: org ?? "", seq: seq, prev: prev, body: body, proof: [])
        let id = org ?? organizationID(ofInception: draft.unsignedJSON)
        let unsigned = OrgEvent(org: id, seq: seq, prev: prev, body: body, proof: [])
        let signature: [UInt8]
        do { signature = Array(try key.signature(for: unsigned.signingInput)) } catch {
            throw VellumError(.invalidKey, "cannot sign: \(error)")
        }
        return OrgEvent(org: id, seq: seq, prev: prev, body: body, proof: signature)
    }

    init(org: String, seq: UInt64, prev: Bytes32?, body: Body, proof: [UInt8]) {
        self.org = org
        self.seq = seq
        self.prev = prev
        self.body = body
        self.proof = proof
    }

    /// Parses an event; refuses unknown fields and malformed values, naming them. Does not
    /// check the signature: that needs the key in force, which only the log knows (`OrgLog`).
    public init(json: JSON) throws(VellumError) {
        guard let o = json.objectValue else { throw VellumError(.invalidInput, "an organization event is not a JSON object") }
        func string(_ name: String) throws(VellumError) -> String {
            guard let s = o[name]?.stringValue, !s.isEmpty else { throw VellumError(.invalidInput, "organization event lacks '\(name)'") }
            return s
        }
        func bytes32(_ name: String) throws(VellumError) -> Bytes32 {
            guard let b = Bytes32(hex: try string(name)) else { throw VellumError(.invalidInput, "organization event '\(name)' is not 64 hex digits") }
            return b
        }
        let type = try string("type")
        guard let n = o["seq"]?.numberValue, n >= 0, n == n.rounded(), n <= Double(UnsignedEntry.maximumSeq) else {
            throw VellumError(.invalidInput, "organization event 'seq' is not a non-negative integer")
        }
        seq = UInt64(n)
        let proofText = try string("proof")
        guard proofText.first == "z", let sig = Base58.decode(proofText.dropFirst(), maxBytes: 64), sig.count == 64 else {
            throw VellumError(.invalidInput, "organization event 'proof' is not a base58btc Ed25519 signature")
        }
        proof = sig
        var allowed: Set<String> = ["type", "seq", "proof", "org", "prev"]
        switch type {
        case "inception":
            guard seq == 0 else { throw VellumError(.invalidInput, "an inception event has seq 0") }
            allowed = ["type", "seq", "proof", "name", "key", "next"]
            let name = try string("name")
            guard name.utf8.count <= 200 else { throw VellumError(.invalidInput, "organization name exceeds 200 bytes") }
            let key = try DIDKey(parsing: try string("key"))
            let next = try bytes32("next")
            body = .inception(name: name, key: key, next: next)
            prev = nil
            org = OrgEvent.organizationID(ofInception: OrgEvent.inceptionJSON(name: name, key: key, next: next))
        default:
            guard seq >= 1 else { throw VellumError(.invalidInput, "a \(type) event has seq 1 or more") }
            org = try string("org")
            guard org.hasPrefix(OrgEvent.idPrefix), org.utf8.count <= 80 else {
                throw VellumError(.invalidInput, "'\(org.prefix(80))' is not a did:vellum organization id")
            }
            prev = try bytes32("prev")
            switch type {
            case "rotation":
                allowed.formUnion(["key", "next"])
                body = .rotation(key: try DIDKey(parsing: try string("key")), next: try bytes32("next"))
            case "delegation":
                allowed.formUnion(Delegation.fields)
                body = .delegation(try Delegation(json: json))
            case "undelegation":
                allowed.formUnion(Undelegation.fields)
                body = .undelegation(try Undelegation(json: json))
            case "endorsement":
                allowed.insert("digest")
                body = .endorsement(digest: try bytes32("digest"))
            default:
                throw VellumError(.invalidInput, "unknown organization event type '\(type.prefix(40))'")
            }
        }
        if let extra = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw VellumError(.invalidInput, "organization \(type) event has unknown field '\(extra.prefix(40))'")
        }
    }
}

/// Signature results by what was signed and who signed it (key ‖ signature), cleared when full.
final class SignatureMemo: @unchecked Sendable {  // `results` is guarded by `lock`
    struct Key: Hashable {
        let input: [UInt8]
        let signer: [UInt8]
    }

    private let lock = NSLock()
    private var results: [Key: Bool] = [:]
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func result(_ key: Key) -> Bool? { lock.withLock { results[key] } }

    func record(_ key: Key, ok: Bool) {
        lock.withLock {
            if results.count >= capacity { results.removeAll() }
            results[key] = ok
        }
    }
}

/// "Feed key F, reachable over CURVE with key T (and optionally at an endpoint), may issue and
/// change the status of this organization's credentials." It takes effect in F's own feed:
/// from the entry after the one where F publishes it (`FederationRegistry`).
public struct Delegation: Sendable, Hashable {
    public let feed: FeedKey
    /// The campus node's CurveZMQ public key (Z85, 40 characters): the allow-list follows it.
    public let transport: String
    /// `tcp://host:port`, for peers to learn where the campus listens.
    public let endpoint: String?
    /// Until when the campus node itself issues under this delegation (see Docs/FEDERATION.md:
    /// it bounds the honest node, not the merge, which never reads dates).
    public let until: Timestamp?

    public init(feed: FeedKey, transport: String, endpoint: String?, until: Timestamp?) {
        self.feed = feed
        self.transport = transport
        self.endpoint = endpoint
        self.until = until
    }

    static let fields: Set<String> = ["feed", "transport", "endpoint", "until"]

    var jsonMembers: [String: JSON] {
        var o: [String: JSON] = ["feed": .string(feed.didKey.did), "transport": .string(transport)]
        if let endpoint { o["endpoint"] = .string(endpoint) }
        if let until { o["until"] = .string(until.rfc3339) }
        return o
    }

    init(json: JSON) throws(VellumError) {
        guard let f = json["feed"]?.stringValue else { throw VellumError(.invalidInput, "delegation lacks 'feed'") }
        feed = FeedKey(try DIDKey(parsing: f).publicKey)!
        guard let t = json["transport"]?.stringValue, t.utf8.count == 40, t.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw VellumError(.invalidInput, "delegation 'transport' is not a CURVE public key (40 Z85 characters)")
        }
        transport = t
        if let e = json["endpoint"] {
            guard let s = e.stringValue, s.hasPrefix("tcp://"), s.utf8.count <= 200 else {
                throw VellumError(.invalidInput, "delegation 'endpoint' is not a tcp:// address")
            }
            endpoint = s
        } else {
            endpoint = nil
        }
        if let u = json["until"] {
            guard let s = u.stringValue, let t = Timestamp(parsing: s) else { throw VellumError(.invalidInput, "delegation 'until' is not an RFC 3339 date-time") }
            until = t
        } else {
            until = nil
        }
    }
}

/// The organization ends a campus delegation: cleanly (`superseded`), or because the campus
/// key is compromised. `through` (seq S) and `entry` (the id at S) are the cut: the feed's
/// entries after S, and any entry that forks the accepted history at or before S, count for
/// nothing everywhere.
public struct Undelegation: Sendable, Hashable {
    public enum Reason: String, Sendable, Hashable, CaseIterable { case superseded, compromised }

    public let feed: FeedKey
    public let reason: Reason
    public let through: UInt64?
    public let entry: EntryID?

    public init(feed: FeedKey, reason: Reason, through: UInt64?, entry: EntryID?) {
        self.feed = feed
        self.reason = reason
        self.through = through
        self.entry = entry
    }

    static let fields: Set<String> = ["feed", "reason", "through", "entry"]

    /// The last seq of the feed that still counts: `through`, or for a compromise without one,
    /// nothing (0). A clean undelegation without `through` leaves every entry counting.
    public var cut: UInt64? { through ?? (reason == .compromised ? 0 : nil) }

    var jsonMembers: [String: JSON] {
        var o: [String: JSON] = ["feed": .string(feed.didKey.did), "reason": .string(reason.rawValue)]
        if let through { o["through"] = .number(Double(through)) }
        if let entry { o["entry"] = .string(entry.hex) }
        return o
    }

    init(json: JSON) throws(VellumError) {
        guard let f = json["feed"]?.stringValue else { throw VellumError(.invalidInput, "undelegation lacks 'feed'") }
        feed = FeedKey(try DIDKey(parsing: f).publicKey)!
        guard let r = json["reason"]?.stringValue.flatMap(Reason.init(rawValue:)) else {
            throw VellumError(.invalidInput, "undelegation 'reason' is not superseded or compromised")
        }
        reason = r
        if let t = json["through"] {
            guard let n = t.numberValue, n >= 0, n == n.rounded(), n <= Double(UnsignedEntry.maximumSeq) else {
                throw VellumError(.invalidInput, "undelegation 'through' is not a seq")
            }
            through = UInt64(n)
        } else {
            through = nil
        }
        if let e = json["entry"] {
            guard let s = e.stringValue, let id = EntryID(hex: s) else { throw VellumError(.invalidInput, "undelegation 'entry' is not an entry id") }
            guard through != nil else { throw VellumError(.invalidInput, "undelegation 'entry' needs 'through'") }
            entry = id
        } else {
            entry = nil
        }
    }
}
