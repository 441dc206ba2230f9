"""The central address pools (D8): membership, reserved and shared addresses, allocation.

Addresses are handled as (first, last, version) integer intervals so that a /16
with 10,000 used addresses, or an IPv6 /48, costs work in proportion to the
addresses listed, never to the size of the network.
"""
import bisect
import functools
import ipaddress


def _text(value, what):
    """Return value if it is a non-empty str, else raise ValueError."""
    if not isinstance(value, str):
        raise ValueError("%s must be a string, not %s" % (what, type(value).__name__))
    if not value.strip():
        raise ValueError("%s is empty" % what)
    return value.strip()


def parse_network(text):
    """An ipaddress network from a CIDR ("192.0.2.0/24"); host bits set is an error.

    A bare address is the network of that one address (/32 or /128).
    """
    if isinstance(text, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return text
    text = _text(text, "network")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise ValueError("%r is not a network: %s" % (text, exc)) from None


def _parse_address(value):
    """An ipaddress address from a str (or an address object)."""
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    text = _text(value, "address")
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise ValueError("%r is not an IP address: %s" % (text, exc)) from None


def _parse_range(item):
    """(first_int, last_int, version) of one CIDR, address or "a-b" range."""
    text = _text(item, "address range")
    if "-" in text:
        low_text, unused_dash, high_text = text.partition("-")
        low, high = _parse_address(low_text), _parse_address(high_text)
        if low.version != high.version:
            raise ValueError("range %r mixes IPv%d and IPv%d" % (text, low.version, high.version))
        if int(low) > int(high):
            raise ValueError("range %r starts after it ends" % (text,))
        return int(low), int(high), low.version
    if "/" in text:
        net = parse_network(text)
        return int(net.network_address), int(net.broadcast_address), net.version
    address = _parse_address(text)
    return int(address), int(address), address.version


def parse_ranges(items):
    """List of (first_int, last_int, version), one per item, in the order given.

    Items are CIDRs ("192.0.2.0/28"), single addresses or ranges "a-b" (both ends
    included). None is no items; a single str is one item.
    """
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    try:
        iterator = iter(items)
    except TypeError:
        raise ValueError("address list must be a list, not %s" % type(items).__name__) from None
    return [_parse_range(item) for item in iterator]


def _merge(ranges):
    """Sorted, merged (first, last) intervals of one family; adjacent ones joined."""
    merged = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1][1] = last
        else:
            merged.append([first, last])
    return merged


class _Intervals:
    """Merged intervals of one family with O(log n) membership."""

    __slots__ = ("firsts", "lasts")

    def __init__(self, ranges):
        """Build from (first, last) pairs in any order, overlapping or not."""
        merged = _merge(ranges)
        self.firsts = [first for first, unused_last in merged]
        self.lasts = [last for unused_first, last in merged]

    def __contains__(self, value):
        """True when the integer value lies in one of the intervals."""
        i = bisect.bisect_right(self.firsts, value) - 1
        return i >= 0 and value <= self.lasts[i]


def _by_version(ranges):
    """{4: _Intervals, 6: _Intervals} of (first, last, version) triples."""
    return {v: _Intervals([(f, l) for f, l, ver in ranges if ver == v]) for v in (4, 6)}


class Pool:
    """An address pool: its networks, reserved addresses and shared addresses (D8).

    networks are CIDRs (a single str is one); reserved and shared are CIDRs,
    addresses or "a-b" ranges. Networks may not overlap.
    """

    def __init__(self, networks, reserved=(), shared=()):
        """Parse and index the pool; raises ValueError on a bad or empty network list."""
        if isinstance(networks, str):
            networks = [networks]
        if networks is None:
            networks = []
        try:
            nets = [parse_network(n) for n in networks]
        except TypeError:
            raise ValueError("networks must be a list, not %s" % type(networks).__name__) from None
        if not nets:
            raise ValueError("a pool needs at least one network")
        nets.sort(key=lambda n: (n.version, int(n.network_address)))
        for a, b in zip(nets, nets[1:]):
            if a.version == b.version and int(b.network_address) <= int(a.broadcast_address):
                raise ValueError("networks %s and %s overlap" % (a, b))
        self.networks = tuple(nets)
        self._networks = _by_version(
            [(int(n.network_address), int(n.broadcast_address), n.version) for n in nets])
        self._reserved_ranges = parse_ranges(reserved)
        self._shared_ranges = parse_ranges(shared)
        self._reserved = _by_version(self._reserved_ranges)
        self._shared = _by_version(self._shared_ranges)

    def contains(self, addr):
        """True when addr lies in one of the pool's networks."""
        address = _parse_address(addr)
        return int(address) in self._networks[address.version]

    def is_reserved(self, addr):
        """True when addr is one of the reserved addresses (never allocated)."""
        address = _parse_address(addr)
        return int(address) in self._reserved[address.version]

    def is_shared(self, addr):
        """True when addr is a shared address (several names may use it)."""
        address = _parse_address(addr)
        return int(address) in self._shared[address.version]

    def allocate(self, used, count=1, version=4):
        """The count lowest free addresses of IP version 4 or 6, as strings.

        Free means in a network of the pool and not reserved, shared, used (a list
        like reserved: addresses, CIDRs or ranges), an IPv4 network's network or
        broadcast address (except /31 and /32, RFC 3021) or an IPv6 network's
        subnet-router anycast address (except /127 and /128). Raises ValueError
        when fewer than count are free.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be an integer of 1 or more, not %r" % (count,))
        if version not in (4, 6) or isinstance(version, bool):
            raise ValueError("version must be 4 or 6, not %r" % (version,))
        nets = [n for n in self.networks if n.version == version]
        if not nets:
            raise ValueError("the pool has no IPv%d network" % version)
        blocked = [(f, l) for f, l, v in self._reserved_ranges + self._shared_ranges
                   if v == version]
        blocked += [(f, l) for f, l, v in parse_ranges(used) if v == version]
        blocked = _merge(blocked)
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        found = []
        b = 0
        for net in nets:
            first, last = int(net.network_address), int(net.broadcast_address)
            if version == 4 and net.prefixlen < 31:
                first, last = first + 1, last - 1
            elif version == 6 and net.prefixlen < 127:
                first += 1
            candidate = first
            while candidate <= last:
                while b < len(blocked) and blocked[b][1] < candidate:
                    b += 1
                if b < len(blocked) and blocked[b][0] <= candidate:
                    candidate = blocked[b][1] + 1
                    continue
                # Free from candidate up to the next blocked interval or the end.
                stop = last if b == len(blocked) else min(last, blocked[b][0] - 1)
                take = min(stop - candidate + 1, count - len(found))
                found.extend(str(make(candidate + i)) for i in range(take))
                if len(found) == count:
                    return found
                candidate = stop + 1
        raise ValueError("pool exhausted: %d free IPv%d address%s, %d requested"
                         % (len(found), version, "" if len(found) == 1 else "es", count))


@functools.lru_cache(maxsize=128)
def _network_index(networks):
    """Cached per-family intervals of a tuple of CIDRs: filters call this per record."""
    nets = [parse_network(n) for n in networks]
    return _by_version(
        [(int(n.network_address), int(n.broadcast_address), n.version) for n in nets])


def address_in_pool(addr, networks):
    """True when addr lies in one of networks (CIDRs, a single CIDR, or a Pool)."""
    address = _parse_address(addr)
    if isinstance(networks, Pool):
        return networks.contains(address)
    if isinstance(networks, str):
        networks = [networks]
    if networks is None:
        raise ValueError("networks must be a list of CIDRs, not None")
    try:
        key = tuple(networks)
    except TypeError:
        raise ValueError("networks must be a list of CIDRs, not %s"
                         % type(networks).__name__) from None
    try:
        index = _network_index(key)
    except TypeError:
        # Unhashable items (e.g. nested lists) cannot be cached; parse them to say why.
        index = _network_index.__wrapped__(key)
    return int(address) in index[address.version]
