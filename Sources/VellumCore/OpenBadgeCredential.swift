@preconcurrency import Crypto

/// What a registrar asks for when issuing one credential.
public struct CredentialRequest: Sendable, Hashable {
    public var subject: String
    public var achievementName: String
    public var achievementType: String
    public var description: String?
    public var criteria: String?
    public var validUntil: Timestamp?

    public init(
        subject: String, achievementName: String, achievementType: String = "MicroCredential",
        description: String? = nil, criteria: String? = nil, validUntil: Timestamp? = nil
    ) {
        self.subject = subject
        self.achievementName = achievementName
        self.achievementType = achievementType
        self.description = description
        self.criteria = criteria
        self.validUntil = validUntil
    }

    /// Checks the request against Open Badges 3.0 before anything is signed.
    /// - Returns: the subject as a URI (`mailto:` added to a bare e-mail address).
    public func validated(validFrom: Timestamp) throws(VellumError) -> String {
        let subjectURI = try CredentialRequest.subjectURI(subject)
        guard !achievementName.trimmingWhitespace.isEmpty else {
            throw VellumError(.invalidInput, "achievement name is empty")
        }
        guard OpenBadges.achievementTypes.contains(achievementType) || achievementType.hasPrefix("ext:") else {
            throw VellumError(.invalidInput, "unknown achievement type '\(achievementType)' (e.g. MicroCredential, Badge, Certificate, Degree)")
        }
        if let validUntil, validUntil <= validFrom {
            throw VellumError(.invalidInput, "valid-until \(validUntil.rfc3339) is not after the issue time \(validFrom.rfc3339)")
        }
        return subjectURI
    }

    static func subjectURI(_ subject: String) throws(VellumError) -> String {
        let s = subject.trimmingWhitespace
        guard !s.isEmpty else { throw VellumError(.invalidInput, "subject is empty") }
        let bytes = Array(s.utf8)
        // ASCII text (nearly every subject) is checked by byte; Unicode's white space in ASCII
        // is U+0009...U+000D and U+0020.
        let ascii = bytes.allSatisfy { $0 < 0x80 }
        let blank = ascii ? bytes.contains { $0 == 0x20 || (0x09...0x0D).contains($0) } : s.unicodeScalars.contains { $0.properties.isWhitespace }
        guard !blank else {
            throw VellumError(.invalidInput, "subject '\(s)' contains whitespace; give a URI (did:, urn:, https:) or an e-mail address")
        }
        func isAlpha(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':' and something.
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon < bytes.count - 1, isAlpha(bytes[0]),
            bytes[..<colon].allSatisfy({ isAlpha($0) || (0x30...0x39).contains($0) || $0 == 0x2B || $0 == 0x2D || $0 == 0x2E })
        {
            return s
        }
        if let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0, bytes[(at + 1)...].contains(UInt8(ascii: ".")) {
            return "mailto:" + s
        }
        throw VellumError(.invalidInput, "subject '\(s)' is neither a URI (did:, urn:, https:) nor an e-mail address")
    }
}

/// Everything about an issuance that is not in the request: who issues, when, the random
/// values (passed in so the core stays deterministic) and where the status lists live.
public struct IssuanceContext: Sendable {
    public var issuer: DIDKey
    public var issuerName: String
    /// At least 10 random bytes for the credential's UUIDv7 (the rest is `validFrom`).
    public var credentialRandom: [UInt8]
    public var subjectSalt: [UInt8]
    public var validFrom: Timestamp
    public var statusListIndex: Int
    public var statusListBaseURL: String
    /// The organization a campus issues for (OB 3.0 `issuer.parentOrg`), from the registry,
    /// never from the campus's own say.
    public var parentOrg: (id: String, name: String)?

    public init(
        issuer: DIDKey, issuerName: String, credentialRandom: [UInt8], subjectSalt: [UInt8], validFrom: Timestamp,
        statusListIndex: Int, statusListBaseURL: String, parentOrg: (id: String, name: String)? = nil
    ) {
        self.parentOrg = parentOrg
        self.issuer = issuer
        self.issuerName = issuerName
        self.credentialRandom = credentialRandom
        self.subjectSalt = subjectSalt
        self.validFrom = validFrom
        self.statusListIndex = statusListIndex
        self.statusListBaseURL = statusListBaseURL
    }
}

/// A signed credential with the ledger's record of it.
public struct IssuedCredential: Sendable {
    /// The document's JCS form: what the ledger's digest covers and what the issuing node keeps.
    public let canonicalDocument: [UInt8]
    public let payload: IssuePayload
    public let subject: String
    public let subjectSalt: [UInt8]
    public var id: String { payload.credentialID }
    /// The document as a JSON value, parsed from its canonical bytes (which `OpenBadges.issue`
    /// wrote) when asked for: bulk issuance never needs it.
    public var document: JSON { try! JSON(parsing: canonicalDocument) }
}

/// Builds and signs Open Badges 3.0 `OpenBadgeCredential`s (VC Data Model 2.0).
public enum OpenBadges {
    public static let vcContext = "https://www.w3.org/ns/credentials/v2"
    public static let vc11Context = "https://www.w3.org/2018/credentials/v1"
    public static let obContext = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
    /// Entries per Bitstring Status List (the minimum the spec allows, 16 KiB of bits).
    public static let statusListSize = 131_072

    public static let achievementTypes: Set<String> = [
        "Achievement", "ApprenticeshipCertificate", "Assessment", "Assignment", "AssociateDegree", "Award", "Badge",
        "BachelorDegree", "Certificate", "CertificateOfCompletion", "Certification", "CommunityService", "Competency",
        "Course", "CoCurricular", "Degree", "Diploma", "DoctoralDegree", "Fieldwork", "GeneralEducationDevelopment",
        "JourneymanCertificate", "LearningProgram", "License", "Membership", "ProfessionalDoctorate",
        "QualityAssuranceCredential", "MasterCertificate", "MasterDegree", "MicroCredential", "ResearchDoctorate",
        "SecondarySchoolDiploma",
    ]

    /// The URL of the status list holding `index` for `purpose` (`revocation` or `suspension`).
    public static func statusListURL(base: String, issuer: DIDKey, purpose: String, index: Int) -> String {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/v1/status-lists/\(issuer.multibase)-\(purpose)-\(index / statusListSize)"
    }

    public static func uuidURN(_ bytes: [UInt8], version: UInt8) -> String {
        precondition(bytes.count >= 16)
        var b = Array(bytes.prefix(16))
        b[6] = (b[6] & 0x0F) | (version << 4)
        b[8] = (b[8] & 0x3F) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var text = Array("urn:uuid:".utf8)
        for (i, byte) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Time-ordered ids
    /// keep the ledger's credential indexes append-mostly, which is what makes bulk issuance fast.
    public static func uuidV7(time: Timestamp, random: [UInt8]) -> String {
        precondition(random.count >= 10)
        let ms = UInt64(max(0, time.millisecondsSinceEpoch))
        let timeBytes = (0..<6).map { UInt8(truncatingIfNeeded: ms >> (8 * (5 - $0))) }
        return uuidURN(timeBytes + Array(random.prefix(10)), version: 7)
    }

    /// A stable achievement id: the same issuer, type and name always give the same id.
    public static func achievementID(issuer: DIDKey, type: String, name: String) -> String {
        uuidURN(Array(SHA256.hash(data: Array("\(issuer.did)\n\(type)\n\(name)".utf8))), version: 8)
    }

    public static func subjectCommitment(salt: [UInt8], subject: String) -> String {
        Hex.encode(SHA256.hash(data: salt + Array(subject.utf8)))
    }

    /// SHA-256 (hex) of a credential's JCS form: what the ledger's issue entry records.
    public static func digest(_ credential: JSON) -> String { Hex.encode(SHA256.hash(data: credential.canonicalBytes)) }

    /// Builds the credential, signs it with `eddsa-jcs-2022` and derives the ledger payload.
    public static func issue(
        _ request: CredentialRequest, context: IssuanceContext, key: Curve25519.Signing.PrivateKey
    ) throws(VellumError) -> IssuedCredential {
        let subjectURI = try request.validated(validFrom: context.validFrom)
        let credentialID = uuidV7(time: context.validFrom, random: context.credentialRandom)
        let achievementID = achievementID(issuer: context.issuer, type: request.achievementType, name: request.achievementName)
        let description = request.description ?? request.achievementName
        let criteria = request.criteria ?? "Awarded by \(context.issuerName) to learners who earned \(request.achievementName)."
        // The document's canonical bytes, written member by member in JCS order (the keys are
        // ASCII, so byte order is that order): once without its proof, to be signed, then with.
        let contexts: [UInt8] = {
            var w = CanonicalJSONWriter()
            w.array { a in for c in [vcContext, obContext] { a.string(c) } }
            return w.bytes
        }()
        func beforeProof(_ o: inout CanonicalJSONWriter) {
            o.key("@context")
            o.canonical(contexts)
            o.key("credentialStatus")
            o.array { a in
                for purpose in ["revocation", "suspension"] {
                    let list = statusListURL(base: context.statusListBaseURL, issuer: context.issuer, purpose: purpose, index: context.statusListIndex)
                    let index = String(context.statusListIndex % statusListSize)
                    a.object { e in
                        e.member("id", "\(list)#\(index)")
                        e.member("statusListCredential", list)
                        e.member("statusListIndex", index)
                        e.member("statusPurpose", purpose)
                        e.member("type", "BitstringStatusListEntry")
                    }
                }
            }
            o.key("credentialSubject")
            o.object { subject in
                subject.key("achievement")
                subject.object { a in
                    a.member("achievementType", request.achievementType)
                    a.key("criteria")
                    a.object { $0.member("narrative", criteria) }
                    a.member("description", description)
                    a.member("id", achievementID)
                    a.member("name", request.achievementName)
                    a.key("type")
                    a.array { $0.string("Achievement") }
                }
                subject.member("id", subjectURI)
                subject.key("type")
                subject.array { $0.string("AchievementSubject") }
            }
            o.member("id", credentialID)
            o.key("issuer")
            o.object { issuer in
                issuer.member("id", context.issuer.did)
                issuer.member("name", context.issuerName)
                if let parent = context.parentOrg {
                    issuer.key("parentOrg")
                    issuer.object { p in
                        p.member("id", parent.id)
                        p.member("name", parent.name)
                        p.key("type")
                        p.array { $0.string("Profile") }
                    }
                }
                issuer.key("type")
                issuer.array { $0.string("Profile") }
            }
            o.member("name", request.achievementName)
        }
        func afterProof(_ o: inout CanonicalJSONWriter) {
            o.key("type")
            o.array { a in
                a.string("VerifiableCredential")
                a.string("OpenBadgeCredential")
            }
            o.member("validFrom", context.validFrom.rfc3339)
            if let until = request.validUntil { o.member("validUntil", until.rfc3339) }
        }
        var unsecured = CanonicalJSONWriter()
        unsecured.object { beforeProof(&$0); afterProof(&$0) }
        let proof = try DataIntegrity.proof(
            signing: unsecured.bytes, context: contexts,
            options: .init(verificationMethod: context.issuer.verificationMethod, created: context.validFrom.rfc3339), with: key)
        var signed = CanonicalJSONWriter()
        signed.object { o in
            beforeProof(&o)
            o.key("proof")
            o.canonical(proof)
            afterProof(&o)
        }
        let canonical = signed.bytes
        let payload = IssuePayload(
            credentialID: credentialID, digest: Hex.encode(SHA256.hash(data: canonical)), issuer: context.issuer.did, achievementID: achievementID,
            achievementName: request.achievementName, achievementType: request.achievementType,
            validFrom: context.validFrom.rfc3339, validUntil: request.validUntil?.rfc3339,
            statusListIndex: context.statusListIndex,
            subjectCommitment: subjectCommitment(salt: context.subjectSalt, subject: subjectURI))
        return IssuedCredential(canonicalDocument: canonical, payload: payload, subject: subjectURI, subjectSalt: context.subjectSalt)
    }
}

extension String {
    /// The string without leading and trailing white space.
    public var trimmingWhitespace: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
