@preconcurrency import Crypto
import Foundation
import VellumCore
import VellumStore
import VellumWire

/// The files of a node's data directory:
/// - `feed.key`: the Ed25519 signing key (hex seed), mode 0600;
/// - `transport.key`: the CurveZMQ secret key (Z85), mode 0600;
/// - `ledger.sqlite` (+ `-wal`, `-shm`): the ledger, mode 0600.
public struct NodeDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var keyPath: String { path + "/feed.key" }
    public var transportKeyPath: String { path + "/transport.key" }
    public var ledgerPath: String { path + "/" + LedgerStore.fileName }

    static let fm = FileManager.default

    /// Creates the directory and the key; refuses if a node (or anything else) is already there.
    func create() throws(VellumError) -> Curve25519.Signing.PrivateKey {
        var isDirectory: ObjCBool = false
        if NodeDirectory.fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw VellumError(.conflict, "\(path) exists and is not a directory") }
            if NodeDirectory.fm.fileExists(atPath: keyPath) || NodeDirectory.fm.fileExists(atPath: ledgerPath) {
                throw VellumError(.conflict, "\(path) already holds a Vellum node; refusing to overwrite it")
            }
            let contents = (try? NodeDirectory.fm.contentsOfDirectory(atPath: path)) ?? []
            guard contents.isEmpty else { throw VellumError(.conflict, "\(path) exists and is not empty; choose a new directory") }
        }
        do {
            try NodeDirectory.fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VellumError(.io, "cannot create \(path): \(error.localizedDescription)")
        }
        let key = Curve25519.Signing.PrivateKey()
        try writeSecret(Hex.encode(key.rawRepresentation) + "\n", to: keyPath)
        _ = try loadTransportKey()
        return key
    }

    /// The CurveZMQ key pair, created on first use.
    func loadTransportKey() throws(VellumError) -> CurveKeyPair {
        if !NodeDirectory.fm.fileExists(atPath: transportKeyPath) {
            let pair: CurveKeyPair
            do { pair = try CurveKeyPair.generate() } catch { throw VellumError(.invalidKey, "cannot make a CURVE key pair: \(error)") }
            try writeSecret(pair.secretKey + "\n", to: transportKeyPath)
        }
        guard let data = NodeDirectory.fm.contents(atPath: transportKeyPath) else {
            throw VellumError(.io, "cannot read \(transportKeyPath)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveKeyPair.isValidKey(secret), let pub = try? CurveKeyPair.publicKey(forSecret: secret) else {
            throw VellumError(.invalidKey, "\(transportKeyPath) does not hold a CURVE secret key (40 Z85 characters)")
        }
        return CurveKeyPair(publicKey: pub, secretKey: secret)
    }

    /// Writes a new file readable only by its owner; never replaces an existing one.
    func writeSecret(_ text: String, to file: String) throws(VellumError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw VellumError(.io, "cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw VellumError(.io, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Checks the directory holds a node and loads its key.
    func loadKey() throws(VellumError) -> Curve25519.Signing.PrivateKey {
        var isDirectory: ObjCBool = false
        guard NodeDirectory.fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VellumError(.notFound, "no Vellum node at \(path) (run 'vellum init --name NAME', or pass --data DIR)")
        }
        guard NodeDirectory.fm.fileExists(atPath: ledgerPath), NodeDirectory.fm.fileExists(atPath: keyPath) else {
            throw VellumError(.notFound, "\(path) is not a Vellum data directory (no feed.key and ledger.sqlite; run 'vellum init')")
        }
        guard let data = NodeDirectory.fm.contents(atPath: keyPath),
            let seed = Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
            seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else { throw VellumError(.invalidKey, "\(keyPath) does not hold an Ed25519 key (64 hex digits)") }
        return key
    }

    /// Restricts the ledger files to the owner.
    func protectLedger() {
        for suffix in ["", "-wal", "-shm"] where NodeDirectory.fm.fileExists(atPath: ledgerPath + suffix) {
            chmod(ledgerPath + suffix, 0o600)
        }
    }
}
