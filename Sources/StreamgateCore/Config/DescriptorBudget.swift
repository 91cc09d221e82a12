/// How many proxied connections a process's open-file limit can carry.
///
/// A proxied request or stream holds two descriptors (the client's and its upstream's), and a
/// few more stay open for the process itself (listeners, Redis, the admin endpoint, log files,
/// idle pooled upstreams). The gateway reports this figure at start, and warns when
/// `max_connections` is above it: clients accepted past it may find no descriptor left for an
/// upstream connection (502), and accepting itself pauses on EMFILE.
public enum DescriptorBudget {
    /// Descriptors kept back for everything that is not a client connection or its upstream.
    public static let reserve = 64

    /// Proxied connections `openFileLimit` allows, each with its upstream (at least 1).
    public static func connections(openFileLimit: Int) -> Int {
        max(1, (openFileLimit - reserve) / 2)
    }
}
