public enum StreamgateVersion { public static let string = "0.1.0" }
