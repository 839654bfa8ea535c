/// The decoded payload of an entry. Payloads are JSON objects in RFC 8785 form; they carry no
/// personal data: the subject appears only as a salted commitment.
public enum EntryPayload: Sendable, Hashable {
    case issue(IssuePayload)
    case status(StatusPayload)
    case statusList(StatusListPayload)
    case document(FederationDocument)
    case checkpoint(CheckpointPayload)

    /// What the entry is about: a credential id, a status list's name, or a document's label.
    public var credentialID: String {
        switch self {
        case .issue(let p): p.credentialID
        case .status(let p): p.credentialID
        case .statusList(let p): p.name.description
        case .document(let d): d.label
        case .checkpoint: "checkpoint"
        }
    }

    /// `json`'s canonical bytes: what an entry carries.
    public var canonicalBytes: [UInt8] {
        if case .issue(let p) = self { return p.canonicalBytes }
        return json.canonicalBytes
    }

    public var json: JSON {
        switch self {
        case .issue(let p): p.json
        case .status(let p): p.json
        case .statusList(let p): p.credential
        case .document(let d): d.json
        case .checkpoint(let c): c.json
        }
    }

    /// Decodes payload bytes for `kind`, requiring them to be canonical JCS.
    public init(kind: EntryKind, bytes: [UInt8]) throws(VellumError) {
        try self.init(kind: kind, bytes: bytes, checkCanonical: true)
    }

    /// Decodes the payload of an entry read back from the store, which was verified (canonical
    /// form included) before it was stored: the re-encoding check is skipped.
    public init(stored kind: EntryKind, bytes: [UInt8]) throws(VellumError) {
        try self.init(kind: kind, bytes: bytes, checkCanonical: false)
    }

    private init(kind: EntryKind, bytes: [UInt8], checkCanonical: Bool) throws(VellumError) {
        // Nearly every entry is an issue in the plain form its writers produce: read it in one
        // pass. Anything else takes the general path, which accepts all this one does.
        if kind == .issue, let issue = try IssuePayload(plainCanonical: bytes) {
            self = .issue(issue)
            return
        }
        let json: JSON
        do { json = try JSON(parsing: bytes) } catch {
            throw VellumError(.invalidEntry, "payload is not JSON: \(error)")
        }
        if checkCanonical, json.canonicalBytes != bytes {
            throw VellumError(.invalidEntry, "payload is not in canonical (RFC 8785) form")
        }
        switch kind {
        case .issue: self = .issue(try IssuePayload(json: json))
        case .revoke, .suspend, .reinstate: self = .status(try StatusPayload(json: json))
        case .statusList: self = .statusList(try StatusListPayload(json: json))
        case .document:
            do { self = .document(try FederationDocument(json: json)) } catch { throw VellumError(.invalidEntry, "document: \(error.message)") }
        case .checkpoint: self = .checkpoint(try CheckpointPayload(json: json))
        }
    }
}

/// What the log records of an issued credential.
public struct IssuePayload: Sendable, Hashable {
    public var credentialID: String
    /// SHA-256 (hex) of the signed credential's JCS form.
    public var digest: String
    public var issuer: String
    public var achievementID: String
    public var achievementName: String
    public var achievementType: String
    public var validFrom: String
    public var validUntil: String?
    public var statusListIndex: Int
    /// SHA-256 (hex) over salt ‖ subject id; the salt stays on the issuing node.
    public var subjectCommitment: String

    public init(
        credentialID: String, digest: String, issuer: String, achievementID: String, achievementName: String,
        achievementType: String, validFrom: String, validUntil: String?, statusListIndex: Int, subjectCommitment: String
    ) {
        self.credentialID = credentialID
        self.digest = digest
        self.issuer = issuer
        self.achievementID = achievementID
        self.achievementName = achievementName
        self.achievementType = achievementType
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.statusListIndex = statusListIndex
        self.subjectCommitment = subjectCommitment
    }

    /// `json`'s canonical bytes, written directly (a writer issues one per credential).
    public var canonicalBytes: [UInt8] {
        var w = CanonicalJSONWriter()
        w.object { o in
            o.key("achievement")
            o.object { a in
                a.member("id", achievementID)
                a.member("name", achievementName)
                a.member("type", achievementType)
            }
            o.member("credential", credentialID)
            o.member("digest", digest)
            o.member("issuer", issuer)
            o.key("statusListIndex")
            o.canonical(Array(ES6Number.format(Double(statusListIndex)).utf8))
            o.member("subjectCommitment", subjectCommitment)
            o.member("validFrom", validFrom)
            if let validUntil { o.member("validUntil", validUntil) }
        }
        return w.bytes
    }

    public var json: JSON {
        var o: [String: JSON] = [
            "credential": .string(credentialID),
            "digest": .string(digest),
            "issuer": .string(issuer),
            "achievement": ["id": .string(achievementID), "name": .string(achievementName), "type": .string(achievementType)],
            "validFrom": .string(validFrom),
            "statusListIndex": .number(Double(statusListIndex)),
            "subjectCommitment": .string(subjectCommitment),
        ]
        if let validUntil { o["validUntil"] = .string(validUntil) }
        return .object(o)
    }

    public init(json: JSON) throws(VellumError) {
        func string(_ value: JSON?, _ name: String) throws(VellumError) -> String {
            guard let s = value?.stringValue, !s.isEmpty else {
                throw VellumError(.invalidEntry, "issue payload lacks '\(name)'")
            }
            return s
        }
        let allowed: Set<String> = [
            "credential", "digest", "issuer", "achievement", "validFrom", "validUntil", "statusListIndex", "subjectCommitment",
        ]
        if let extra = json.objectValue?.keys.first(where: { !allowed.contains($0) }) {
            throw VellumError(.invalidEntry, "issue payload has unknown field '\(extra)'")
        }
        guard let index = json["statusListIndex"]?.numberValue, index >= 0, index == index.rounded(), index < 1e12 else {
            throw VellumError(.invalidEntry, "issue payload statusListIndex is not a non-negative integer")
        }
        try self.init(
            checking: try string(json["credential"], "credential"), digest: try string(json["digest"], "digest"),
            issuer: try string(json["issuer"], "issuer"), achievementID: try string(json["achievement"]?["id"], "achievement.id"),
            achievementName: try string(json["achievement"]?["name"], "achievement.name"),
            achievementType: try string(json["achievement"]?["type"], "achievement.type"),
            validFrom: try string(json["validFrom"], "validFrom"), validUntil: json["validUntil"]?.stringValue,
            statusListIndex: Int(index), subjectCommitment: try string(json["subjectCommitment"], "subjectCommitment"))
    }

    /// The payload from bytes in the one form `json`'s canonical encoding gives when no string
    /// needs an escape, read in one pass without building a JSON value. Nil when the bytes are
    /// in any other form, canonical or not: `init(json:)` decides those. Where this returns a
    /// payload, parsing the bytes, checking their canonical form and `init(json:)` return the
    /// same one (a property test holds the two paths to it).
    init?(plainCanonical bytes: [UInt8]) throws(VellumError) {
        var r = PlainJSONReader(bytes)
        guard r.skip(#"{"achievement":{"id":"#), let achievementID = r.string(), r.skip(#","name":"#), let achievementName = r.string(),
            r.skip(#","type":"#), let achievementType = r.string(), r.skip(#"},"credential":"#), let credentialID = r.string(),
            r.skip(#","digest":"#), let digest = r.string(), r.skip(#","issuer":"#), let issuer = r.string(),
            r.skip(#","statusListIndex":"#), let index = r.integer(below: 1_000_000_000_000),
            r.skip(#","subjectCommitment":"#), let subjectCommitment = r.string(), r.skip(#","validFrom":"#), let validFrom = r.string()
        else { return nil }
        var validUntil: String?
        if r.skip(#","validUntil":"#) {
            guard let until = r.string() else { return nil }
            validUntil = until
        }
        guard r.skip("}"), r.atEnd else { return nil }
        // `init(json:)` names a missing field.
        guard ![achievementID, achievementName, achievementType, credentialID, digest, issuer, subjectCommitment, validFrom].contains(where: \.isEmpty)
        else { return nil }
        try self.init(
            checking: credentialID, digest: digest, issuer: issuer, achievementID: achievementID, achievementName: achievementName,
            achievementType: achievementType, validFrom: validFrom, validUntil: validUntil, statusListIndex: index,
            subjectCommitment: subjectCommitment)
    }

    /// The checks on an issue payload's fields, whichever way they were read.
    private init(
        checking credentialID: String, digest: String, issuer: String, achievementID: String, achievementName: String,
        achievementType: String, validFrom: String, validUntil: String?, statusListIndex: Int, subjectCommitment: String
    ) throws(VellumError) {
        // `CredentialID.isStorable`, looser than the rule for ids this node writes and answers
        // for: a signed entry an older version wrote must still parse here, or a replica would
        // refuse (and punish the relay of) an entry its peers store.
        guard CredentialID.isStorable(credentialID) else {
            throw VellumError(.invalidEntry, "credential id \(VellumError.quoted(credentialID.debugDescription)) is not a urn:uuid without control characters or spaces")
        }
        guard Hex.isDigits(digest, count: 64) else {
            throw VellumError(.invalidEntry, "issue payload digest is not 64 hex digits")
        }
        guard Timestamp(parsing: validFrom) != nil else {
            throw VellumError(.invalidEntry, "validFrom '\(validFrom)' is not an RFC 3339 date-time")
        }
        if let validUntil, Timestamp(parsing: validUntil) == nil {
            throw VellumError(.invalidEntry, "validUntil '\(validUntil)' is not an RFC 3339 date-time")
        }
        guard Hex.isDigits(subjectCommitment, count: 64) else {
            throw VellumError(.invalidEntry, "subjectCommitment is not 64 hex digits")
        }
        self.init(
            credentialID: credentialID, digest: digest, issuer: issuer, achievementID: achievementID, achievementName: achievementName,
            achievementType: achievementType, validFrom: validFrom, validUntil: validUntil, statusListIndex: statusListIndex,
            subjectCommitment: subjectCommitment)
    }
}

/// A revoke, suspend or reinstate of one credential.
public struct StatusPayload: Sendable, Hashable {
    public var credentialID: String
    public var reason: String?

    public init(credentialID: String, reason: String? = nil) {
        self.credentialID = credentialID
        self.reason = reason
    }

    public var json: JSON {
        var o: [String: JSON] = ["credential": .string(credentialID)]
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }

    public init(json: JSON) throws(VellumError) {
        if let extra = json.objectValue?.keys.first(where: { $0 != "credential" && $0 != "reason" }) {
            throw VellumError(.invalidEntry, "status payload has unknown field '\(extra)'")
        }
        guard let id = json["credential"]?.stringValue, CredentialID.isStorable(id) else {
            throw VellumError(.invalidEntry, "status payload lacks a 'credential' urn:uuid without control characters or spaces")
        }
        credentialID = id
        if let r = json["reason"] {
            guard let s = r.stringValue else { throw VellumError(.invalidEntry, "status reason is not a string") }
            reason = s
        }
    }
}
