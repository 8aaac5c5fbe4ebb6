#!/usr/bin/python3
# smtp-server.py: the real SMTP test server (aiosmtpd) with TLS, AUTH, scripted faults and a record of what it got
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real SMTP server on 127.0.0.1 for Mailshot's tests.

Prints exactly one line, "READY <port>", on stdout once it listens; everything
else goes to stderr. What it receives lands in --state-dir:

  log          one line per event, flushed as it happens:
                 connect | tls | tls-failed | ehlo NAME | helo NAME | starttls |
                 auth MECH USER ok|fail (MECH also XOAUTH2 / OAUTHBEARER, with --oauth2-tokens) | mail FROM | rcpt TO | data N (bytes) |
                 data-command | bdat SIZE [last] (a BDAT command, before its chunk) |
                 noop | rset | quit |
                 reply CODE TEXT (every 4xx/5xx reply, first line) |
                 fault CMD CODE | stall CMD | drop N (message N dropped after
                 its body) | drop-body N (connection cut after N body bytes) |
                 endless CMD N (N continuation lines sent before the client
                 went away) | drip GREETING N (bytes) | starttls-garbage |
                 disconnect
               with --log-sessions also: accept (a TCP connection, before any
                 TLS) | tls-error (a TLS handshake that did not complete, e.g. a
                 bare TCP connection to the SMTPS port) | lost-connection (just
                 before "disconnect", when the client went away without QUIT
                 and the server had not closed the connection itself, as
                 Postfix logs "lost connection after CMD")
  msg-000001.eml  each accepted message, exact bytes (CRLF kept, dot-unstuffed)
  envelopes    one line per accepted message: "N FROM TO,TO"
  cert.pem, key.pem, fingerprint   in TLS modes (SHA-256, uppercase hex with colons)

Commands are logged when received, before any reply; "reply" lines tell what
was refused. Message numbers count accepted messages over all connections.
With --pipelining the EHLO reply offers PIPELINING (RFC 2920): a client may
then send MAIL, RCPT and DATA in one write. They are still read and answered
one at a time, in order, each reply written before the next command is read.

With --chunking the EHLO reply offers CHUNKING (RFC 3030): "BDAT SIZE [LAST]"
is followed by exactly SIZE bytes (no dot-stuffing, no end marker), read
across as many reads as they take; each chunk gets "250 2.0.0 Ok: N octets
received", and the LAST one the reply to the end of the message, which is
then stored, numbered and logged ("data N") exactly as one sent with DATA.
A chunk is always read before it is answered, also when it is refused (503
without MAIL, 554 without a valid RCPT); BDAT ... LAST ends the transaction
whatever its answer, and a refused chunk ends it at once. DATA after BDAT in
one transaction gets 503. Without --chunking, BDAT is an unknown command.

Out of step: a fault, drop or delay with "session=K" applies to the K-th
occurrence of its command on each connection ("session=K+": the K-th and
every later one), so that one message in the middle of a pipelined window
is refused, dropped or answered late while the others keep their replies.
"""

import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, MISSING, auth_mechanism, syntax
try:
    from aiosmtpd.smtp import TLSSetupException
except ImportError:  # pragma: no cover
    TLSSetupException = Exception

# Hostile modes: the code an endless reply carries at each command.
ENDLESS_CODES = {"GREETING": "220", "EHLO": "250", "HELO": "250", "MAIL": "250", "RCPT": "250",
                 "DATA": "354", "EOM": "250", "AUTH": "334"}
# The success reply to the end of a message under --escape-reply: a colour, a
# window title (OSC), BEL, a C1 control, invalid UTF-8 and a bare CR.
ESCAPE_REPLY = (b"250 2.0.0 Ok: queued as \x1b[31mQ%d\x1b[0m \x1b]0;owned\x07 bell\x07 "
                b"c1\xc2\x9b latin1\xe9 bad\xff\xfe cr\rend")

COMMANDS_WITH_FAULTS = ("GREETING", "EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                        "RCPT", "DATA", "BDAT", "EOM", "RSET", "NOOP", "QUIT")
ALL_MECHS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")


def die(msg):
    print("smtp-server.py: " + msg, file=sys.stderr, flush=True)
    sys.exit(2)


class Session:
    """Which occurrences on a connection a fault or delay takes ("session=K"
    or "session=K+"); without it, every one."""

    def __init__(self, spec, what):
        m = re.fullmatch(r"(\d+)(\+?)", spec)
        if not m or int(m.group(1)) < 1:
            die(f"bad {what}: want session=K or session=K+ (K from 1)")
        self.k = int(m.group(1))
        self.later = m.group(2) == "+"

    def matches(self, n):
        return n == self.k or (self.later and n > self.k)


def session_matches(session, n):
    return session is None or session.matches(n)


class Fault:
    """A scripted reply: TEXT at CMD, for occurrences after+1 .. after+count
    (of those on a connection that session=K[+] selects, if given)."""

    def __init__(self, spec):
        cmd, sep, rest = spec.partition(":")
        cmd = cmd.strip().upper()
        if not sep or cmd not in COMMANDS_WITH_FAULTS:
            die(f"bad --fault {spec!r}: want CMD:CODE TEXT[:count=N][:after=M][:session=K[+]], "
                f"CMD one of {', '.join(COMMANDS_WITH_FAULTS)}")
        self.count = None
        self.after = 0
        self.session = None
        while True:
            m = re.search(r":(count|after|session)=(\d+\+?)$", rest)
            if not m:
                break
            if m.group(1) == "session":
                self.session = Session(m.group(2), f"--fault {spec!r}")
            elif not m.group(2).isdigit():
                die(f"bad --fault {spec!r}: {m.group(1)} wants a number")
            elif m.group(1) == "count":
                self.count = int(m.group(2))
            else:
                self.after = int(m.group(2))
            rest = rest[:m.start()]
        self.cmd = cmd
        self.drop = rest.strip().upper() == "DROP"
        self.seen = 0
        if self.drop:
            self.code = "DROP"
            self.lines = []
            return
        lines = rest.replace("\\n", "\n").split("\n")
        if not re.match(r"^[2-5]\d\d( |$)", lines[0]):
            die(f"bad --fault {spec!r}: the reply must start with a 3-digit code")
        self.code = lines[0][:3]
        out = []
        for i, line in enumerate(lines):
            text = line[4:] if line.startswith(self.code) else line
            sep = " " if i == len(lines) - 1 else "-"
            out.append(self.code + sep + text.strip())
        self.lines = out

    def take(self, n):
        """Counts one occurrence of the command, the N-th on its connection;
        True if this one gets the fault."""
        if not session_matches(self.session, n):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.count is not None and self.seen > self.after + self.count:
            return False
        return True


class State:
    """What is shared by all connections (one asyncio thread, so no locking)."""

    def __init__(self, args):
        self.args = args
        self.dir = args.state_dir
        self.log_file = open(os.path.join(self.dir, "log"), "a", encoding="utf-8",
                             errors="backslashreplace")
        self.env_file = open(os.path.join(self.dir, "envelopes"), "a",
                             encoding="utf-8", errors="backslashreplace")
        self.accepted = 0
        self.bodies = 0
        self.faults = [Fault(s) for s in (args.fault or [])]
        self.stalls = set()
        for s in args.stall or []:
            for c in s.split(","):
                c = c.strip().upper()
                if c not in COMMANDS_WITH_FAULTS:
                    die(f"bad --stall {c!r}: want one of {', '.join(COMMANDS_WITH_FAULTS)}")
                self.stalls.add(c)
        # CMD -> [(seconds, Session or None)]
        self.delays = {}
        for s in args.delay or []:
            c, _, rest = s.partition(":")
            c = c.strip().upper()
            secs, _, sel = rest.partition(":")
            session = None
            if sel:
                if not sel.startswith("session="):
                    die(f"bad --delay {s!r}: want CMD:SECONDS[:session=K[+]]")
                session = Session(sel[8:], f"--delay {s!r}")
            if c not in COMMANDS_WITH_FAULTS:
                die(f"bad --delay {s!r}: want CMD:SECONDS[:session=K[+]]")
            try:
                self.delays.setdefault(c, []).append((float(secs), session))
            except ValueError:
                die(f"bad --delay {s!r}: want CMD:SECONDS[:session=K[+]]")
        self.reject_rcpt = re.compile(args.reject_rcpt) if args.reject_rcpt else None
        self.drop = None
        if args.drop_after_data is not None:
            v = args.drop_after_data
            if v == "all":
                self.drop = ("all", 0)
            elif v.startswith("count="):
                self.drop = ("count", int(v[6:]))
            elif v.isdigit():
                self.drop = ("nth", int(v))
            else:
                die(f"bad --drop-after-data={v}: want N (only the Nth message) or count=N (the first N)")
        self.protocols = set()
        self.endless = None
        if args.endless:
            c = args.endless.strip().upper()
            if c not in ENDLESS_CODES:
                die(f"bad --endless {args.endless!r}: want one of {', '.join(ENDLESS_CODES)}")
            self.endless = c

    def log(self, line):
        # One text line per event, whatever a client sent (a TLS ClientHello
        # to a plain port echoes binary into "reply 500 ..."): escape it.
        line = line.replace("\r", "\\r").replace("\n", "\\n")
        line = "".join(c if " " <= c <= "~" or (ord(c) > 0x9f and not 0xd800 <= ord(c) <= 0xdfff)
                       else "\\x%02x" % ord(c) if ord(c) < 0x100 else "\\u%04x" % ord(c) for c in line)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def fault_for(self, cmd, n):
        """The fault for CMD, the N-th on its connection, or None."""
        hit = None
        for f in self.faults:
            if f.cmd == cmd and f.take(n) and hit is None:
                hit = f
        return hit

    def delay_for(self, cmd, n):
        """Seconds to wait before answering CMD, the N-th on its connection."""
        return sum(secs for secs, session in self.delays.get(cmd, ()) if session_matches(session, n))

    def should_drop(self, n):
        if self.drop is None:
            return False
        kind, v = self.drop
        return kind == "all" or (kind == "nth" and n == v) or (kind == "count" and n <= v)

    def save(self, envelope):
        self.accepted += 1
        n = self.accepted
        if not self.args.no_bodies:
            path = os.path.join(self.dir, "msg-%06d.eml" % n)
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(envelope.original_content)
            # Renamed into place so a reader never sees half a message.
            os.rename(tmp, path)
        self.env_file.write("%d %s %s\n" % (n, envelope.mail_from,
                                             ",".join(envelope.rcpt_tos)))
        self.env_file.flush()
        return n


def fqdn_form(name):
    """Postfix's reject_non_fqdn_helo_hostname: a name with a dot, or an
    address literal ([192.0.2.1], which that check leaves alone)."""
    name = name.strip()
    if name.startswith("[") and name.endswith("]"):
        return True
    return "." in name.strip(".") and not name.endswith(".")


def helo_rejection(name):
    return "504 5.5.2 <%s>: Helo command rejected: need fully-qualified hostname" % name


def addr_of(arg):
    if not arg:
        return ""
    m = re.search(r"<([^>]*)>", arg)
    if m:
        return m.group(1)
    _, _, rest = arg.partition(":")
    return rest.strip().split(" ")[0]


class Handler:
    def __init__(self, state):
        self.state = state

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd leaves this to the hook once one exists.
        session.host_name = hostname
        # An empty "AUTH" line would still claim AUTH support.
        responses = [r for r in responses if r.strip() not in ("250-AUTH", "250 AUTH")]
        if self.state.args.pipelining:
            # After the greeting line, as real servers list it.
            responses.insert(1, "250-PIPELINING")
        if self.state.args.chunking:
            # Before the last line, as Postfix lists it.
            responses.insert(len(responses) - 1, "250-CHUNKING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        limit = self.state.args.max_per_session
        if limit and server.session_messages >= limit:
            reply = self.state.args.max_per_session_reply
            if reply.startswith("421"):
                # 421 closes the channel (RFC 5321 3.8), as Exim does at
                # smtp_accept_max_per_connection.
                await server.push(reply)
                server.closed_by_server = True
                server.transport.close()
                await server.hang()
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        if self.state.args.multiline_replies:
            return "250-2.1.0 Sender <%s>\r\n250-2.1.0 looks fine\r\n250 2.1.0 Ok" % address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if server.bad_helo is not None:
            # Postfix's default smtpd_delay_reject: the HELO restriction
            # is applied at RCPT TO.
            return helo_rejection(server.bad_helo)
        if self.state.reject_rcpt and self.state.reject_rcpt.search(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        if self.state.args.multiline_replies:
            return "250-2.1.5 Recipient <%s>\r\n250 2.1.5 Ok" % address
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        # The end of a message, sent with DATA or BDAT ... LAST.
        st = self.state
        st.bodies += 1
        n = st.bodies
        on_conn = server.occurrence("EOM")
        st.log("data %d" % len(envelope.original_content))
        if st.delay_for("EOM", on_conn):
            await asyncio.sleep(st.delay_for("EOM", on_conn))
        if "EOM" in st.stalls:
            st.log("stall EOM")
            await server.hang()
        if st.should_drop(n):
            st.log("drop %d" % n)
            await server.hang(close=True)
        f = st.fault_for("EOM", on_conn)
        if f is not None:
            if f.drop:
                st.log("drop %d" % n)
                await server.hang(close=True)
            st.log("fault EOM " + f.code)
            if f.code.startswith("2"):
                st.save(envelope)
                server.session_messages += 1
            if f.code == "421":
                await server.reply_fault(f)
            return "\r\n".join(f.lines)
        if st.endless == "EOM":
            await server.endless_reply("EOM")
        st.save(envelope)
        server.session_messages += 1
        if st.args.escape_reply:
            return ESCAPE_REPLY % st.accepted
        if st.args.multiline_replies:
            return "250-2.0.0 Ok\r\n250 2.0.0 queued as %d" % st.accepted
        return "250 2.0.0 Ok: queued as %d" % st.accepted

    async def handle_exception(self, error):
        # A failed TLS handshake is the client's verdict on our certificate: expected in tests.
        if not isinstance(error, TLSSetupException):
            print("smtp-server.py: session error: %r" % error, file=sys.stderr, flush=True)
        return "500 5.3.0 Error: %s" % error.__class__.__name__

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, server, args):
        if len(args) > 1:
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = "<%s.%d@localhost>" % (secrets.token_hex(8), int(time.time()))
        response = await server.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = response.decode("utf-8", "replace").rpartition(" ")
        want = hmac.new(self.state.args.password.encode(), challenge.encode(),
                        hashlib.md5).hexdigest()
        ok = user == self.state.args.user and hmac.compare_digest(digest.lower(), want)
        self.state.log("auth CRAM-MD5 %s %s" % (user, "ok" if ok else "fail"))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False)


    # OAuth2 bearer tokens, checked against the test authorization server's
    # tokens.json (--oauth2-tokens). A refused token gets the error challenge
    # real servers send (Google's for XOAUTH2, RFC 7628 for OAUTHBEARER),
    # then 535 once the client has answered it.
    def bearer_ok(self, user, token):
        path = self.state.args.oauth2_tokens
        if not path or not token:
            return False
        try:
            with open(path) as f:
                tokens = json.load(f)
        except (OSError, ValueError):
            return False
        entry = tokens.get(token)
        return bool(entry) and entry.get("user") == user and entry.get("exp", 0) > time.time()

    async def bearer_auth(self, server, args, mech):
        if len(args) > 2:
            try:
                raw = base64.b64decode(args[2], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            raw = await server.challenge_auth("")
            if raw is MISSING:
                return AuthResult(success=False, handled=True)
        text = raw.decode("utf-8", "replace")
        user, token = "", ""
        if mech == "XOAUTH2":
            # user=USER^Aauth=Bearer TOKEN^A^A
            for part in text.split("\x01"):
                if part.startswith("user="):
                    user = part[5:]
                elif part.startswith("auth=Bearer "):
                    token = part[12:]
        else:
            # n,a=USER,^Ahost=H^Aport=P^Aauth=Bearer TOKEN^A^A
            gs2, _, rest = text.partition("\x01")
            for field in gs2.split(","):
                if field.startswith("a="):
                    user = field[2:]
            for part in rest.split("\x01"):
                if part.startswith("auth=Bearer "):
                    token = part[12:]
        ok = self.bearer_ok(user, token)
        self.state.log("auth %s %s %s" % (mech, user, "ok" if ok else "fail"))
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        status = "401" if mech == "XOAUTH2" else "invalid_token"
        challenge = json.dumps({"status": status, "schemes": "bearer", "scope": "https://mail.example/"})
        answer = await server.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False)

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, server, args):
        return await self.bearer_auth(server, args, "XOAUTH2")

    @auth_mechanism("OAUTHBEARER")
    async def auth_OAUTHBEARER(self, server, args):
        return await self.bearer_auth(server, args, "OAUTHBEARER")


def make_authenticator(state):
    def authenticator(server, session, envelope, mechanism, auth_data):
        user = auth_data.login.decode("utf-8", "replace")
        ok = (user == state.args.user
              and hmac.compare_digest(auth_data.password,
                                      state.args.password.encode()))
        state.log("auth %s %s %s" % (mechanism, user, "ok" if ok else "fail"))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd then sends the 535 itself; otherwise the client waits forever.
        return AuthResult(success=False, handled=False)
    return authenticator


class _ReaderTransport:
    """The transport as the StreamReader sees it under --read-rate: no flow control."""

    def __init__(self, transport):
        self._transport = transport

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass

    def __getattr__(self, name):
        return getattr(self._transport, name)


class HarnessSMTP(SMTP):
    def __init__(self, handler, state, smtps, **kw):
        self.chunking = state.args.chunking
        super().__init__(handler, **kw)
        self.state = state
        self.smtps = smtps
        self.session_messages = 0
        self.quit_seen = False
        self.closed_by_server = False
        self.bad_helo = None
        # --refused-greeting-waits: the greeting refused, the connection kept.
        self.greeting_refused = False
        self.in_body = False
        self.body_bytes = 0
        self.read_paused = False
        self.held = bytearray()
        # Per connection: how often each command came (for session=K).
        self.occurrences = {}
        # The chunks of a BDAT transaction so far, or None outside one.
        self.bdat = None
        self.bdat_size = 0
        # Wrap every command so faults, stalls and the log apply uniformly.
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self._wrap(name, method)

    def occurrence(self, cmd):
        """Counts CMD on this connection; returns its number (1 for the first)."""
        self.occurrences[cmd] = self.occurrences.get(cmd, 0) + 1
        return self.occurrences[cmd]

    def _set_post_data_state(self):
        # Also after EHLO and RSET: a BDAT transaction ends with them.
        super()._set_post_data_state()
        self.bdat = None
        self.bdat_size = 0

    def _wrap(self, cmd, method):
        async def wrapped(arg):
            st = self.state
            if cmd == "BDAT":
                # Faults, stalls and delays come once its chunk is read.
                st.log("bdat " + " ".join((arg or "").lower().split()))
                return await method(arg)
            if cmd == "QUIT":
                self.quit_seen = True
            elif self.greeting_refused:
                # Postfix after a refused greeting: nothing but QUIT.
                st.log(cmd.lower())
                await self.push("503 5.5.1 Error: access denied")
                return
            if cmd in ("EHLO", "HELO"):
                st.log("%s %s" % (cmd.lower(), arg or ""))
            elif cmd in ("MAIL", "RCPT"):
                st.log("%s %s" % (cmd.lower(), addr_of(arg)))
            elif cmd in ("STARTTLS", "RSET", "QUIT", "NOOP"):
                st.log(cmd.lower())
            elif cmd == "DATA":
                # "data N" comes after the body; this is the command itself.
                st.log("data-command")
            if cmd == "DATA" and self.bdat is not None:
                # RFC 3030 section 3: not both in one transaction.
                await self.push("503 5.5.1 Error: DATA after BDAT")
                return
            n = self.occurrence(cmd)
            if st.delay_for(cmd, n):
                await asyncio.sleep(st.delay_for(cmd, n))
            if cmd in st.stalls:
                st.log("stall " + cmd)
                await self.hang()
            if cmd == st.endless:
                await self.endless_reply(cmd)
            if cmd == "STARTTLS" and st.args.starttls_garbage is not None:
                # "Go ahead", then bytes that are no TLS record at all: at
                # once (in the same packet), or once the client is in its
                # handshake.
                st.log("starttls-garbage")
                garbage = b"HTTP/1.1 400 Bad Request\r\n\x00\xff\xfe garbage \x1b[2J" * 64
                go_ahead = b"220 2.0.0 Ready to start TLS\r\n"
                if st.args.starttls_garbage > 0:
                    self._writer.write(go_ahead)
                    await self._writer.drain()
                    await asyncio.sleep(st.args.starttls_garbage)
                    self._writer.write(garbage)
                else:
                    # One write: the client reads both at once.
                    self._writer.write(go_ahead + garbage)
                await self._writer.drain()
                await self.hang()
            f = st.fault_for(cmd, n)
            if f is not None:
                if f.drop:
                    st.log("drop " + cmd)
                    await self.hang(close=True)
                st.log("fault %s %s" % (cmd, f.code))
                await self.reply_fault(f)
                return
            if cmd in ("EHLO", "HELO") and st.args.strict_helo and arg and not fqdn_form(arg):
                if st.args.strict_helo == "rcpt":
                    self.bad_helo = arg.strip()
                else:
                    await self.push(helo_rejection(arg.strip()))
                    return
            if cmd == "STARTTLS":
                try:
                    return await method(arg)
                except TLSSetupException:
                    st.log("tls-failed")
                    raise
            if cmd == "DATA":
                self.body_bytes = 0
                self.in_body = True
                try:
                    return await method(arg)
                finally:
                    self.in_body = False
            return await method(arg)
        for attr in ("__smtp_syntax__", "__smtp_syntax_when__", "__smtp_syntax_extended__"):
            if hasattr(method, attr):
                setattr(wrapped, attr, getattr(method, attr))
        return wrapped

    @syntax("BDAT chunk-size [LAST]", when="chunking")
    async def smtp_BDAT(self, arg):
        """RFC 3030: the chunk is read whole before anything is answered, so
        that the stream stays in step whatever the answer."""
        st = self.state
        if not self.chunking:
            # What aiosmtpd says to a command it does not know; the chunk is
            # then read as commands, as by a server without CHUNKING.
            await self.push('500 Error: command "BDAT" not recognized')
            return
        words = (arg or "").split()
        if (not 1 <= len(words) <= 2 or not words[0].isdigit()
                or (len(words) == 2 and words[1].upper() != "LAST")):
            # No size to skip: the chunk, if any, is read as commands.
            await self.push("501 5.5.4 Syntax: BDAT chunk-size [LAST]")
            return
        size = int(words[0])
        last = len(words) == 2
        self.body_bytes = 0
        self.in_body = True
        try:
            chunk = await self._reader.readexactly(size)
        except asyncio.IncompleteReadError:
            # The client went away in the middle of the chunk.
            await self.hang(close=True)
        finally:
            self.in_body = False
        if await self.check_helo_needed("EHLO") or await self.check_auth_needed("BDAT"):
            return
        if not self.envelope.rcpt_tos:
            # No transaction, or its MAIL or every RCPT was refused. LAST
            # still ends it, as the dot ends DATA's: a window pipelined
            # behind goes on with its next MAIL.
            no_mail = not self.envelope.mail_from
            if last:
                self._set_post_data_state()
            if no_mail:
                await self.push("503 5.5.1 Error: need MAIL command")
            else:
                await self.push("554 5.5.1 Error: no valid recipients")
            return
        n = self.occurrence("BDAT")
        if st.delay_for("BDAT", n):
            await asyncio.sleep(st.delay_for("BDAT", n))
        if "BDAT" in st.stalls:
            st.log("stall BDAT")
            await self.hang()
        if self.bdat is None:
            self.bdat = bytearray()
        limit = self.data_size_limit
        self.bdat_size += size
        if limit and self.bdat_size > limit:
            # Refused at LAST, as DATA refuses at the end; kept no longer.
            self.bdat = bytearray()
        else:
            self.bdat += chunk
        f = st.fault_for("BDAT", n)
        if f is not None:
            if f.drop:
                st.log("drop BDAT")
                await self.hang(close=True)
            st.log("fault BDAT " + f.code)
            # A refused chunk ends the transaction (RFC 3030: the client
            # sends no more BDAT in it); the ones already pipelined get 503.
            self._set_post_data_state()
            await self.reply_fault(f)
            return
        if not last:
            await self.push("250 2.0.0 Ok: %d octets received" % size)
            return
        if limit and self.bdat_size > limit:
            self._set_post_data_state()
            await self.push("552 5.3.4 Error: message size exceeds fixed maximum message size")
            return
        self.envelope.original_content = bytes(self.bdat)
        self.envelope.content = self.envelope.original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def hang(self, close=False):
        """Never answers; ends when the client goes away (or we close)."""
        if close and self.transport is not None:
            self.closed_by_server = True
            self.transport.close()
        await self.loop.create_future()

    async def endless_reply(self, cmd):
        """Continuation lines of --endless-line bytes, never a last line,
        until the client goes away."""
        code = ENDLESS_CODES[cmd].encode()
        line = code + b"-" + b"x" * max(1, self.state.args.endless_line - 6) + b"\r\n"
        n = 0
        try:
            while self.transport is not None and not self.transport.is_closing():
                self._writer.write(line)
                n += 1
                await self._writer.drain()
        except (ConnectionError, OSError):
            pass
        self.state.log("endless %s %d" % (cmd, n))
        await self.hang(close=True)

    async def reply_fault(self, f):
        await self.push("\r\n".join(f.lines))
        if f.code == "421":
            # 421 means the server is closing the channel (RFC 5321 3.8).
            if self.state.args.close_delay:
                # The goodbye and the hang-up apart, as over a real network.
                await asyncio.sleep(self.state.args.close_delay)
            self.closed_by_server = True
            self.transport.close()
            await self.hang()

    async def push(self, status):
        s = status if isinstance(status, str) else status.decode("utf-8", "replace")
        if self.greeting_refused == "fault-sent" and s.startswith("220 "):
            # aiosmtpd's own greeting, after the refusal that replaced it.
            self.greeting_refused = True
            return
        if s[:1] in ("4", "5"):
            self.state.log("reply " + s.split("\r\n")[0])
        await super().push(status)

    def connection_made(self, transport):
        starttls = self._original_transport is not None
        if self.state.args.read_rate and not starttls:
            # A small window, or the kernel takes megabytes off the client
            # at once and its writes never block.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        super().connection_made(transport)
        if self.state.args.read_rate:
            # The reader pauses and resumes the transport by itself once a
            # chunk is over twice its (line-sized) limit, which would undo
            # the pauses of --read-rate: it gets a transport without them.
            self._reader._transport = _ReaderTransport(transport)
        if starttls:
            self.state.log("tls")
        else:
            self.state.protocols.add(self)
            self.state.log("connect")
            if self.smtps:
                self.state.log("tls")

    def data_received(self, data):
        st = self.state
        if self.in_body:
            self.body_bytes += len(data)
            cut = st.args.drop_during_data
            if cut and self.body_bytes >= cut and self.transport is not None:
                # A reset, not a polite close: the client's next write fails.
                st.log("drop-body %d" % self.body_bytes)
                self.in_body = False
                self.transport.abort()
                return
        if self.held or (self.in_body and st.args.read_rate):
            # Take no more than --read-rate bytes a second: the rest waits
            # here, reading stops, and the client's writes block (EAGAIN)
            # until they can go on where they stopped.
            self.held += data
            if not self.read_paused and self.transport is not None:
                self.read_paused = True
                self.transport.pause_reading()
                self.loop.call_later(0.02, self._feed)
            return
        super().data_received(data)

    def _feed(self):
        if self.transport is None or self.transport.is_closing():
            return
        n = max(1, int(self.state.args.read_rate * 0.02))
        chunk = bytes(self.held[:n])
        del self.held[:n]
        super().data_received(chunk)
        if self.held:
            self.loop.call_later(0.02, self._feed)
        else:
            self.read_paused = False
            self.transport.resume_reading()

    def connection_lost(self, error):
        if self in self.state.protocols:
            self.state.protocols.discard(self)
            if self.state.args.log_sessions and not self.quit_seen and not self.closed_by_server:
                self.state.log("lost-connection")
            self.state.log("disconnect")
        super().connection_lost(error)

    async def _handle_client(self):
        st = self.state
        if st.endless == "GREETING":
            await self.endless_reply("GREETING")
        if st.args.drip_greeting:
            # One byte at a time: a client must bound the whole greeting by
            # its timeout, not each read.
            greeting = b"220 " + st.args.hostname.encode() + b" ESMTP drip-fed greeting\r\n"
            n = 0
            try:
                for b in greeting:
                    self._writer.write(bytes([b]))
                    await self._writer.drain()
                    n += 1
                    await asyncio.sleep(st.args.drip_greeting)
            except (ConnectionError, OSError):
                pass
            st.log("drip GREETING %d" % n)
            await self.hang(close=True)
        n = self.occurrence("GREETING")
        if st.delay_for("GREETING", n):
            await asyncio.sleep(st.delay_for("GREETING", n))
        if "GREETING" in st.stalls:
            st.log("stall GREETING")
            await self.hang()
        f = st.fault_for("GREETING", n)
        if f is not None:
            if f.drop:
                st.log("drop GREETING")
                await self.hang(close=True)
            st.log("fault GREETING " + f.code)
            await self.push("\r\n".join(f.lines))
            if st.args.refused_greeting_waits and f.code != "421":
                # RFC 5321 3.1: a server that refuses at the greeting waits
                # for QUIT, and answers other commands with 503.
                self.greeting_refused = "fault-sent"
                return await super()._handle_client()
            self.closed_by_server = True
            self.transport.close()
            await self.hang()
        await super()._handle_client()


def log_tls_errors(state):
    """Logs "tls-error" for a TLS handshake that does not complete. asyncio
    reports a failed server-side handshake to nobody (a bare TCP connection
    to an SMTPS port closes during the handshake and never reaches the
    protocol), so its SSLProtocol is wrapped where the handshake ends."""
    from asyncio import sslproto

    complete = sslproto.SSLProtocol._on_handshake_complete
    lost = sslproto.SSLProtocol.connection_lost

    def note(proto):
        if not getattr(proto, "_ms_tls_error", False):
            proto._ms_tls_error = True
            state.log("tls-error")

    def on_handshake_complete(self, handshake_exc):
        if handshake_exc is not None:
            note(self)
        return complete(self, handshake_exc)

    def connection_lost(self, exc):
        if self._state == sslproto.SSLProtocolState.DO_HANDSHAKE:
            note(self)
        return lost(self, exc)

    sslproto.SSLProtocol._on_handshake_complete = on_handshake_complete
    sslproto.SSLProtocol.connection_lost = connection_lost


def make_cert(state_dir, name, expired):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mailshot test harness")])
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    else:
        start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)
    sans = [x509.DNSName(name)]
    if name == "localhost":
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            # Self-signed and used as its own trust anchor (CURLOPT_CAINFO).
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(state_dir, "cert.pem")
    key_path = os.path.join(state_dir, "key.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    der = cert.public_bytes(serialization.Encoding.DER)
    fp = ":".join("%02X" % b for b in hashlib.sha256(der).digest())
    with open(os.path.join(state_dir, "fingerprint"), "w") as f:
        f.write(fp + "\n")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="smtp-server.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__,
        epilog="""examples:
  smtp-server.py --state-dir=/tmp/s
  smtp-server.py --state-dir=/tmp/s --tls=starttls --auth=PLAIN,LOGIN,CRAM-MD5 --user=u --password=p
  smtp-server.py --state-dir=/tmp/s --fault='EOM:421 4.4.2 rate limited:count=3'
  smtp-server.py --state-dir=/tmp/s --fault='RCPT:550 5.1.1 no such user:after=2:count=1'
  smtp-server.py --state-dir=/tmp/s --reject-rcpt='^bad' --stall=EOM
  smtp-server.py --state-dir=/tmp/s --pipelining --chunking

out of step (a window of pipelined messages on one connection):
  refuse the 3rd message of each connection at its end:
    --fault='EOM:550 5.7.1 Message refused:session=3'
  ... and every later one (a session limit found at the end of data):
    --fault='EOM:452 4.5.3 Too many messages:session=3+'
  only on the first connection that gets that far:  ...:session=3:count=1
  refuse the 2nd RCPT of each connection:
    --fault='RCPT:550 5.1.1 <x>: Recipient address rejected:session=2'
  drop the connection right after the 3rd message's end, unanswered:
    --fault='EOM:DROP:session=3'
  answer the 2nd message's end 1.5 seconds late (the ones pipelined behind
  it wait their turn):  --delay=EOM:1.5:session=2
""")
    p.add_argument("--state-dir", required=True, metavar="DIR",
                   help="where the log, messages, envelopes and certificate go (must exist)")
    p.add_argument("--port", type=int, default=0,
                   help="port on 127.0.0.1 (default 0: a free one, announced as READY <port>)")
    p.add_argument("--tls", choices=("none", "starttls", "smtps"), default="none",
                   help="none: plain; starttls: offer STARTTLS; smtps: TLS from the first byte")
    p.add_argument("--cert-name", default="localhost", metavar="NAME",
                   help="CN and DNS SAN of the generated certificate (default localhost, "
                        "which also gets IP SAN 127.0.0.1); another name makes a host-name mismatch")
    p.add_argument("--cert-expired", action="store_true",
                   help="generate a certificate that expired yesterday")
    p.add_argument("--auth", default="", metavar="MECHS",
                   help="comma-separated mechanisms to advertise, of PLAIN,LOGIN,CRAM-MD5 "
                        "(empty: no AUTH advertised)")
    p.add_argument("--user", default="user", help="the one valid user name (default: user)")
    p.add_argument("--oauth2-tokens", metavar="FILE",
                   help="XOAUTH2/OAUTHBEARER: the valid access tokens, tokens.json of tests/oauth2-server.py")
    p.add_argument("--password", default="password", help="its password (default: password)")
    p.add_argument("--auth-require-tls", action="store_true",
                   help="advertise/accept AUTH only after STARTTLS (aiosmtpd auth_require_tls)")
    p.add_argument("--require-auth", action="store_true",
                   help="MAIL/RCPT/DATA without AUTH get 530 5.7.0 Authentication required")
    p.add_argument("--fault", action="append", metavar="CMD:CODE TEXT[:count=N][:after=M][:session=K[+]]",
                   help="reply CODE TEXT at CMD (GREETING, EHLO, HELO, STARTTLS, AUTH, MAIL, RCPT, "
                        "DATA (the DATA command), BDAT (a chunk), EOM (after the body, DATA's or BDAT LAST's), "
                        "RSET, NOOP, QUIT) instead of "
                        "the normal answer; after=M lets the first M occurrences through, count=N "
                        "faults only N occurrences (counted over all connections). TEXT may hold "
                        "\\n for a multi-line reply. TEXT 'DROP' closes the connection instead. "
                        "421 replies close the connection. session=K takes only the K-th occurrence "
                        "on each connection (K+: the K-th and every later one); after and count "
                        "then count those. BDAT: a chunk, refused once read (the transaction "
                        "ends). Repeatable.")
    p.add_argument("--reject-rcpt", metavar="REGEX",
                   help="recipients matching REGEX (re.search) get "
                        "550 5.1.1 <addr>: Recipient address rejected: User unknown")
    p.add_argument("--drop-after-data", nargs="?", const="all", metavar="N|count=N",
                   help="close the connection after a message body, before replying: every "
                        "message, only the Nth body received (=N), or the first N (=count=N), "
                        "counted over all connections (per connection: --fault=EOM:DROP:session=K). "
                        "Dropped messages are not saved.")
    p.add_argument("--drop-during-data", type=int, default=0, metavar="BYTES",
                   help="reset the connection once BYTES of a message body have arrived "
                        "(the client is still writing it)")
    p.add_argument("--read-rate", type=int, default=0, metavar="BYTES",
                   help="read a message body at about BYTES per second, with a small receive "
                        "buffer, so that the client's writes block and resume")
    p.add_argument("--close-delay", type=float, default=0, metavar="SECONDS",
                   help="after a 421 fault, close the connection only SECONDS later")
    p.add_argument("--multiline-replies", action="store_true",
                   help="accept MAIL, RCPT and the end of a message with replies of several lines")
    p.add_argument("--pipelining", action="store_true",
                   help="offer PIPELINING (RFC 2920) in the EHLO reply; pipelined commands are "
                        "answered one by one, in order")
    p.add_argument("--chunking", action="store_true",
                   help="offer CHUNKING (RFC 3030) in the EHLO reply and accept BDAT SIZE [LAST] "
                        "(with or without --pipelining; Postfix offers both). Without it BDAT is "
                        "an unknown command (500)")
    p.add_argument("--stall", action="append", metavar="CMD[,CMD]",
                   help="never answer CMD (GREETING, EHLO, MAIL, RCPT, DATA, EOM, ...) until the "
                        "client disconnects. Repeatable.")
    p.add_argument("--delay", action="append", metavar="CMD:SECONDS[:session=K[+]]",
                   help="answer CMD only after SECONDS; with session=K only its K-th occurrence on "
                        "each connection (K+: the K-th and every later one). Commands pipelined "
                        "behind it are read and answered after it. Repeatable.")
    p.add_argument("--escape-reply", action="store_true",
                   help="hostile: answer the end of each message with a success reply full of "
                        "terminal escapes (ESC sequences, BEL, C1), invalid UTF-8 and a bare CR")
    p.add_argument("--endless", metavar="CMD",
                   help="hostile: answer CMD (GREETING, EHLO, MAIL, RCPT, DATA, EOM, AUTH) with "
                        "continuation lines that never end, until the client disconnects")
    p.add_argument("--endless-line", type=int, default=10000, metavar="BYTES",
                   help="length of each --endless line (default 10000)")
    p.add_argument("--drip-greeting", type=float, default=0, metavar="SECONDS",
                   help="hostile: send the greeting one byte every SECONDS, then hang up")
    p.add_argument("--starttls-garbage", type=float, nargs="?", const=0.0, default=None, metavar="SECONDS",
                   help="hostile: answer STARTTLS with 220, then (SECONDS later, default at once) "
                        "send bytes that are no TLS (use with --tls=starttls)")
    p.add_argument("--max-per-session", type=int, default=0, metavar="N",
                   help="after N accepted messages on one connection, MAIL gets "
                        "452 4.4.5 Maximum number of messages per session exceeded.")
    p.add_argument("--max-per-session-reply", metavar="REPLY",
                   default="452 4.4.5 Maximum number of messages per session exceeded.",
                   help="the answer to MAIL past --max-per-session (e.g. OpenSMTPD's "
                        "'452 4.5.3 Too many messages sent'); a 421 also closes the connection")
    p.add_argument("--strict-helo", nargs="?", const="ehlo", choices=("ehlo", "rcpt"), metavar="WHEN",
                   help="refuse an EHLO/HELO name that is not fully qualified (no dot; an address "
                        "literal passes) with Postfix's '504 5.5.2 <NAME>: Helo command rejected: "
                        "need fully-qualified hostname', at EHLO (default) or, as Postfix's default "
                        "smtpd_delay_reject does, at RCPT (=rcpt)")
    p.add_argument("--refused-greeting-waits", action="store_true",
                   help="after a --fault=GREETING:5xx, keep the connection as RFC 5321 3.1 says (and Postfix "
                        "does): every command but QUIT gets 503 (default: the server closes it)")
    p.add_argument("--log-sessions", action="store_true",
                   help="also log 'accept' for every TCP connection (before TLS), 'tls-error' for a "
                        "TLS handshake that did not complete, and 'lost-connection' for a session "
                        "that ended without QUIT")
    p.add_argument("--no-bodies", action="store_true",
                   help="do not save msg-N.eml files (volume tests); envelopes and log are still written")
    p.add_argument("--size", type=int, default=33554432,
                   help="SIZE limit advertised and enforced (default 32 MiB)")
    p.add_argument("--smtputf8", action="store_true", help="advertise and accept SMTPUTF8")
    p.add_argument("--hostname", default="mail.harness.test",
                   help="name in the greeting and EHLO reply")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when standard input closes (the test harness uses this so a "
                        "crashed test leaves no server behind)")
    args = p.parse_args(argv)
    if not os.path.isdir(args.state_dir):
        die(f"--state-dir {args.state_dir}: not a directory")
    mechs = [m.strip().upper() for m in args.auth.split(",") if m.strip()]
    for m in mechs:
        if m not in ALL_MECHS:
            die(f"bad --auth mechanism {m!r}: want some of {','.join(ALL_MECHS)}")
    args.mechs = mechs
    return args


async def main(argv):
    args = parse_args(argv)
    state = State(args)
    loop = asyncio.get_running_loop()
    ctx = None
    if args.tls != "none":
        ctx = make_cert(args.state_dir, args.cert_name, args.cert_expired)
    handler = Handler(state)
    exclude = [m for m in ALL_MECHS if m not in args.mechs]
    kw = dict(
        hostname=args.hostname,
        ident="Mailshot test harness",
        decode_data=False,
        data_size_limit=args.size,
        enable_SMTPUTF8=args.smtputf8,
        tls_context=ctx if args.tls == "starttls" else None,
        # Over implicit TLS the whole session is encrypted already.
        auth_require_tls=args.auth_require_tls and args.tls != "smtps",
        auth_required=args.require_auth,
        auth_exclude_mechanism=exclude,
        authenticator=make_authenticator(state),
        loop=loop,
    )
    smtps = args.tls == "smtps"

    def factory():
        # Called at accept, before the handshake of an SMTPS connection.
        if args.log_sessions:
            state.log("accept")
        return HarnessSMTP(handler, state, smtps, **kw)

    if args.log_sessions:
        log_tls_errors(state)

    server = await loop.create_server(factory, host="127.0.0.1", port=args.port,
                                      ssl=ctx if smtps else None)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_on_stdin_eof:
        # A thread, because stdin may be a file or /dev/null, which epoll refuses.
        def watch_stdin():
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            loop.call_soon_threadsafe(stop.set)
        threading.Thread(target=watch_stdin, daemon=True).start()
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    await stop.wait()
    server.close()
    for proto in list(state.protocols):
        if proto.transport is not None:
            proto.transport.close()
    await asyncio.sleep(0)
    state.log_file.close()
    state.env_file.close()


if __name__ == "__main__":
    # aiosmtpd warns about AUTH without TLS, which is what the plain tests want.
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr,
                        format="smtp-server.py: %(name)s: %(message)s")
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
