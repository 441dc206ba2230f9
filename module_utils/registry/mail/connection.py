"""The LDAP connection options the mail modules share (documented in doc_fragments/ldap_connection.py).

Kept apart from ``directory`` so that a module can build its argument spec before it
knows whether ldap3 is installed.
"""

CONNECTION_ARGUMENTS = dict(
    uri=dict(type="str", required=True),
    bind_dn=dict(type="str", required=True),
    bind_password=dict(type="str", required=True, no_log=True),
    start_tls=dict(type="bool", default=False),
    ca_file=dict(type="path"),
)


def argument_spec(**own):
    """The connection options plus the module's ``own``."""
    spec = {name: dict(option) for name, option in CONNECTION_ARGUMENTS.items()}
    spec.update(own)
    return spec


def directory_from(directory_class, params, **kwargs):
    """A ``Directory`` connected with the connection options of ``params``."""
    return directory_class(params["uri"], params["bind_dn"], params["bind_password"], params["start_tls"],
                           params["ca_file"], **kwargs)
