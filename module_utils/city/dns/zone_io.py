"""Talk to the primary: read the zone by AXFR, send UPDATE messages (RFC 2136)."""
import socket

try:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
    import dns.tsig
    import dns.tsigkeyring
    import dns.update
    import dns.xfr
    import dns.zone
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city.dns.desired import RRset
from ansible.module_utils.city.errors import ToolkitError


class DNSError(ToolkitError):
    """A failure talking to the server, with the server and the reason."""


class Server:
    def __init__(self, address, port, zone, key_name, key_secret, key_algorithm="hmac-sha256",
                 timeout=10.0):
        self.address, self.port, self.zone, self.timeout = address, int(port), zone, float(timeout)
        self.key_name = key_name
        try:
            self.keyring = dns.tsigkeyring.from_text({key_name: (key_algorithm, key_secret)})
        except Exception as exc:  # dnspython raises several kinds for a bad secret
            raise DNSError("the TSIG key %s is not usable: %s" % (key_name, exc))
        self.algorithm = dns.name.from_text(key_algorithm)

    def where(self):
        return "%s port %d" % (self.address, self.port)

    def read(self, keep):
        """{(name, rdtype): RRset} of the zone for which ``keep(name, rdtype)`` holds."""
        try:
            zone = dns.zone.Zone(self.zone, relativize=False)
            query, unused_serial = dns.xfr.make_query(zone, keyring=self.keyring, keyname=self.key_name,
                                                      keyalgorithm=self.algorithm)
            dns.query.inbound_xfr(self.address, zone, query=query, port=self.port,
                                  timeout=self.timeout, lifetime=self.timeout * 6)
        except dns.xfr.TransferError as exc:
            raise DNSError("%s refused the zone transfer of %s: %s (is the TSIG key right?)" % (
                self.where(), self.zone, dns.rcode.to_text(exc.rcode)))
        except dns.tsig.PeerError as exc:
            raise DNSError("%s rejected the TSIG key %s: %s" % (self.where(), self.key_name,
                                                                type(exc).__name__))
        except (OSError, EOFError, dns.exception.Timeout, socket.timeout) as exc:
            raise DNSError("cannot read %s from %s: %s" % (self.zone, self.where(),
                                                           exc or type(exc).__name__))
        except dns.exception.DNSException as exc:
            raise DNSError("zone transfer of %s from %s failed: %s" % (self.zone, self.where(), exc))
        state = {}
        origin = zone.origin
        for rel, node in zone.nodes.items():
            name = rel.derelativize(origin)
            for rdataset in node.rdatasets:
                if keep(name, rdataset.rdtype):
                    state[(name, rdataset.rdtype)] = RRset(name, rdataset.rdtype, rdataset.ttl,
                                                           rdataset)
        return state

    def new_update(self):
        return dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyname=self.key_name,
                                        keyalgorithm=self.algorithm)

    def send(self, message):
        """Send one UPDATE; return its rcode (NOERROR, NXRRSET, ...)."""
        try:
            response = dns.query.tcp(message, self.address, port=self.port, timeout=self.timeout)
        except dns.tsig.PeerError as exc:
            raise DNSError("%s rejected the TSIG key %s: %s" % (self.where(), self.key_name,
                                                                type(exc).__name__))
        except (OSError, EOFError, dns.exception.Timeout, socket.timeout) as exc:
            raise DNSError("cannot send the update to %s: %s" % (self.where(),
                                                                 exc or type(exc).__name__))
        return response.rcode()
