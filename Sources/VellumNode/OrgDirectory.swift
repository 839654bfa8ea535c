@preconcurrency import Crypto
import Foundation
import VellumCore

/// An organization's directory, kept by its registrar off the nodes:
/// - `org.key`: the key in force (Ed25519 seed, hex), mode 0600;
/// - `next.key`: the next key, whose SHA-256 the log commits to (pre-rotation), mode 0600;
/// - `org.json`: the public record, the organization's whole log (`FederationDocument`).
/// Every command appends one signed event to the log and rewrites `org.json` atomically.
public struct OrgDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var recordPath: String { path + "/org.json" }
    var keyPath: String { path + "/org.key" }
    var nextKeyPath: String { path + "/next.key" }

    /// Creates the directory, both keys and the inception; returns the organization's id.
    public static func create(at path: String, name: String) throws(VellumError) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 200 else { throw VellumError(.invalidInput, "--name is empty or longer than 200 bytes") }
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let contents = (try? fm.contentsOfDirectory(atPath: path)) ?? ["?"]
            guard contents.isEmpty else { throw VellumError(.conflict, "\(path) exists and is not empty; choose a new directory") }
        }
        do { try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw VellumError(.io, "cannot create \(path): \(error.localizedDescription)")
        }
        let dir = OrgDirectory(path: path)
        let key = Curve25519.Signing.PrivateKey()
        let next = Curve25519.Signing.PrivateKey()
        let inception = try OrgEvent.make(
            org: nil, seq: 0, prev: nil, body: .inception(name: trimmed, key: try DIDKey(publicKey: Array(key.publicKey.rawRepresentation)), next: commitment(to: next)),
            key: key)
        try dir.writeKey(key, to: dir.keyPath)
        try dir.writeKey(next, to: dir.nextKeyPath)
        try dir.writeRecord([inception])
        return inception.org
    }

    static func commitment(to key: Curve25519.Signing.PrivateKey) -> Bytes32 {
        Bytes32(Array(SHA256.hash(data: key.publicKey.rawRepresentation)))!
    }

    /// The log as `org.json` holds it.
    public func events() throws(VellumError) -> [OrgEvent] {
        let text = try OrgDirectory.read(recordPath)
        let document: FederationDocument
        do { document = try FederationDocument(json: try JSON(parsing: text)) } catch let error as VellumError {
            throw VellumError(error.code, "\(recordPath): \(error.message)")
        } catch {
            throw VellumError(.invalidJSON, "\(recordPath): \(error)")
        }
        guard case .organization(let events) = document, !events.isEmpty else {
            throw VellumError(.invalidInput, "\(recordPath) is not an organization record")
        }
        return events
    }

    /// Signs `body` as the next event of the log with the key in force; returns the record.
    public func append(_ body: OrgEvent.Body) throws(VellumError) -> FederationDocument {
        var log = try events()
        let last = log[log.count - 1]
        let key = try readKey(keyPath)
        guard let org = Organization.resolve(log[0].org, from: log), org.key.publicKey == Array(key.publicKey.rawRepresentation) else {
            throw VellumError(.invalidKey, "\(keyPath) is not the key in force of the log in \(recordPath)")
        }
        log.append(try OrgEvent.make(org: last.org, seq: last.seq + 1, prev: last.digest, body: body, key: key))
        try writeRecord(log)
        return .organization(log)
    }

    /// Rotates: the committed next key comes into force (signing the rotation) and a fresh next
    /// key is committed to. The old key signs nothing after this position.
    public func rotate() throws(VellumError) -> FederationDocument {
        var log = try events()
        let last = log[log.count - 1]
        let next = try readKey(nextKeyPath)
        let following = Curve25519.Signing.PrivateKey()
        let rotation = try OrgEvent.make(
            org: last.org, seq: last.seq + 1, prev: last.digest,
            body: .rotation(key: try DIDKey(publicKey: Array(next.publicKey.rawRepresentation)), next: OrgDirectory.commitment(to: following)),
            key: next)
        log.append(rotation)
        guard Organization.resolve(log[0].org, from: log)?.holds(rotation.digest) == true else {
            throw VellumError(.invalidKey, "\(nextKeyPath) is not the key the log in \(recordPath) committed to")
        }
        // The record first: a crash after it leaves the new key in next.key, from where a
        // registrar restores it by hand; before it, nothing changed.
        try writeRecord(log)
        try replaceKey(next, at: keyPath)
        try replaceKey(following, at: nextKeyPath)
        return .organization(log)
    }

    // MARK: files

    static func read(_ file: String) throws(VellumError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw VellumError(.notFound, "cannot read \(file)") }
        return String(decoding: data, as: UTF8.self)
    }

    func readKey(_ file: String) throws(VellumError) -> Curve25519.Signing.PrivateKey {
        let text = try OrgDirectory.read(file).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let seed = Hex.decode(text), seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw VellumError(.invalidKey, "\(file) does not hold an Ed25519 key (64 hex digits)")
        }
        return key
    }

    func writeKey(_ key: Curve25519.Signing.PrivateKey, to file: String) throws(VellumError) {
        try NodeDirectory(path: path).writeSecret(Hex.encode(key.rawRepresentation) + "\n", to: file)
    }

    func replaceKey(_ key: Curve25519.Signing.PrivateKey, at file: String) throws(VellumError) {
        let temporary = file + ".new"
        unlink(temporary)
        try writeKey(key, to: temporary)
        guard rename(temporary, file) == 0 else { throw VellumError(.io, "cannot replace \(file): \(String(cString: strerror(errno)))") }
    }

    func writeRecord(_ events: [OrgEvent]) throws(VellumError) {
        try OrgDirectory.writeAtomically(FederationDocument.organization(events).json.prettyString + "\n", to: recordPath)
    }

    /// Writes a whole file or nothing: a temporary file, synced, renamed over the target.
    public static func writeAtomically(_ text: String, to file: String) throws(VellumError) {
        let temporary = file + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw VellumError(.io, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let ok = write(fd, bytes, bytes.count) == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, file) == 0 else {
            unlink(temporary)
            throw VellumError(.io, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads any federation document file.
    public static func readDocument(_ file: String) throws(VellumError) -> FederationDocument {
        let text = try read(file)
        do { return try FederationDocument(json: try JSON(parsing: text)) } catch let error as VellumError {
            throw VellumError(error.code, "\(file): \(error.message)")
        } catch {
            throw VellumError(.invalidJSON, "\(file): \(error)")
        }
    }
}
