/// Structural checks of a VC 2.0 / Open Badges 3.0 `OpenBadgeCredential`: the faults a JSON
/// Schema would catch (missing or mistyped members, wrong `type`s, v1 leftovers), named so a
/// registrar can fix them. Cryptographic and status checks live in `CredentialVerifier`.
public enum OpenBadgeValidator {
    /// Every structural problem found, empty when the credential is well-formed.
    public static func problems(in credential: JSON) -> [String] {
        var p = Problems()
        guard credential.objectValue != nil else { return ["the credential is not a JSON object"] }

        // VC 2.0 is what Vellum issues; Open Badges 3.0 credentials on the VC 1.1 model still verify.
        var legacy = false
        if let context = credential["@context"]?.arrayValue {
            legacy = context.first?.stringValue == OpenBadges.vc11Context
            if context.first?.stringValue != OpenBadges.vcContext, !legacy {
                p.append("@context must begin with \(OpenBadges.vcContext)")
            }
            if !context.contains(where: { $0.stringValue?.hasPrefix("https://purl.imsglobal.org/spec/ob/v3p0/context") == true }) {
                p.append("@context lacks the Open Badges 3.0 context")
            }
        } else {
            p.append("@context is missing or not an array")
        }
        if let id = credential["id"], !isURI(id.stringValue) { p.append("id is not a URI") }
        checkType(credential["type"], requires: ["VerifiableCredential"], anyOf: ["OpenBadgeCredential", "AchievementCredential"], at: "type", &p)

        switch credential["issuer"] {
        case .string(let s): if !isURI(s) { p.append("issuer is not a URI") }
        case .object:
            let issuer = credential["issuer"]!
            if !isURI(issuer["id"]?.stringValue) { p.append("issuer.id is missing or not a URI") }
            checkProfile(issuer, at: "issuer", &p)
        case nil: p.append("issuer is missing")
        default: p.append("issuer is neither a URI nor a Profile object")
        }

        let (fromName, untilName) = legacy ? ("issuanceDate", "expirationDate") : ("validFrom", "validUntil")
        if !legacy, credential["issuanceDate"] != nil || credential["expirationDate"] != nil {
            p.append("issuanceDate/expirationDate are VC 1.1 members; VC 2.0 uses validFrom/validUntil")
        }
        if let from = credential[fromName] {
            if Timestamp(parsing: from.stringValue ?? "") == nil { p.append("\(fromName) is not an RFC 3339 date-time") }
        } else {
            p.append("\(fromName) is missing")
        }
        if let until = credential[untilName], Timestamp(parsing: until.stringValue ?? "") == nil {
            p.append("\(untilName) is not an RFC 3339 date-time")
        }

        let subjects: [JSON]
        switch credential["credentialSubject"] {
        case .object: subjects = [credential["credentialSubject"]!]
        case .array(let items): subjects = items
        default:
            p.append("credentialSubject is missing or not an object")
            subjects = []
        }
        for (i, subject) in subjects.enumerated() where !p.isFull {
            let at = subjects.count == 1 ? "credentialSubject" : "credentialSubject[\(i)]"
            checkSubject(subject, at: at, &p)
        }

        for (i, evidence) in (credential["evidence"]?.arrayValue ?? []).enumerated() where !p.isFull {
            checkType(evidence["type"], requires: ["Evidence"], at: "evidence[\(i)].type", &p)
        }
        if let status = credential["credentialStatus"] {
            let entries = status.arrayValue ?? [status]
            for (i, entry) in entries.enumerated() where !p.isFull {
                if entry["type"]?.stringValue == "BitstringStatusListEntry" {
                    if entry["statusPurpose"]?.stringValue == nil { p.append("credentialStatus[\(i)].statusPurpose is missing") }
                    if let index = entry["statusListIndex"]?.stringValue, let n = Int(index), n >= 0, String(n) == index {} else {
                        p.append("credentialStatus[\(i)].statusListIndex is not a base-10 string")
                    }
                    if !isURI(entry["statusListCredential"]?.stringValue) {
                        p.append("credentialStatus[\(i)].statusListCredential is not a URI")
                    }
                } else if entry["type"] == nil {
                    p.append("credentialStatus[\(i)].type is missing")
                }
            }
        }
        return p.list
    }

    static func checkSubject(_ subject: JSON, at: String, _ p: inout Problems) {
        guard subject.objectValue != nil else { p.append("\(at) is not an object"); return }
        checkType(subject["type"], requires: ["AchievementSubject"], at: "\(at).type", &p)
        if let id = subject["id"], !isURI(id.stringValue) { p.append("\(at).id is not a URI") }
        for (i, identifier) in (subject["identifier"]?.arrayValue ?? []).enumerated() where !p.isFull {
            checkType(identifier["type"], requires: ["IdentityObject"], at: "\(at).identifier[\(i)].type", &p)
        }
        if subject["id"] == nil && subject["identifier"] == nil {
            p.append("\(at) has neither id nor identifier")
        }
        for (i, result) in (subject["result"]?.arrayValue ?? []).enumerated() where !p.isFull {
            checkType(result["type"], requires: ["Result"], at: "\(at).result[\(i)].type", &p)
        }
        if let source = subject["source"] { checkProfile(source, at: "\(at).source", &p) }
        guard let achievement = subject["achievement"], achievement.objectValue != nil else {
            p.append("\(at).achievement is missing or not an object")
            return
        }
        let a = "\(at).achievement"
        if !isURI(achievement["id"]?.stringValue) { p.append("\(a).id is missing or not a URI") }
        checkType(achievement["type"], requires: ["Achievement"], at: "\(a).type", &p)
        for field in ["name", "description"] where achievement[field]?.stringValue == nil {
            p.append("\(a).\(field) is missing")
        }
        if achievement["criteria"]?.objectValue == nil { p.append("\(a).criteria is missing or not an object") }
        for (i, rd) in (achievement["resultDescription"]?.arrayValue ?? []).enumerated() where !p.isFull {
            checkType(rd["type"], requires: ["ResultDescription"], at: "\(a).resultDescription[\(i)].type", &p)
        }
    }

    static func checkProfile(_ profile: JSON, at: String, _ p: inout Problems) {
        checkType(profile["type"], requires: ["Profile"], at: "\(at).type", &p)
        for (i, other) in (profile["otherIdentifier"]?.arrayValue ?? []).enumerated() where !p.isFull {
            checkType(other["type"], requires: ["IdentifierEntry"], at: "\(at).otherIdentifier[\(i)].type", &p)
        }
        if let parent = profile["parentOrg"] { checkProfile(parent, at: "\(at).parentOrg", &p) }
    }

    static func checkType(_ type: JSON?, requires: [String], anyOf: [String] = [], at: String, _ p: inout Problems) {
        guard let names = type?.typeNames else { p.append("\(at) is missing or not a string or array of strings"); return }
        for required in requires where !names.contains(required) {
            p.append("\(at) lacks '\(required)' (found \(names.joined(separator: ", ")))")
        }
        if !anyOf.isEmpty, !anyOf.contains(where: names.contains) {
            p.append("\(at) lacks one of \(anyOf.joined(separator: ", ")) (found \(names.joined(separator: ", ")))")
        }
    }

    static func isURI(_ s: String?) -> Bool {
        guard let s, let colon = s.firstIndex(of: ":"), colon != s.startIndex, s.first!.isLetter else { return false }
        return s[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
            && !s.contains(where: { $0.isWhitespace })
    }
}

/// The structural problems found so far. Checking stops at `limit`: a credential with 200,000
/// malformed evidence items gets a short report, not 200,000 messages built and sent back.
struct Problems {
    static let limit = 20
    private(set) var named: [String] = []

    var isFull: Bool { named.count >= Self.limit }

    mutating func append(_ problem: String) {
        if !isFull { named.append(problem) }
    }

    var list: [String] { isFull ? named + ["(checking stopped after \(Self.limit) problems)"] : named }
}
