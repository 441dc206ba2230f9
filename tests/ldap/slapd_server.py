"""A real slapd on 127.0.0.1 for the tests, configured by the role ldap_directory itself.

The role's templates are rendered once per test session (tests/operate/role_servers.py,
``directory_rendered``) and each server runs from a copy: its olcSecurity, access rules,
limits, ppolicy and TLS settings are the role's, so a test against it proves them. Every
client connects with StartTLS, verifying the session's test certificate for 127.0.0.1
against ``ca_file``; simple binds in clear text are refused, as in production.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "operate"))
from role_servers import TEST_ARGON2, RoleSlapd, directory_rendered, hash_password  # noqa: E402,F401


class SlapdServer(RoleSlapd):
    """The role's slapd with the tests' fixed service passwords (one rendering per session).

    ``toolkit_limits=False`` drops the role's unlimited limits of cn=toolkit and
    ``size_limit`` sets olcSizeLimit (a read the server cuts short); ``argon2_parameters``
    replaces the cheap test ones (the benchmark passes the role's). ``tls`` names the
    certificate served (role_servers.test_tls).
    """

    def __init__(self, workdir, argon2_parameters=TEST_ARGON2, toolkit_limits=True, size_limit=None, tls="server"):
        super().__init__(directory_rendered(), workdir=workdir, tls=tls, toolkit_limits=toolkit_limits,
                         size_limit=size_limit, argon2_parameters=argon2_parameters)
