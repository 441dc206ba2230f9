"""Documentation of the LDAP connection options the mail modules share."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - LDAP URI of the directory, e.g. C(ldap://ldap1.example.org) (with StartTLS), C(ldaps://ldap1.example.org)
        or, for a module run on the directory's own host, C(ldapi://) with the URL-encoded socket path (no
        network, no TLS; slapd counts the socket as confidential).
      - Over C(ldap://) and C(ldaps://) the server's certificate is always verified, with its host name against
        the host of the URI (C(127.0.0.1) must be in the certificate's IP addresses to connect to
        C(ldap://127.0.0.1)). No option turns the verification off.
    type: str
    required: true
  bind_dn:
    description:
      - DN to bind as. An apply binds as the toolkit's service account (C(cn=toolkit,ou=system,<suffix>)); a
        read (check mode, M(mail_inventory)) can bind as the read-only C(cn=reader,ou=system,<suffix>), which
        reads every account but no password and writes nothing (docs/directory-design.md).
    type: str
    required: true
  bind_password:
    description: Its password (from ansible-vault); never logged.
    type: str
    required: true
  start_tls:
    description:
      - Use StartTLS before binding, the certificate and host name verified. An C(ldap://) URI with
        C(start_tls=false) is refused before anything is sent (the password would cross the network in clear
        text; the directory answers such a bind C(confidentialityRequired) anyway). Ignored for C(ldaps://)
        (TLS from the start) and C(ldapi://) (no network).
    type: bool
    default: true
  ca_file:
    description:
      - CA certificate(s) that signed the server's certificate (or the self-signed certificate itself), a PEM
        file on the controller. Without it the system's trust store is used; the certificate is verified
        either way.
    type: path
"""
