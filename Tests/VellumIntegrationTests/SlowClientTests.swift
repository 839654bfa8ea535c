import Foundation
import Testing
import VellumCore

#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to the node's HTTP port that sends part of a request and then waits, as a
/// slow or hostile client does; each holds one of the server's file descriptors while open.
final class StalledConnection {
    let fd: Int32

    init(port: Int, sending text: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw VellumError(.io, "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw VellumError(.io, "connect to 127.0.0.1:\(port): errno \(errno)")
        }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw VellumError(.io, "write: errno \(errno)") }
    }

    deinit { close(fd) }

    /// Whether the server closes the connection (end of stream or reset) within `seconds`.
    func closedByServer(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000)))
            guard ready > 0 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return true }  // 0: closed; -1: reset
        }
        return false
    }
}

/// Open file descriptors of a process, from /proc.
func openDescriptors(of pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

@Suite("HTTP service against slow and numerous clients")
struct SlowClientTests {
    @Test("stalled half-requests do not stop /healthz, and the server closes them after the idle timeout")
    func stalledRequestsAreClosed() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode("node", institution: "North Campus")
        let daemon = try NodeProcess(node, http: true, arguments: ["--http-idle-timeout", "2"])
        let port = try #require(URL(string: daemon.httpURL)?.port)
        let baseline = openDescriptors(of: daemon.process.processIdentifier)

        let opened = Date()
        let stalled = try (0..<50).map { i in
            try StalledConnection(port: port, sending: i % 2 == 0 ? "GET /heal" : "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        }
        let (code, body) = try http("GET", daemon.httpURL + "/healthz")
        #expect(code == 200 && body.contains("\"status\":\"ok\""), "\(code) \(body)")

        // Every stalled connection is closed by the server: after the 2 s timeout, well before 8 s.
        let closed = stalled.filter { $0.closedByServer(within: 8 - Date().timeIntervalSince(opened)) }.count
        let took = Date().timeIntervalSince(opened)
        #expect(closed == stalled.count, "\(closed) of \(stalled.count) stalled connections closed")
        #expect(took >= 1.5 && took < 8, "closed after \(took) s")
        // The descriptors they held are released.
        eventually(5, "the node's descriptors back to their baseline") {
            openDescriptors(of: daemon.process.processIdentifier) <= baseline + 5
        }
        #expect(try http("GET", daemon.httpURL + "/healthz").0 == 200)
        #expect(daemon.stop() == 0)
    }

    @Test("a body trickled a byte at a time, each within the idle timeout, is cut off at the deadline with a 408")
    func trickledBodyIsCutOff() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode("node", institution: "North Campus")
        let daemon = try NodeProcess(node, http: true, arguments: ["--http-idle-timeout", "2"])
        let port = try #require(URL(string: daemon.httpURL)?.port)
        let slow = try StalledConnection(port: port, sending: "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        // One byte every 0.5 s: the idle timer alone would never fire.
        let opened = Date()
        var answer = [UInt8]()
        var closed = false
        while Date().timeIntervalSince(opened) < 8, !closed {
            _ = write(slow.fd, " ", 1)
            var poller = pollfd(fd: slow.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 500) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = read(slow.fd, &buffer, buffer.count)
                if n <= 0 { closed = true } else { answer += buffer[..<n] }
            }
        }
        let took = Date().timeIntervalSince(opened)
        #expect(closed, "still open after \(took) s")
        #expect(took < 6, "cut off after \(took) s")
        #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 408"), "\(String(decoding: answer, as: UTF8.self))")
        #expect(try http("GET", daemon.httpURL + "/healthz").0 == 200)
        #expect(daemon.stop() == 0)
    }

    @Test("beyond the connection cap, clients wait instead of taking descriptors, and are served once stalled ones time out")
    func connectionCap() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode("node", institution: "North Campus")
        let daemon = try NodeProcess(node, http: true, arguments: ["--http-idle-timeout", "2", "--http-max-connections", "8"])
        let port = try #require(URL(string: daemon.httpURL)?.port)
        let pid = daemon.process.processIdentifier
        let baseline = openDescriptors(of: pid)

        let stalled = try (0..<20).map { _ in try StalledConnection(port: port, sending: "GET /") }
        usleep(300_000)
        // About the first 8 were accepted (NIO may accept a few more in one read); the rest wait
        // in the kernel's backlog, holding none of the node's descriptors.
        let held = openDescriptors(of: pid) - baseline
        #expect(held < 16, "\(held) descriptors for 20 stalled connections with a cap of 8")
        // Each wave of 8 times out in turn; a real request gets its turn.
        let started = Date()
        let (code, _) = try http("GET", daemon.httpURL + "/healthz")
        #expect(code == 200)
        #expect(Date().timeIntervalSince(started) < 10)
        withExtendedLifetime(stalled) {}
        #expect(daemon.stop() == 0)
    }
}
