#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// What keeps slow or numerous HTTP clients from taking a node down. A client that opens a
/// connection and sends half a request holds a file descriptor; without limits a thousand of
/// them exhaust the process's descriptors, and gossip (ZeroMQ) and SQLite, which share them,
/// stop with HTTP. So connections that send no complete request within `idleTimeout` are
/// closed, and at most `maxConnections` are served at once (more wait in the kernel's listen
/// backlog, holding none of this process's descriptors), well below the descriptor limit.
public struct HTTPServerLimits: Sendable {
    /// How long a connection may go without a complete request (a half-sent request line or
    /// header counts as nothing), and how long an idle keep-alive connection is kept.
    public var idleTimeout: Duration
    /// Connections served at once.
    public var maxConnections: Int

    public static let defaultIdleTimeout: Duration = .seconds(20)

    public init(idleTimeout: Duration = defaultIdleTimeout, maxConnections: Int) {
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// The limits for this process: raises the soft limit on open files to the hard limit,
    /// then gives HTTP at most half of it (`connectionCap`), keeping the rest for gossip,
    /// SQLite and the handler threads.
    public static func forThisProcess(idleTimeout: Duration = defaultIdleTimeout) -> HTTPServerLimits {
        HTTPServerLimits(idleTimeout: idleTimeout, maxConnections: connectionCap(descriptorLimit: raiseDescriptorLimit()))
    }

    /// Half the descriptors, at least 16 and at most 4,096 (enough for any campus; more only
    /// buys memory for idle sockets).
    public static func connectionCap(descriptorLimit: Int) -> Int { max(16, min(4_096, descriptorLimit / 2)) }

    /// Raises the soft RLIMIT_NOFILE to the hard limit (the default soft limit is often 1,024
    /// while the hard one is far higher); returns the soft limit now in force.
    @discardableResult
    public static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(resourceNoFile, &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resourceNoFile, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    #if canImport(Glibc)
    private static let resourceNoFile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNoFile = RLIMIT_NOFILE
    #endif

    /// The HTTP/1.1 server, closing connections idle for `idleTimeout`.
    public var server: HTTPServerBuilder { .http1(configuration: .init(idleTimeout: TimeAmount(idleTimeout))) }

    /// The server's address and its connection cap.
    public func configuration(host: String, port: Int, logger: Logger) -> ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: "vellum",
            availableConnectionsDelegate: .maximum(maxConnections, logger: logger))
    }
}
