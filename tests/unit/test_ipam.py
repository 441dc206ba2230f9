"""Tests of module_utils/city/registry/ipam.py: the central address pools (D8)."""
import ipaddress

import pytest

from ansible.module_utils.city.registry import ipam


def _int(text):
    return int(ipaddress.ip_address(text))


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.0/24", ipaddress.ip_network("192.0.2.0/24")),
    ("192.0.2.7", ipaddress.ip_network("192.0.2.7/32")),
    ("192.0.2.0/255.255.255.0", ipaddress.ip_network("192.0.2.0/24")),
    ("2001:db8:b3c::/48", ipaddress.ip_network("2001:db8:b3c::/48")),
    (" 10.0.0.0/8 ", ipaddress.ip_network("10.0.0.0/8")),
    (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8")),
])
def test_parse_network(text, expected):
    assert ipam.parse_network(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("192.0.2.1/24", "host bits set"),
    ("2001:db8::1/64", "host bits set"),
    ("192.0.2.0/33", "not a network"),
    ("192.0.2/24", "not a network"),
    ("192.000.2.0/24", "not a network"),
    ("example.org", "not a network"),
    ("", "empty"),
    ("  ", "empty"),
    (None, "must be a string"),
    (3232235520, "must be a string"),
])
def test_parse_network_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.parse_network(text)


def test_parse_ranges():
    assert ipam.parse_ranges([
        "192.0.2.0/28", "192.0.2.255", "192.0.2.100-192.0.2.110", "192.0.2.5 - 192.0.2.5",
        "2001:db8::/126", "2001:db8::9", "2001:db8::a-2001:db8::f",
    ]) == [
        (_int("192.0.2.0"), _int("192.0.2.15"), 4),
        (_int("192.0.2.255"), _int("192.0.2.255"), 4),
        (_int("192.0.2.100"), _int("192.0.2.110"), 4),
        (_int("192.0.2.5"), _int("192.0.2.5"), 4),
        (_int("2001:db8::"), _int("2001:db8::3"), 6),
        (_int("2001:db8::9"), _int("2001:db8::9"), 6),
        (_int("2001:db8::a"), _int("2001:db8::f"), 6),
    ]


@pytest.mark.parametrize("items, expected", [
    (None, []),
    ([], []),
    ((), []),
    ("192.0.2.1", [(_int("192.0.2.1"), _int("192.0.2.1"), 4)]),
])
def test_parse_ranges_empty_and_single(items, expected):
    assert ipam.parse_ranges(items) == expected


@pytest.mark.parametrize("items, reason", [
    (["192.0.2.1/24"], "host bits set"),
    (["192.0.2.10-192.0.2.1"], "starts after it ends"),
    (["192.0.2.1-2001:db8::1"], "mixes IPv4 and IPv6"),
    (["192.0.2.1-"], "address is empty"),
    (["-192.0.2.1"], "address is empty"),
    (["192.0.2.300"], "not an IP address"),
    (["192.0.2.1-192.0.2.2-192.0.2.3"], "not an IP address"),
    ([""], "empty"),
    ([None], "must be a string"),
    ([["192.0.2.1"]], "must be a string"),
    (42, "must be a list"),
])
def test_parse_ranges_rejects(items, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.parse_ranges(items)


@pytest.fixture
def pool():
    return ipam.Pool(
        ["192.0.2.0/24", "198.51.100.0/24", "2001:db8:b3c::/48"],
        reserved=["192.0.2.0/28", "192.0.2.255", "2001:db8:b3c::1-2001:db8:b3c::f"],
        shared=["192.0.2.10", "192.0.2.20", "2001:db8:b3c::20"],
    )


@pytest.mark.parametrize("addr, contains, reserved, shared", [
    ("192.0.2.0", True, True, False),
    ("192.0.2.10", True, True, True),
    ("192.0.2.16", True, False, False),
    ("192.0.2.20", True, False, True),
    ("192.0.2.255", True, True, False),
    ("198.51.100.1", True, False, False),
    ("198.51.101.1", False, False, False),
    ("203.0.113.1", False, False, False),
    ("2001:db8:b3c::5", True, True, False),
    ("2001:db8:b3c::20", True, False, True),
    ("2001:db8:b3c:ffff:ffff:ffff:ffff:ffff", True, False, False),
    ("2001:db8:b3d::1", False, False, False),
    ("::ffff:192.0.2.16", False, False, False),     # an IPv6 address is not an IPv4 one
    (ipaddress.ip_address("192.0.2.16"), True, False, False),
])
def test_pool_membership(pool, addr, contains, reserved, shared):
    assert pool.contains(addr) is contains
    assert pool.is_reserved(addr) is reserved
    assert pool.is_shared(addr) is shared


@pytest.mark.parametrize("method", ["contains", "is_reserved", "is_shared"])
@pytest.mark.parametrize("addr, reason", [
    ("192.0.2.256", "not an IP address"),
    ("192.0.2.0/24", "not an IP address"),
    ("", "empty"),
    (None, "must be a string"),
])
def test_pool_membership_rejects(pool, method, addr, reason):
    with pytest.raises(ValueError, match=reason):
        getattr(pool, method)(addr)


@pytest.mark.parametrize("networks, kwargs, reason", [
    ([], {}, "at least one network"),
    (None, {}, "at least one network"),
    (42, {}, "must be a list"),
    (["192.0.2.1/24"], {}, "host bits set"),
    (["192.0.2.0/24", "192.0.2.128/25"], {}, "overlap"),
    (["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], {}, "overlap"),
    (["192.0.2.0/24", "192.0.2.0/24"], {}, "overlap"),
    (["192.0.2.0/24"], {"reserved": ["192.0.2.x"]}, "not an IP address"),
    (["192.0.2.0/24"], {"shared": ["192.0.2.9-192.0.2.1"]}, "starts after it ends"),
])
def test_pool_rejects(networks, kwargs, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.Pool(networks, **kwargs)


def test_pool_single_network_string():
    p = ipam.Pool("192.0.2.0/30")
    assert p.contains("192.0.2.3") and not p.contains("192.0.2.4")
    assert p.allocate([], 2) == ["192.0.2.1", "192.0.2.2"]


def test_allocate_skips_reserved_shared_network_and_broadcast(pool):
    # .0-.15 reserved, .10 shared anyway; .16 is the first free address.
    assert pool.allocate([]) == ["192.0.2.16"]
    assert pool.allocate(["192.0.2.16", "192.0.2.17"], count=3) == [
        "192.0.2.18", "192.0.2.19", "192.0.2.21"]       # .20 is shared


def test_allocate_crosses_networks(pool):
    used = ["192.0.2.16-192.0.2.254"]
    # 198.51.100.0 is that network's own address, never handed out.
    assert pool.allocate(used, count=2) == ["198.51.100.1", "198.51.100.2"]


def test_allocate_ignores_used_outside_pool_and_other_family(pool):
    assert pool.allocate(["203.0.113.16", "2001:db8:b3c::10", "10.0.0.0/8"]) == ["192.0.2.16"]


def test_allocate_used_accepts_cidrs_and_ranges(pool):
    assert pool.allocate(["192.0.2.16/29", "192.0.2.24-192.0.2.30"]) == ["192.0.2.31"]


def test_allocate_v6_skips_subnet_router_anycast():
    p = ipam.Pool(["2001:db8:b3c::/48"])
    assert p.allocate([], count=2, version=6) == ["2001:db8:b3c::1", "2001:db8:b3c::2"]


def test_allocate_v6(pool):
    assert pool.allocate([], version=6) == ["2001:db8:b3c::10"]
    assert pool.allocate(["2001:db8:b3c::10"], count=2, version=6) == [
        "2001:db8:b3c::11", "2001:db8:b3c::12"]


def test_allocate_v6_huge_network_after_huge_used_range():
    p = ipam.Pool(["2001:db8::/32"])
    used = ["2001:db8::1-2001:db8:ffff:ffff:ffff:ffff:ffff:fffd"]
    assert p.allocate(used, version=6) == ["2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"]
    assert p.allocate(used, count=2, version=6) == [
        "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"]


@pytest.mark.parametrize("network, expected", [
    ("192.0.2.8/31", ["192.0.2.8", "192.0.2.9"]),     # RFC 3021: both usable
    ("192.0.2.8/32", ["192.0.2.8"]),
    ("192.0.2.8/30", ["192.0.2.9", "192.0.2.10"]),
    ("2001:db8::/127", ["2001:db8::", "2001:db8::1"]),
    ("2001:db8::5/128", ["2001:db8::5"]),
    ("2001:db8::/126", ["2001:db8::1", "2001:db8::2", "2001:db8::3"]),
])
def test_allocate_small_networks(network, expected):
    version = ipaddress.ip_network(network).version
    assert ipam.Pool([network]).allocate([], count=len(expected), version=version) == expected
    with pytest.raises(ValueError, match="exhausted"):
        ipam.Pool([network]).allocate([], count=len(expected) + 1, version=version)


@pytest.mark.parametrize("used, count, reason", [
    (["192.0.2.1", "192.0.2.2"], 1, r"exhausted: 0 free IPv4 addresses, 1 requested"),
    (["192.0.2.1"], 2, r"exhausted: 1 free IPv4 address, 2 requested"),
    ([], 3, r"exhausted: 2 free IPv4 addresses, 3 requested"),
])
def test_allocate_exhausted(used, count, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.Pool(["192.0.2.0/30"]).allocate(used, count)


def test_allocate_exhausted_by_reserved():
    p = ipam.Pool(["192.0.2.0/29"], reserved=["192.0.2.0/29"])
    with pytest.raises(ValueError, match="exhausted"):
        p.allocate([])


@pytest.mark.parametrize("kwargs, reason", [
    ({"count": 0}, "count must be"),
    ({"count": -1}, "count must be"),
    ({"count": 1.0}, "count must be"),
    ({"count": True}, "count must be"),
    ({"version": 5}, "version must be 4 or 6"),
    ({"version": "4"}, "version must be 4 or 6"),
    ({"version": 6}, "no IPv6 network"),
])
def test_allocate_rejects_arguments(kwargs, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.Pool(["192.0.2.0/24"]).allocate([], **kwargs)


@pytest.mark.parametrize("used, reason", [
    (["192.0.2.x"], "not an IP address"),
    ([None], "must be a string"),
    (7, "must be a list"),
])
def test_allocate_rejects_bad_used(pool, used, reason):
    with pytest.raises(ValueError, match=reason):
        pool.allocate(used)


def test_allocate_skips_many_used_in_a_large_pool():
    p = ipam.Pool(["198.18.0.0/15"], reserved=["198.18.0.0/24"])
    used = [str(ipaddress.IPv4Address(_int("198.18.1.0") + i)) for i in range(10_000)]
    got = p.allocate(used, count=5)
    assert got == ["198.18.40.16", "198.18.40.17", "198.18.40.18", "198.18.40.19", "198.18.40.20"]


def test_allocate_result_is_lowest_free():
    p = ipam.Pool(["192.0.2.0/28"], reserved=["192.0.2.3"], shared=["192.0.2.5"])
    used = ["192.0.2.1", "192.0.2.7"]
    expected = [str(a) for a in ipaddress.ip_network("192.0.2.0/28").hosts()
                if str(a) not in {"192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.7"}]
    assert p.allocate(used, count=len(expected)) == expected


@pytest.mark.parametrize("addr, networks, expected", [
    ("192.0.2.5", ["192.0.2.0/24"], True),
    ("192.0.2.5", ["198.51.100.0/24", "192.0.2.0/24"], True),
    ("192.0.3.5", ["192.0.2.0/24"], False),
    ("192.0.2.5", "192.0.2.0/24", True),
    ("192.0.2.5", ("192.0.2.0/24",), True),
    ("192.0.2.5", [], False),
    ("2001:db8:b3c::9", ["192.0.2.0/24", "2001:db8:b3c::/48"], True),
    ("2001:db8:b3d::9", ["2001:db8:b3c::/48"], False),
    ("192.0.2.5", ["2001:db8:b3c::/48"], False),
])
def test_address_in_pool(addr, networks, expected):
    assert ipam.address_in_pool(addr, networks) is expected


def test_address_in_pool_accepts_pool(pool):
    assert ipam.address_in_pool("198.51.100.9", pool) is True
    assert ipam.address_in_pool("203.0.113.9", pool) is False


@pytest.mark.parametrize("addr, networks, reason", [
    ("192.0.2.256", ["192.0.2.0/24"], "not an IP address"),
    (None, ["192.0.2.0/24"], "must be a string"),
    ("192.0.2.5", ["192.0.2.1/24"], "host bits set"),
    ("192.0.2.5", ["nonsense"], "not a network"),
    ("192.0.2.5", None, "not None"),
    ("192.0.2.5", 42, "must be a list"),
    ("192.0.2.5", [["192.0.2.0/24"]], "must be a string"),
])
def test_address_in_pool_rejects(addr, networks, reason):
    with pytest.raises(ValueError, match=reason):
        ipam.address_in_pool(addr, networks)
