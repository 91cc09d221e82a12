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
a = p.parse_args()

ctx = ssl.create_default_context(cafile=a.ca)
ctx.set_alpn_protocols(a.alpn.split(","))
if a.max_version:
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = getattr(ssl.TLSVersion, a.max_version)
out = {}
try:
    raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
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
