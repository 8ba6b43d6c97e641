# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Verify the server's certificate: a real SMTP server on 127.0.0.1 speaking
STARTTLS or SSL/TLS with certificates made here (self-signed, expired, for
another host, or signed by a test authority)."""

import contextlib
import datetime
import ipaddress
import socket
import ssl
import tempfile
import unittest
from pathlib import Path
from unittest.mock import patch

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from odoo import modules
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from ..hooks import post_init_hook
from ..models import ir_mail_server as rm_mail_server

try:
    import aiosmtpd.controller
    import aiosmtpd.handlers
except ImportError:  # pragma: no cover - a test dependency (requirements-dev.txt)
    aiosmtpd = None

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def write_certificate(directory, name, san, issuer=None, expired=False, ca=False):
    """Write ``name``.pem and ``name``.key; ``issuer`` (name, key, cert) signs
    it, else it is self-signed. Return (certificate path, key path, key, certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = (
        (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
        if expired
        else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    )
    issuer_name, issuer_key = (issuer[3].subject, issuer[2]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = Path(directory, f"{name}.pem"), Path(directory, f"{name}.key")
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, key, certificate


@tagged("post_install", "-at_install")
class TestVerifyCertificate(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if aiosmtpd is None:
            raise unittest.SkipTest("aiosmtpd is not installed")
        directory = tempfile.mkdtemp(prefix="rm-tls-")
        cls.addClassCleanup(lambda: [path.unlink() for path in Path(directory).iterdir()])
        ip = x509.IPAddress(ipaddress.ip_address(HOST))
        ca = write_certificate(directory, "Test authority", None, ca=True)
        cls.ca_file = str(ca[0])
        cls.certificates = {
            "self-signed": write_certificate(directory, "self-signed", ip),
            "trusted": write_certificate(directory, "trusted", ip, issuer=ca),
            "other host": write_certificate(directory, "other-host", x509.DNSName("smtp.other.example"), issuer=ca),
            "expired": write_certificate(directory, "expired", ip, issuer=ca, expired=True),
        }

    def setUp(self):
        super().setUp()
        # Odoo does not connect to SMTP servers in tests; this test's server is real.
        self.startPatcher(patch.object(modules.module, "current_test", False))
        self.startPatcher(patch("odoo.addons.base.models.ir_mail_server.SMTP_TIMEOUT", 5))
        self.port = free_port()
        self.handler = aiosmtpd.handlers.Sink()
        self.server = self.env["ir.mail_server"].create(
            {
                "name": "Agency relay",
                "smtp_host": HOST,
                "smtp_port": self.port,
                "smtp_encryption": "starttls",
                "smtp_verify_certificate": True,
                "sequence": 0,
            }
        )

    @contextlib.contextmanager
    def smtpd(self, certificate, encryption="starttls"):
        """A real SMTP server on self.port presenting ``certificate``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert_path, key_path = self.certificates[certificate][:2]
        context.load_cert_chain(cert_path, key_path)
        kwargs = (
            {"tls_context": context, "require_starttls": True} if encryption == "starttls" else {"ssl_context": context}
        )
        controller = aiosmtpd.controller.Controller(
            self.handler, hostname=HOST, port=self.port, server_hostname="localhost", **kwargs
        )
        controller.start()
        self.server.smtp_encryption = encryption
        try:
            yield controller
        finally:
            controller.stop()

    def trust_test_authority(self):
        def default_tls_context():
            return ssl.create_default_context(cafile=self.ca_file)

        self.startPatcher(patch.object(rm_mail_server, "default_tls_context", default_tls_context))

    def test_new_servers_verify_except_on_this_machine(self):
        Server = self.env["ir.mail_server"]
        remote = Server.create({"name": "Provider", "smtp_host": "smtp.example.com"})
        self.assertTrue(remote.smtp_verify_certificate)
        for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
            with self.subTest(host=host):
                self.assertFalse(Server.create({"name": host, "smtp_host": host}).smtp_verify_certificate)
        remote.smtp_host = "localhost"
        self.assertFalse(remote.smtp_verify_certificate)
        chosen = Server.create(
            {"name": "Own choice", "smtp_host": "smtp.example.com", "smtp_verify_certificate": False}
        )
        self.assertFalse(chosen.smtp_verify_certificate)

    def test_servers_that_existed_before_the_install_keep_working_as_they_did(self):
        existing = self.env["ir.mail_server"].create({"name": "Provider", "smtp_host": "smtp.example.com"})
        post_init_hook(self.env)
        self.assertFalse(existing.smtp_verify_certificate)
        self.assertEqual(self.env.ref("mail.ir_cron_mail_scheduler_action").interval_type, "minutes")

    def test_test_connection_refuses_a_self_signed_certificate_in_plain_words(self):
        for encryption in ("starttls", "ssl"):
            with self.subTest(encryption=encryption), self.smtpd("self-signed", encryption):
                with self.assertRaises(UserError) as caught:
                    self.server.test_smtp_connection()
                message = str(caught.exception)
                self.assertIn(f'"Agency relay" ({HOST}:{self.port}) presented a certificate', message)
                self.assertIn("it is self-signed", message)
                self.assertIn("Verify the server's certificate", message)
                # Unticked, the administrator's choice: it works as in stock Odoo.
                self.server.smtp_verify_certificate = False
                self.assertEqual(self.server.test_smtp_connection()["params"]["type"], "success")
                self.server.smtp_verify_certificate = True

    def test_a_certificate_signed_by_a_trusted_authority_for_the_host_is_accepted(self):
        self.trust_test_authority()
        with self.smtpd("trusted"):
            self.assertEqual(self.server.test_smtp_connection()["params"]["type"], "success")

    def test_expired_certificate_or_one_for_another_host_is_refused(self):
        self.trust_test_authority()
        for certificate, words in (
            ("expired", "it has expired"),
            ("other host", "it was issued for another host name"),
        ):
            with self.subTest(certificate=certificate), self.smtpd(certificate):
                with self.assertRaises(UserError) as caught:
                    self.server.test_smtp_connection()
                self.assertIn(words, str(caught.exception))

    def test_the_queue_sends_nothing_to_a_server_it_cannot_trust(self):
        received = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received.append(envelope.rcpt_tos)
                return "250 OK"

        self.handler = Handler()
        mail = self.env["mail.mail"].create(
            {
                "subject": "Offer",
                "body_html": "<p>Terms</p>",
                "email_from": "jobs@agency.example.com",
                "email_to": "anna@example.com",
                "mail_server_id": self.server.id,
            }
        )
        with self.smtpd("self-signed"):
            self.env["mail.mail"].process_email_queue()
            self.assertEqual(received, [], "nothing reached the server")
            self.assertEqual(mail.outbox_status, "failed", "waiting would not mend a certificate")
            self.assertIn("it is self-signed", mail.failure_reason)
            self.server.smtp_verify_certificate = False
            mail.action_resend()
            self.env["mail.mail"].process_email_queue()
        self.assertEqual(received, [["anna@example.com"]])
        self.assertEqual(mail.state, "sent")
