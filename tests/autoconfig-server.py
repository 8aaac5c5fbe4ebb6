#!/usr/bin/python3
# autoconfig-server.py: a local HTTPS server for autoconfig files, with a test CA made at start
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serves ROOT/HOST/PATH for GET https://HOST/PATH on 127.0.0.1 (a free port).

The client reaches it through libcurl's CONNECT_TO, so the URL, the Host header
and the certificate check keep the real names. Per file, next to it:
  PATH.redirect   answer 302 with the file's content as Location
  PATH.stream     answer 200 without a length and send data until the client goes
Every request is logged to STATE/log as "GET HOST PATH?QUERY".
State dir: ca.pem (the CA to trust), cert.pem/key.pem (the server's).
Prints "READY PORT" when it listens; exits when standard input closes.
"""
import argparse
import datetime
import http.server
import os
import ssl
import sys
import threading


def make_certs(state_dir, names):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mailshot test CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    with open(os.path.join(state_dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(state_dir, "cert.pem"), "wb") as f:
        f.write(leaf.public_bytes(pem))
    with open(os.path.join(state_dir, "key.pem"), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(state_dir, "cert.pem"), os.path.join(state_dir, "key.pem"))
    return ctx


def main():
    p = argparse.ArgumentParser(prog="autoconfig-server.py")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--root", required=True, help="files to serve, as ROOT/HOST/PATH")
    p.add_argument("--name", action="append", default=[],
                   help="a DNS name of the certificate (repeat)")
    p.add_argument("--plain", action="store_true", help="speak plain HTTP, no TLS")
    args = p.parse_args()

    log_lock = threading.Lock()
    log_path = os.path.join(args.state_dir, "log")
    root = os.path.realpath(args.root)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            with log_lock, open(log_path, "a") as f:
                f.write("GET %s %s\n" % (host, self.path))
            path = self.path.split("?", 1)[0]
            full = os.path.realpath(os.path.join(root, host, path.lstrip("/")))
            if not full.startswith(root + os.sep):
                self.send_error(404)
                return
            if os.path.isfile(full + ".redirect"):
                with open(full + ".redirect") as f:
                    target = f.read().strip()
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if os.path.isfile(full + ".stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.end_headers()
                chunk = b"<clientConfig>" + b" " * 8192
                try:
                    for _ in range(100000):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                return
            if not os.path.isfile(full):
                self.send_error(404)
                return
            with open(full, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A refused handshake is the client's verdict on our certificate.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    if not args.plain:
        ctx = make_certs(args.state_dir, args.name or ["localhost"])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("READY %d" % server.server_address[1], flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
