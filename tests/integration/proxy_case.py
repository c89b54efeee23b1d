"""A test case with a private Dovecot for the class and imaptap processes per test.

Subclasses set WORKDIR_PREFIX and DOVECOT (PrivateDovecot's keyword arguments);
the class gets workdir, dv (started), certs (a CA and a leaf for localhost and
HOST, in CERTS_DIR) and ctx (a client context trusting that CA).  Each test
starts with self.px = None, and an imaptap process left in self.px is killed
after it; with a rawlog, self.rawlog_before lists the rawlog files that
earlier tests left.
"""
import os
import unittest

from dovecot_fixture import HOST, PrivateDovecot
from imaptap_fixture import client_context, make_certs, make_workdir, remove_workdir
from relay_check import rawlog_names


class DovecotProxyCase(unittest.TestCase):
    WORKDIR_PREFIX = "imaptap-it-"
    DOVECOT = {}
    CERTS_DIR = "proxy-certs"

    @classmethod
    def setUpClass(cls):
        cls.workdir = make_workdir(cls.WORKDIR_PREFIX)
        cls.dv = PrivateDovecot(os.path.join(cls.workdir, "dv"), **cls.DOVECOT)
        cls.dv.start()
        cls.certs = make_certs(os.path.join(cls.workdir, cls.CERTS_DIR), "localhost", HOST)
        cls.ctx = client_context(cls.certs["ca"])

    @classmethod
    def tearDownClass(cls):
        cls.dv.stop()
        remove_workdir(cls.workdir)

    def setUp(self):
        self.px = None
        if self.DOVECOT.get("rawlog"):
            self.rawlog_before = rawlog_names(self.dv)

    def tearDown(self):
        if self.px is not None:
            self.px.kill()
