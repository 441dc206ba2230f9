"""The LDAP connection options the mail modules share (documented in doc_fragments/ldap_connection.py).

Kept apart from ``directory`` so that a module can build its argument spec before it
knows whether ldap3 is installed.
"""

CONNECTION_ARGUMENTS = dict(
    uri=dict(type="str", required=True),
    bind_dn=dict(type="str", required=True),
    bind_password=dict(type="str", required=True, no_log=True),
    start_tls=dict(type="bool", default=True),
    ca_file=dict(type="path"),
)

# What each scheme gives the password on its way: StartTLS or TLS from the first
# byte, both verified (certificate and host name), or the host's own socket.
SCHEMES = ("ldap://", "ldaps://", "ldapi://")


def refusal(uri, start_tls):
    """Why the modules will not bind to ``uri`` this way, or None.

    A simple bind over plain ldap:// sends the password in clear text, whoever
    listens on the way: no option allows it. ldapi:// is the host's own socket
    (no network; the directory counts it as confidential), for a module run on
    the directory's host.
    """
    text = str(uri or "")
    lowered = text.lower()
    if not lowered.startswith(SCHEMES):
        return "%s is not an LDAP URI the mail modules use: ldap:// with StartTLS, ldaps:// or ldapi://" % text
    if lowered.startswith("ldap://") and not start_tls:
        return ("refusing to bind to %s without TLS: the password would cross the network in clear text (and "
                "the directory refuses it: confidentialityRequired). Remove start_tls: false (StartTLS, the "
                "certificate and host name verified, is the default) or use an ldaps:// URI" % text)
    return None


def argument_spec(**own):
    """The connection options plus the module's ``own``."""
    spec = {name: dict(option) for name, option in CONNECTION_ARGUMENTS.items()}
    spec.update(own)
    return spec


def directory_from(directory_class, params, **kwargs):
    """A ``Directory`` connected with the connection options of ``params``."""
    return directory_class(params["uri"], params["bind_dn"], params["bind_password"], params["start_tls"],
                           params["ca_file"], **kwargs)
