public enum StreamgateVersion {
    public static let string = "0.1.0"

    /// The Swift compiler that built this binary (`major.minor`), for `streamgate_build_info`.
    /// There is no runtime query for it, so it is read from `#if compiler` at build time.
    public static let swiftCompiler: String = {
        #if compiler(>=6.5)
        return "6.5+"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}
