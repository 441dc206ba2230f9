"""Documentation of the LDAP connection options the mail modules share."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  uri:
    description: LDAP URI of the directory, e.g. C(ldap://127.0.0.1:13389).
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
    description: Use StartTLS before binding (the directory accepts simple binds from other hosts only over TLS).
    type: bool
    default: false
  ca_file:
    description: CA certificate(s) that signed the server's certificate, on the controller.
    type: path
"""
