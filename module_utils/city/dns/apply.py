"""Apply a plan as few UPDATE messages, each guarded by RFC 2136 prerequisites.

Every change carries a prerequisite on what the plan read: "this RRset is exactly
these records" for a change or a delete, "this RRset does not exist" for an add.
If anyone changed one of them since the read, the server refuses the whole message
(NXRRSET/YXRRSET) and nothing of it is applied. All changes of one name go into the
same message, deletions before additions, so a name switching between CNAME and
other data is never half-done.
"""
try:
    import dns.rcode
    import dns.rdataclass
    import dns.rdataset
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city.dns.plan import ADD, CHANGE, DELETE
from ansible.module_utils.city.dns.zone_io import DNSError
from ansible.module_utils.city.service.progress import Progress

HEADER_AND_TSIG = 512  # header, zone section and TSIG record, generously


def _rdataset(rrset, ttl=None):
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, rrset.rdtype)
    rds.update_ttl(rrset.ttl if ttl is None else ttl)
    for rd in rrset.rdatas:
        rds.add(rd)
    return rds


def _size(change):
    """Upper bound of the wire size of a change with its prerequisite (no compression)."""
    owner = len(change.name.to_wire()) + 10
    total = owner * 2
    for rrset in (change.before, change.after):
        if rrset is not None:
            total += sum(owner + len(rd.to_digestable()) for rd in rrset.rdatas)
    return total


def batches(changes, max_size):
    """Lists of changes, grouped by name, each within ``max_size`` bytes."""
    by_name = {}
    for change in changes:
        by_name.setdefault(change.name, []).append(change)
    batch, size = [], HEADER_AND_TSIG
    for group in by_name.values():
        group_size = sum(_size(c) for c in group)
        if batch and size + group_size > max_size:
            yield batch
            batch, size = [], HEADER_AND_TSIG
        batch.extend(group)
        size += group_size
    if batch:
        yield batch


def build(server, batch):
    message = server.new_update()
    for change in batch:
        if change.action == ADD:
            message.absent(change.name, change.rdtype)
        else:
            # RFC 2136 3.2.5: a prerequisite's TTL is zero.
            message.present(change.name, _rdataset(change.before, ttl=0))
    for change in batch:
        if change.action in (CHANGE, DELETE):
            message.delete(change.name, change.rdtype)
    for change in batch:
        if change.action in (ADD, CHANGE):
            message.add(change.name, _rdataset(change.after))
    return message


class Conflict(DNSError):
    """Someone changed records between the read and the update."""

    def __init__(self, names, applied_messages):
        self.names = names
        self.applied_messages = applied_messages
        self.details = {"conflicts": names}
        super().__init__("records changed on the server since they were read: %s; this update "
                         "was refused and nothing of it applied%s. Re-run to converge." % (
                             ", ".join(names) or "(not found on re-read)",
                             " (%d earlier message(s) were applied)" % applied_messages
                             if applied_messages else ""))


def apply_plan(server, plan, max_size, reread):
    """Send the plan; return the number of messages. ``reread`` returns the owned state."""
    sent = 0
    with Progress("DNS record sets", len(plan.changes), unit="changes") as progress:
        for batch in batches(plan.changes, max_size):
            rcode = server.send(build(server, batch))
            if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN,
                         dns.rcode.YXDOMAIN):
                now = reread()
                names = sorted({c.name.to_text() for c in batch
                                if now.get((c.name, c.rdtype)) != c.before
                                and not (c.before is None and (c.name, c.rdtype) not in now)})
                raise Conflict(names, sent)
            if rcode != dns.rcode.NOERROR:
                raise DNSError("%s refused the update of %s: %s%s" % (
                    server.where(), server.zone, dns.rcode.to_text(rcode),
                    " (the key may not update this zone, or the server's checks reject the result, "
                    "e.g. a name server losing its address: see the server's log)" if rcode in (
                        dns.rcode.REFUSED, dns.rcode.NOTAUTH) else ""))
            sent += 1
            progress.advance(len(batch))
    return sent
