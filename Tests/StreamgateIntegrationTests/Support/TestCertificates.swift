import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private certificate authority made at run time with the `openssl` command (ECDSA P-256),
/// in a temporary directory removed on `remove()`/deinit. Leaves can be issued valid, expired
/// or for any names, so TLS tests need no committed keys and never expire themselves.
final class TestCertificates {
    struct Pair {
        let certificate: String
        let key: String
    }

    let directory: String
    /// The CA certificate (PEM): what a verifying peer trusts.
    let caCertificate: String
    private let caKey: String
    private var issued = 0

    init(name: String = "streamgate test CA") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sg-certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        caCertificate = directory + "/ca.pem"
        caKey = directory + "/ca.key"
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                          "-keyout", caKey, "-out", caCertificate, "-days", "3", "-subj", "/CN=\(name)",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        try """
            [ ca ]
            default_ca = issuing
            [ issuing ]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/serial
            default_md = sha256
            policy = any_name
            unique_subject = no
            [ any_name ]
            commonName = supplied
            """.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
    }

    deinit { remove() }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Issues a leaf for `names` (DNS names or IP literals, all in subjectAltName; the first
    /// is also the CN). `expired`: valid only on 1-2 January 2020. `clientAuth`: a client
    /// certificate rather than a server one.
    func issue(_ names: [String], expired: Bool = false, clientAuth: Bool = false) throws -> Pair {
        issued += 1
        let base = "\(directory)/leaf\(issued)"
        try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                          "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(names[0])"])
        let sans = names.map { Self.isIP($0) ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        try """
            subjectAltName=\(sans)
            basicConstraints=CA:FALSE
            keyUsage=digitalSignature
            extendedKeyUsage=\(clientAuth ? "clientAuth" : "serverAuth")
            """.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try Self.openssl(["ca", "-batch", "-config", directory + "/ca.cnf", "-cert", caCertificate, "-keyfile", caKey,
                          "-in", base + ".csr", "-out", base + ".pem", "-extfile", base + ".ext", "-notext",
                          "-startdate", "20200101000000Z", "-enddate", expired ? "20200102000000Z" : "20991231000000Z"])
        return Pair(certificate: base + ".pem", key: base + ".key")
    }

    private static func isIP(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    static func openssl(_ args: [String]) throws {
        guard let binary = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestError("the openssl command is not installed: the TLS tests make their certificates with it; run scripts/install-deps.sh")
        }
        let pid = try ChildProcess.spawn(binary, args)
        let status = ChildProcess.reap(pid)
        if status != 0 { throw TestError("openssl \(args.prefix(2).joined(separator: " ")) failed (status \(status))") }
    }
}
