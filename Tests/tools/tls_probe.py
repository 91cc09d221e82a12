#!/usr/bin/env python3
"""An independent TLS client for the gateway's TLS tests (Python's ssl module, i.e. OpenSSL
driven by different code than ours). Connects, verifies the server against --ca for
--server-name, offers ALPN h2 and http/1.1, sends one GET and prints one JSON object:
  {"version", "alpn", "subject_cn", "status", "headers", "body"}  or  {"error": "..."}.
With --events N it reads an event stream until N `data:` lines arrived, then closes."""
import argparse, json, socket, ssl, sys

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--ca", required=True)
p.add_argument("--server-name", default="localhost")
p.add_argument("--path", default="/")
p.add_argument("--header", action="append", default=[])
p.add_argument("--events", type=int, default=0)
p.add_argument("--alpn", default="h2,http/1.1")
p.add_argument("--max-version", default="")
p.add_argument("--timeout", type=float, default=10)
p.add_argument("--proxy-v1", default="", help="a PROXY protocol v1 line (without CRLF) sent in the clear first")
p.add_argument("--coalesce", action="store_true", help="send the PROXY line and the ClientHello in one write")
a = p.parse_args()

ctx = ssl.create_default_context(cafile=a.ca)
ctx.set_alpn_protocols(a.alpn.split(","))
if a.max_version:
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = getattr(ssl.TLSVersion, a.max_version)


class MemoryTLS:
    """TLS over memory BIOs, so the first flight can share a write with the PROXY line."""

    def __init__(self, raw, prefix):
        self.raw, self.inc, self.out = raw, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=a.server_name)
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                data = prefix + self.out.read()
                prefix = b""
                if data:
                    raw.sendall(data)
                self.fill()

    def flush(self):
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def fill(self):
        chunk = self.raw.recv(65536)
        if not chunk:
            raise OSError("closed during TLS")
        self.inc.write(chunk)

    def sendall(self, data):
        self.obj.write(data)
        self.flush()

    def recv(self, n):
        while True:
            try:
                return self.obj.read(n)
            except ssl.SSLWantReadError:
                try:
                    self.fill()
                except OSError:
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    def version(self): return self.obj.version()
    def selected_alpn_protocol(self): return self.obj.selected_alpn_protocol()
    def getpeercert(self): return self.obj.getpeercert()
    def close(self): self.raw.close()


out = {}
try:
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    line = a.proxy_v1.encode() + b"\r\n" if a.proxy_v1 else b""
    if a.coalesce:
        s = MemoryTLS(raw, line)
    else:
        if line:
            raw.sendall(line)
        s = ctx.wrap_socket(raw, server_hostname=a.server_name)
    out["version"] = s.version()
    out["alpn"] = s.selected_alpn_protocol()
    cert = s.getpeercert()
    out["subject_cn"] = dict(x[0] for x in cert["subject"]).get("commonName")
    req = f"GET {a.path} HTTP/1.1\r\nHost: {a.server_name}\r\n" + "".join(h + "\r\n" for h in a.header)
    if not a.events:
        req += "Connection: close\r\n"
    s.sendall((req + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    out["status"] = int(lines[0].split(" ")[1])
    out["headers"] = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
    while True:
        if a.events and body.count(b"\ndata:") + body.startswith(b"data:") >= a.events:
            break
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    out["body"] = body.decode("utf-8", "replace")
    s.close()
except (ssl.SSLError, OSError, ValueError, IndexError) as e:
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
