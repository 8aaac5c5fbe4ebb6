#!/usr/bin/python3
# oauth2-server.py: a real OAuth2 authorization server on 127.0.0.1 for Mailshot's tests (code + PKCE, refresh, expiry, revocation)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An OAuth2 authorization server (RFC 6749, PKCE RFC 7636) over HTTPS on 127.0.0.1.

Prints exactly one line, "READY <port>", on stdout once it listens. In --state-dir:

  ca.pem       the test CA that signed the server's certificate (for 127.0.0.1):
               the client trusts it through MAILSHOT_TEST_OAUTH2_CA_FILE
  tokens.json  the valid access tokens, {"TOKEN": {"user": U, "exp": UNIX}},
               rewritten atomically on every change: tests/smtp-server.py
               --oauth2-tokens checks AUTH XOAUTH2 / OAUTHBEARER against it
  issued       every access and refresh token issued, one a line
  log          one line per event: authorize USER | authorize-denied |
               authorize-refused REASON | token GRANT ok | token GRANT ERROR |
               revoke N | expire N

Endpoints:
  GET  /authorize   the user "signs in" at once as login_hint and the answer is a
                    302 to redirect_uri with code and state (what a browser follows)
  POST /token       grant_type=authorization_code (checks client_id, redirect_uri
                    and the PKCE verifier, S256) or refresh_token (rotates it)
  POST /admin/deny    the next /authorize answers error=access_denied
  POST /admin/revoke  every refresh token is revoked (invalid_grant from then on)
  POST /admin/expire  every access token expires now
"""

import argparse
import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse


def die(msg):
    print("oauth2-server.py: " + msg, file=sys.stderr, flush=True)
    sys.exit(2)


def make_ca_and_cert(state_dir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mailshot test CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    ca_path = os.path.join(state_dir, "ca.pem")
    cert_path = os.path.join(state_dir, "server-cert.pem")
    key_path = os.path.join(state_dir, "server-key.pem")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def b64url_sha256(text):
    digest = hashlib.sha256(text.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.codes = {}       # code -> dict(client_id, redirect_uri, challenge, user, scope)
        self.access = {}      # token -> dict(user, exp)
        self.refresh = {}     # token -> dict(user, client_id, scope)
        self.deny_next = False
        self.log_file = open(os.path.join(args.state_dir, "log"), "a", buffering=1)
        self.write_tokens()

    def log(self, line):
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def write_tokens(self):
        path = os.path.join(self.args.state_dir, "tokens.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.access, f)
        os.rename(tmp, path)

    def issue(self, user, client_id, scope):
        access = "at-" + secrets.token_urlsafe(24)
        refresh = "rt-" + secrets.token_urlsafe(24)
        # Every token ever issued, for the tests that look for leaks.
        with open(os.path.join(self.args.state_dir, "issued"), "a") as f:
            f.write(access + "\n" + refresh + "\n")
        self.access[access] = {"user": user, "exp": time.time() + self.args.access_lifetime}
        self.refresh[refresh] = {"user": user, "client_id": client_id, "scope": scope}
        self.write_tokens()
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": self.args.access_lifetime, "refresh_token": refresh, "scope": scope}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MailshotTestOAuth2/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, uri, params):
        sep = "&" if "?" in uri else "?"
        self.send_response(302)
        self.send_header("Location", uri + sep + urllib.parse.urlencode(params))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/authorize":
            self.send_text(404, "not found")
            return
        q = dict(urllib.parse.parse_qsl(url.query))
        st = self.state
        redirect_uri = q.get("redirect_uri", "")
        ru = urllib.parse.urlsplit(redirect_uri)
        # RFC 8252: only a loopback IP literal with a port, over http.
        if ru.scheme != "http" or ru.hostname != "127.0.0.1" or not ru.port:
            st.log("authorize-refused redirect_uri")
            self.send_text(400, "bad redirect_uri")
            return
        if q.get("client_id") != st.args.client_id:
            st.log("authorize-refused client_id")
            self.redirect(redirect_uri, {"error": "unauthorized_client", "state": q.get("state", "")})
            return
        if (q.get("response_type") != "code" or q.get("code_challenge_method") != "S256"
                or len(q.get("code_challenge", "")) != 43 or not q.get("state")):
            st.log("authorize-refused request")
            self.redirect(redirect_uri, {"error": "invalid_request", "state": q.get("state", "")})
            return
        with st.lock:
            if st.deny_next:
                st.deny_next = False
                st.log("authorize-denied")
                self.redirect(redirect_uri, {"error": "access_denied",
                                             "error_description": "The user declined.",
                                             "state": q["state"]})
                return
            code = "code-" + secrets.token_urlsafe(16)
            user = q.get("login_hint") or "user@example.org"
            st.codes[code] = {"client_id": q["client_id"], "redirect_uri": redirect_uri,
                              "challenge": q["code_challenge"], "user": user,
                              "scope": q.get("scope", "")}
            st.log("authorize " + user)
        self.redirect(redirect_uri, {"code": code, "state": q["state"]})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        form = dict(urllib.parse.parse_qsl(body))
        st = self.state
        path = urllib.parse.urlsplit(self.path).path
        with st.lock:
            if path == "/admin/deny":
                st.deny_next = True
                self.send_json(200, {})
                return
            if path == "/admin/revoke":
                st.log("revoke %d" % len(st.refresh))
                st.refresh.clear()
                self.send_json(200, {})
                return
            if path == "/admin/expire":
                st.log("expire %d" % len(st.access))
                for t in st.access.values():
                    t["exp"] = 0
                st.write_tokens()
                self.send_json(200, {})
                return
            if path != "/token":
                self.send_text(404, "not found")
                return
            grant = form.get("grant_type", "")
            if form.get("client_id") != st.args.client_id:
                st.log("token %s invalid_client" % grant)
                self.send_json(401, {"error": "invalid_client", "error_description": "Unknown client."})
                return
            if grant == "authorization_code":
                entry = st.codes.pop(form.get("code", ""), None)
                if entry is None:
                    st.log("token authorization_code invalid_grant")
                    self.send_json(400, {"error": "invalid_grant", "error_description": "Unknown or used code."})
                    return
                if form.get("redirect_uri") != entry["redirect_uri"]:
                    st.log("token authorization_code redirect_uri")
                    self.send_json(400, {"error": "invalid_grant", "error_description": "redirect_uri differs."})
                    return
                verifier = form.get("code_verifier", "")
                if not (43 <= len(verifier) <= 128) or b64url_sha256(verifier) != entry["challenge"]:
                    st.log("token authorization_code pkce")
                    self.send_json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed."})
                    return
                st.log("token authorization_code ok")
                self.send_json(200, st.issue(entry["user"], entry["client_id"], entry["scope"]))
                return
            if grant == "refresh_token":
                entry = st.refresh.pop(form.get("refresh_token", ""), None)
                if entry is None:
                    st.log("token refresh_token invalid_grant")
                    self.send_json(400, {"error": "invalid_grant",
                                         "error_description": "AADSTS70008: The refresh token has expired or was revoked."})
                    return
                st.log("token refresh_token ok")
                self.send_json(200, st.issue(entry["user"], entry["client_id"], entry["scope"]))
                return
            st.log("token %s unsupported" % grant)
            self.send_json(400, {"error": "unsupported_grant_type"})


def main(argv):
    p = argparse.ArgumentParser(prog="oauth2-server.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", required=True, metavar="DIR")
    p.add_argument("--client-id", default="test-client", help="the one registered client (default test-client)")
    p.add_argument("--access-lifetime", type=int, default=3600, metavar="SECONDS",
                   help="how long an access token lives (expires_in)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when standard input closes (no server outlives its test)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.state_dir):
        die(f"--state-dir {args.state_dir}: not a directory")

    ctx = make_ca_and_cert(args.state_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.state = State(args)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
