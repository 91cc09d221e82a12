#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (Tests/Fuzz/corpus/<target>/).

The committed seeds are this script's output; run it again after changing a seed list.
Control bytes come first where a target reads them (see each target's main.swift):
request-head, response-head, chunked-body: [flags][split lo][split hi]; sse-boundary:
[split lo][split hi]; session-record: [form]; proxy-header: [split lo][split hi]. The configs are copied from the repository.
"""
import hashlib, os, re, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def ctl(flags, split):
    return bytes([flags, split & 0xFF, split >> 8])


# --- request-head -------------------------------------------------------------------------
H = "Host: example.com\r\n"
requests = [
    ("get", f"GET / HTTP/1.1\r\n{H}\r\n"),
    ("get-query", f"GET /events?topic=a&b=%20 HTTP/1.1\r\n{H}Accept: text/event-stream\r\nLast-Event-ID: 42\r\n\r\n"),
    ("post-length", f"POST /api/items HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"),
    ("post-chunked", f"POST /upload HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("http10", "GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("options-star", f"OPTIONS * HTTP/1.1\r\n{H}\r\n"),
    ("absolute-form", "GET http://Example.COM:8080/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
    ("bare-lf", "GET /lf HTTP/1.1\nHost: a\n\n"),
    ("leading-crlf", f"\r\n\r\nGET / HTTP/1.1\r\n{H}\r\n"),
    ("pipelined", f"GET /1 HTTP/1.1\r\n{H}\r\nGET /2 HTTP/1.1\r\n{H}\r\n"),
    ("dotdot", f"GET /public/../admin HTTP/1.1\r\n{H}\r\n"),
    ("pct-dot", f"GET /a/%2e%2E/b/%2e/c HTTP/1.1\r\n{H}\r\n"),
    ("double-slash", f"GET //a///b// HTTP/1.1\r\n{H}\r\n"),
    ("encoded-slash", f"GET /a%2Fb%5cc\\d HTTP/1.1\r\n{H}\r\n"),
    ("lower-hex", f"GET /%7euser/%41%3a HTTP/1.1\r\n{H}\r\n"),
    ("climb", f"GET /../etc/passwd HTTP/1.1\r\n{H}\r\n"),
    ("dot-params", f"GET /a/..;x/b HTTP/1.1\r\n{H}\r\n"),
    ("cl-te", f"POST / HTTP/1.1\r\n{H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("cl-twice", f"POST / HTTP/1.1\r\n{H}Content-Length: 4\r\nContent-Length: 4, 4\r\n\r\nabcd"),
    ("te-gzip", f"POST / HTTP/1.1\r\n{H}Transfer-Encoding: gzip, chunked\r\n\r\n"),
    ("obs-fold", f"GET / HTTP/1.1\r\n{H}X-A: 1\r\n  folded\r\n\r\n"),
    ("space-colon", f"GET / HTTP/1.1\r\n{H}Bad : x\r\n\r\n"),
    ("bare-cr", f"GET / HTTP/1.1\r\n{H}X: a\rb\r\n\r\n"),
    ("connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
    ("http2", f"GET / HTTP/2.0\r\n{H}\r\n"),
    ("two-hosts", f"GET / HTTP/1.1\r\n{H}{H}\r\n"),
    ("host-port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n"),
    ("utf8-value", f"GET / HTTP/1.1\r\n{H}X-Name: caf\u00e9\r\n\r\n"),
    ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
]
write("request-head", [(n, ctl(i % 2 if n != "get" else 0, 7 + 3 * i) + (d.encode() if isinstance(d, str) else d))
                       for i, (n, d) in enumerate(requests)])

# --- response-head ------------------------------------------------------------------------
responses = [
    ("sse", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\ndata: x\n\n"),
    ("length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!"),
    ("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("gzip-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
    ("until-close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"),
    ("no-reason", "HTTP/1.1 204\r\n\r\n"),
    ("continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ("not-modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n"),
    ("204-te", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("cl-te", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("cl-differ", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"),
    ("latin1", b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"r\xe9sum\xe9.txt\"\r\n\r\n"),
    ("bad-status", "HTTP/1.1 999 Nope\r\n\r\n"),
    ("bare-lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
    ("close", "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    ("head-reply", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
    ("junk", "SSH-2.0-OpenSSH_9.6\r\n"),
]
write("response-head", [(n, ctl(2 if n == "head-reply" else i % 2, 5 + 4 * i) + (d.encode() if isinstance(d, str) else d))
                        for i, (n, d) in enumerate(responses)])

# --- chunked-body -------------------------------------------------------------------------
bodies = [
    ("simple", "5\r\nhello\r\n0\r\n\r\n"),
    ("two-chunks", "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"),
    ("hex-upper-lower", "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n"),
    ("extensions", "5;name=value;q=\"quoted\"\r\nhello\r\n0;last\r\n\r\n"),
    ("bws-extension", "5 ;x\r\nhello\r\n0\r\n\r\n"),
    ("trailers", "5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"),
    ("leading-zeros", "0000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("too-many-digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"),
    ("huge-size", "ffffffffffffffff\r\nab"),
    ("bare-lf", "5\nhello\n0\n\n"),
    ("missing-crlf", "5\r\nhelloX0\r\n\r\n"),
    ("sse-chunks", "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"),
    ("ws-only-ext", "5 \r\nhello\r\n0\r\n\r\n"),
    ("trailer-no-colon", "0\r\nBad\r\n\r\n"),
    ("partial", "10\r\nonly part"),
    ("after-end", "0\r\n\r\nHTTP/1.1 200 OK\r\n"),
]
write("chunked-body", [(n, ctl(2 * (i % 2) + (1 if n == "extensions" else 0), 3 + 5 * i) + d.encode()) for i, (n, d) in enumerate(bodies)])

# --- sse-boundary -------------------------------------------------------------------------
streams = [
    ("lf", "data: hello\n\n"),
    ("crlf", "event: update\r\ndata: {\"a\":1}\r\nid: 7\r\n\r\n"),
    ("cr", "data: a\rdata: b\r\r"),
    ("cr-then-lf-split", "data: x\r\n\r\n"),
    ("bom", b"\xef\xbb\xbfdata: first\n\n"),
    ("bom-partial", b"\xef\xbbdata: x\n\n"),
    ("comments", ": keepalive\n\n: another\nretry: 1000\n\ndata: after\n\n"),
    ("id-only", "id: 42\n\n"),
    ("id-nul", b"id: a\x00b\n\ndata: x\n\n"),
    ("id-long", "id: " + "x" * 300 + "\ndata: y\n\n"),
    ("id-no-colon", "id\ndata\n\n"),
    ("names", "dat: x\nevents: y\nidx: z\ndatax: w\ndata\n\n"),
    ("multi-line", "data: line1\ndata: line2\ndata: line3\n\nevent: end\ndata:\n\n"),
    ("unterminated", "data: never ends"),
    ("mixed-endings", "data: a\r\ndata: b\ndata: c\r\rdata: d\n\r\n"),
]
write("sse-boundary", [(n, bytes([11 * i + 2, 0]) + (d.encode() if isinstance(d, str) else d)) for i, (n, d) in enumerate(streams)])

# --- path ---------------------------------------------------------------------------------
paths = [
    ("root", "/"), ("plain", "/api/v1/items"), ("trailing-slash", "/a/b/"),
    ("dotdot", "/public/../admin"), ("dot", "/a/./b/."), ("pct-dot", "/a/%2e%2E/b"),
    ("pct-dot-mixed", "/a/.%2e/%2E./b"), ("double-slash", "//a//b///c"), ("encoded-slash", "/a%2Fb"),
    ("encoded-backslash", "/a%5cb"), ("backslash", "/a\\..\\b"), ("lower-hex", "/%7euser/%3a%2f"),
    ("unreserved", "/%41%42%43%2D%5F%7E%30"), ("reserved", "/a%20b%3Fc%23d%25e"), ("climb", "/a/../../b"),
    ("dot-params", "/a/..;jsessionid=1/b"), ("dot-param-single", "/.;x/a"), ("bad-escape", "/a%zz"),
    ("truncated-escape", "/a%4"), ("encoded-nul", "/a%00b"), ("encoded-del", "/a%7Fb"),
    ("utf8", "/caf%C3%A9/%c3%a9"), ("semicolon", "/a;b=c/d;e"), ("dot-end", "/a/b/.."),
]
write("path", paths)

# --- config -------------------------------------------------------------------------------
minimal = open(os.path.join(ROOT, "Tests/StreamgateCoreTests/ConfigTestSupport.swift")).read()
minimal = re.search(r'let minimalConfig = """\n(.*?)"""', minimal, re.S).group(1)
contract = open(os.path.join(ROOT, "Tests/StreamgateCoreTests/ConfigContractTests.swift")).read()
contract = re.search(r'static let contract = """\n(.*?)"""', contract, re.S).group(1)
contract = "\n".join(l[4:] if l.startswith("    ") else l for l in contract.split("\n"))
example = open(os.path.join(ROOT, "gateway.example.toml")).read()
example_auth = re.sub(r"^# (\[(?!upstreams\.NAME)|(?!tls_)[a-z_]+ = )", r"\1", example, flags=re.M)
configs = [
    ("example", example), ("example-auth-uncommented", example_auth), ("minimal", minimal), ("contract", contract),
    ("env", minimal + '\n[redis]\nurl = "redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0"\n'),
    ("env-missing", minimal + '\n[redis]\nurl = "redis://:${NOPE}@h:1/0"\nkey = "$${literal}"\n'),
    ("toml-syntax", 'a = 1\nb = "s\\u00e9\\t"\nc = [1, 2,\n 3,]\nd = { x = 1, y = "z" }\n[t.u."v w"]\ne = 1_000\nf = 0x1F\ng = -0.5e3\nh = true\ni = \'\'\'multi\nline\'\'\'\nj = """\\\n  folded"""\n'),
    ("dup-key", minimal + 'name = "dup"\n'),
    ("unknown-key", minimal + "[limits]\nmax_header_bytez = 1\n"),
    ("bad-values", minimal + '[limits]\nmax_header_bytes = "1B"\nkeepalive_timeout = "-3s"\n[sse]\nkeepalive = "forever"\n'),
    ("route-pattern", minimal + '[[routes]]\nname = "t"\npath = "/v1/tenants/{tenant}/events"\nupstream = "demo"\npath_prefix = "/x"\n'),
    ("empty", ""),
]
write("config", configs)

# --- session-record -----------------------------------------------------------------------
def h(*pairs):
    return b"\x01" + b"\x00".join(x.encode() for x in pairs)
records = [
    ("json-minimal", b"\x00" + b'{"user_id":"u1","tenant_id":"t1"}'),
    ("json-full", b"\x00" + b'{"user_id":"alice","tenant_id":"acme","expires_at":1893456000,"kind":"session","scopes":["events:read","admin"],"allowed_origins":["https://App.Example.com:443","http://localhost:3000"],"max_stream_duration":3600}'),
    ("json-int-ids", b"\x00" + b'{"user_id":42,"tenant_id":-7,"kind":"api_key","scopes":"a b  c"}'),
    ("json-rfc3339", b"\x00" + b'{"user_id":"u","tenant_id":"t","expires_at":"2030-01-01T00:00:00Z"}'),
    ("json-rfc3339-offset", b"\x00" + b'{"user_id":"u","tenant_id":"t","expires_at":"2030-01-01T10:30:00.123+05:30"}'),
    ("json-nulls", b"\x00" + b'{"user_id":"u","tenant_id":"t","kind":null,"scopes":null,"expires_at":null}'),
    ("json-escapes", b"\x00" + b'{"user_id":"\\u00e9l\\u00e8ve","tenant_id":"a\\tb","scopes":["\\ud83d\\ude00"]}'),
    ("json-bad-kind", b"\x00" + b'{"user_id":"u","tenant_id":"t","kind":"root"}'),
    ("json-float", b"\x00" + b'{"user_id":1.5,"tenant_id":"t","expires_at":1e3,"max_stream_duration":0}'),
    ("json-deep", b"\x00" + b'[' * 64 + b']' * 64),
    ("json-not-object", b"\x00" + b'"just a string"'),
    ("json-dup-keys", b"\x00" + b'{"user_id":"a","user_id":"b","tenant_id":"t"}'),
    ("json-big-number", b"\x00" + b'{"user_id":"u","tenant_id":"t","expires_at":99999999999999999999}'),
    ("hash-minimal", h("user_id", "u1", "tenant_id", "t1")),
    ("hash-full", h("user_id", "alice", "tenant_id", "acme", "expires_at", "1893456000", "kind", "api_key",
                    "scopes", "events:read admin", "allowed_origins", "https://app.example.com http://[::1]:8080",
                    "max_stream_duration", "60", "extra", "ignored")),
    ("hash-rfc3339", h("user_id", "u", "tenant_id", "t", "expires_at", "2030-02-29T00:00:00Z")),
    ("hash-negative-expiry", h("user_id", "u", "tenant_id", "t", "expires_at", "-1")),
    ("hash-plus", h("user_id", "u", "tenant_id", "t", "expires_at", "+5", "max_stream_duration", "0")),
    ("hash-control", h("user_id", "u\r\nX-Injected: 1", "tenant_id", "t")),
    ("hash-spaces", h("user_id", " u", "tenant_id", "t ")),
    ("hash-odd", h("user_id", "u", "tenant_id")),
    ("hash-bad-origin", h("user_id", "u", "tenant_id", "t", "allowed_origins", "https://a.example.com/path ftp://x")),
    ("hash-bad-scope", h("user_id", "u", "tenant_id", "t", "scopes", "a\"b")),
]
write("session-record", records)

# --- proxy-header -------------------------------------------------------------------------
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
def v2(cmd, fam, body, length=None):
    n = len(body) if length is None else length
    return SIG + bytes([0x20 | cmd, fam, n >> 8, n & 0xFF]) + body
V4 = bytes([203, 0, 113, 7, 10, 0, 0, 5, 0xC3, 0x50, 0x01, 0xBB])
V6 = bytes.fromhex("20010db8000000000000000000000001" "fd000000000000000000000000000002") + bytes([0x30, 0x39, 0x00, 0x50])
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF
unsigned = v2(1, 0x11, V4 + bytes([0x03, 0, 4, 0, 0, 0, 0]))
checksummed = unsigned[:-4] + crc32c(unsigned).to_bytes(4, "big")
GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
headers = [
    ("v1-tcp4", b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + GET),
    ("v1-tcp6", b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n" + GET),
    ("v1-unknown", b"PROXY UNKNOWN\r\n" + GET),
    ("v1-unknown-long", b"PROXY UNKNOWN " + b"f" * 91 + b"\r\n"),
    ("v1-leading-zero", b"PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"),
    ("v1-bare-lf", b"PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n"),
    ("v1-double-space", b"PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n"),
    ("v2-ipv4", v2(1, 0x11, V4) + GET),
    ("v2-ipv6", v2(1, 0x21, V6) + GET),
    ("v2-local", v2(0, 0x00, b"") + GET),
    ("v2-unspec", v2(1, 0x00, b"\x01\x02")),
    ("v2-unix", v2(1, 0x31, b"/" * 216)),
    ("v2-tlvs", v2(1, 0x11, V4 + b"\x01\x00\x02h2\x02\x00\x03a.b\x04\x00\x00\xea\x00\x05\x01vpce")),
    ("v2-crc", checksummed),
    ("v2-truncated", v2(1, 0x21, V6)[:30]),
    ("v2-huge-length", v2(1, 0x11, V4, length=0xFFFF)),
    ("v2-bad-command", v2(2, 0x11, V4)),
    ("http", GET),
]
write("proxy-header", [(n, bytes([7 * i + 3, 0]) + d) for i, (n, d) in enumerate(headers)])
