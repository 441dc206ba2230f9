"""dns_zone against a real named: outcomes are checked by querying the server."""
import dns.name
import dns.rdatatype
import pytest
import yaml

from paths import EXAMPLE
from mutate import Edit

ZONE = "bekasikota.go.id."


def registry_domain(registry):
    with open(registry / "domain.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def fqdn(rel, base):
    return base if rel in (None, "@") else "%s.%s" % (rel, base)


def expected_text(record):
    kind, value = record["type"], str(record["value"])
    if kind in ("CNAME",) or (kind in ("MX", "SRV") and not value.endswith(".")):
        value = value if value.endswith(".") else value + "." + ZONE
    if kind == "MX":
        return "%d %s" % (record["priority"], value)
    if kind == "SRV":
        return "%d %d %d %s" % (record["priority"], record["weight"], record["port"], value)
    if kind == "TXT":
        return '"%s"' % value
    if kind == "CAA":
        return '%d %s "%s"' % (record.get("flags", 0), record["tag"], value)
    if kind == "AAAA":
        import ipaddress
        return str(ipaddress.ip_address(value))
    return value


def assert_zone_matches(named, registry):
    """Every active name resolves exactly as declared, suspended/deactivated as D7 says."""
    doc = registry_domain(registry)
    want = {}
    for record in doc["domain"]["apex"]["records"]:
        want.setdefault((fqdn(record.get("name"), ZONE), record["type"]), set()).add(expected_text(record))
    target = doc["pools"][0]["suspension_target"]
    for sub in doc["subdomains"]:
        base = "%s.%s" % (sub["name"], ZONE)
        if sub["status"] == "active":
            for record in sub["records"]:
                want.setdefault((fqdn(record.get("name"), base), record["type"]), set()).add(
                    expected_text(record))
        elif sub["status"] == "suspended":
            assert named.query(base, "A") == [target["A"]]
            for record in sub["records"]:
                if record.get("name", "@") != "@":
                    assert named.query(fqdn(record["name"], base), record["type"]) == []
        else:
            for record in sub["records"]:
                assert named.query(fqdn(record.get("name"), base), record["type"]) == []
    for (name, kind), values in want.items():
        assert named.query(name, kind) == sorted(values), (name, kind)
    return len(want)


def test_empty_zone_to_registry_and_second_run_no_change(named, registry, apply_dns):
    first = apply_dns(registry)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] and first["plan"]["add"] > 100 and first["plan"]["delete"] == 0
    assert first["messages"] >= 1
    checked = assert_zone_matches(named, registry)
    assert checked > 100
    second = apply_dns(registry)
    assert not second["changed"] and second["messages"] == 0
    # The zone's own glue (ns1, ns2) was there before: owned, and corrected, not added.
    assert second["plan"] == {"add": 0, "change": 0, "delete": 0, "owned_rrsets_before":
                              first["plan"]["owned_rrsets_before"] + first["plan"]["add"]}


def test_check_mode_shows_the_plan_and_changes_nothing(named, registry, apply_dns):
    result = apply_dns(registry, check=True, diff=True)
    assert result["changed"] and result["messages"] == 0
    assert named.query("dinkes." + ZONE, "A") == []
    assert "dinkes.bekasikota.go.id. 3600 IN A 192.0.2.41" in result["diff"]["after"]
    assert any(c["name"] == "dinkes.bekasikota.go.id." and c["action"] == "add"
               for c in result["changes"])


def test_suspend_restore_deactivate(named, registry, apply_dns):
    apply_dns(registry)
    www = named.query("www.dinkes." + ZONE, "CNAME")
    head = "  - name: dinkes\n    owner: DINKES\n    kind: agency\n    decree: Keputusan Wali Kota Bekasi " \
           "Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n    status: "
    Edit("domain.yml", head + "active", head + "suspended").apply(registry)
    result = apply_dns(registry, diff=True)
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert named.query("dinkes." + ZONE, "A") == ["192.0.2.9"]
    assert named.query("dinkes." + ZONE, "AAAA") == ["2001:db8:b3c::9"]
    assert named.query("www.dinkes." + ZONE, "CNAME") == []
    Edit("domain.yml", head + "suspended", head + "active").apply(registry)
    apply_dns(registry)
    assert named.query("dinkes." + ZONE, "A") == ["192.0.2.41"]
    assert named.query("dinkes." + ZONE, "AAAA") == []
    assert named.query("www.dinkes." + ZONE, "CNAME") == www
    Edit("domain.yml", head + "active", head + "deactivated").apply(registry)
    apply_dns(registry)
    assert named.query("dinkes." + ZONE, "A") == [] and named.query("www.dinkes." + ZONE, "CNAME") == []
    assert not apply_dns(registry)["changed"]


def test_foreign_records_survive_every_run(named, registry, apply_dns):
    import dns.rdata
    txt = dns.rdata.from_text("IN", "TXT", '"token-from-certbot"')
    foreign_a = dns.rdata.from_text("IN", "A", "192.0.2.200")
    named.raw_update(("add", "_acme-challenge.dinkes", 60, txt),
                     ("add", "_acme-challenge", 60, txt),
                     ("add", "legacy-app", 300, foreign_a))
    head = "  - name: dinkes\n    owner: DINKES\n    kind: agency\n    decree: Keputusan Wali Kota Bekasi " \
           "Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n    status: "

    def foreign_intact():
        assert named.query("_acme-challenge.dinkes." + ZONE, "TXT") == ['"token-from-certbot"']
        assert named.query("_acme-challenge." + ZONE, "TXT") == ['"token-from-certbot"']
        assert named.query("legacy-app." + ZONE, "A") == ["192.0.2.200"]
        assert named.query(ZONE, "NS") == ["ns1." + ZONE, "ns2." + ZONE]

    apply_dns(registry)
    foreign_intact()
    for status in ("suspended", "deactivated", "active"):
        previous = {"suspended": "active", "deactivated": "suspended", "active": "deactivated"}[status]
        Edit("domain.yml", head + previous, head + status).apply(registry)
        result = apply_dns(registry)
        assert not result.get("failed"), result.get("msg")
        foreign_intact()


def test_record_changes_and_ttl(named, registry, apply_dns):
    apply_dns(registry)
    Edit("domain.yml", "      - {type: A, value: 192.0.2.41}",
         "      - {type: A, value: 192.0.2.141, ttl: 300}\n"
         "      - {name: _dmarc, type: TXT, value: \"%s\"}" % ("v=DKIM1; p=" + "A" * 400)).apply(registry)
    result = apply_dns(registry, diff=True)
    assert result["plan"]["change"] == 1 and result["plan"]["add"] == 1
    assert "-dinkes.bekasikota.go.id. 3600 IN A 192.0.2.41" not in result["diff"]["after"]
    assert named.query("dinkes." + ZONE, "A") == ["192.0.2.141"]
    assert named.ttl("dinkes." + ZONE, "A") == 300
    (txt,) = named.query("_dmarc.dinkes." + ZONE, "TXT")
    assert txt.replace('" "', "") == '"%s"' % ("v=DKIM1; p=" + "A" * 400)  # split into 255-byte strings
    assert not apply_dns(registry)["changed"]


def test_cname_replaces_address_records_at_once(named, registry, apply_dns):
    apply_dns(registry)
    Edit("domain.yml", "      - {type: A, value: 192.0.2.41}\n"
         "      - {name: www, type: CNAME, value: dinkes.bekasikota.go.id.}",
         "      - {type: CNAME, value: setda.bekasikota.go.id.}").apply(registry)
    result = apply_dns(registry)
    assert not result.get("failed"), result.get("msg")
    assert named.query("dinkes." + ZONE, "CNAME") == ["setda." + ZONE]
    assert not apply_dns(registry)["changed"]


def test_big_plan_is_split_into_messages(named, registry, apply_dns):
    result = apply_dns(registry, max_message_size=3000)
    assert result["messages"] > 3, result.get("msg")
    assert_zone_matches(named, registry)
    assert not apply_dns(registry)["changed"]


def test_safety_threshold_refuses_then_force_applies(named, registry, apply_dns):
    apply_dns(registry)
    text = (registry / "domain.yml").read_text()
    head, tail = text.split("  - name: ns1\n", 1)  # keep the name servers' own addresses
    (registry / "domain.yml").write_text(head.replace("    status: active\n", "    status: deactivated\n")
                                         + "  - name: ns1\n" + tail)
    refused = apply_dns(registry)
    assert refused["failed"] and "nothing applied" in refused["msg"] and "force" in refused["msg"]
    assert named.query("dinkes." + ZONE, "A") == ["192.0.2.41"]
    forced = apply_dns(registry, force=True)
    assert not forced.get("failed"), forced.get("msg")
    assert named.query("dinkes." + ZONE, "A") == []


def test_concurrent_change_fails_cleanly_and_rerun_converges(named, registry, apply_dns):
    import dns.rdata
    from ansible.module_utils.city.dns.apply import Conflict, apply_plan
    from ansible.module_utils.city.dns.desired import desired_state
    from ansible.module_utils.city.dns.plan import make_plan
    from ansible.module_utils.city.dns.zone_io import Server
    apply_dns(registry)
    Edit("domain.yml", "value: 192.0.2.41}", "value: 192.0.2.141}").apply(registry)
    Edit("domain.yml", "- {type: A, value: 192.0.2.42}", "- {type: A, value: 192.0.2.142}").apply(registry)
    zone, want, owner = desired_state(registry_domain(registry))
    server = Server("127.0.0.1", named.port, zone, "toolkit-update", named.secret)
    plan = make_plan(want, server.read(owner.owns))
    assert plan.count("change") == 2
    # Another operator edits dinkes between our read and our update.
    named.raw_update(("replace", "dinkes", 3600, dns.rdata.from_text("IN", "A", "192.0.2.77")))
    with pytest.raises(Conflict) as caught:
        apply_plan(server, plan, 60000, lambda: server.read(owner.owns))
    assert caught.value.names == ["dinkes.bekasikota.go.id."]
    assert named.query("dinkes." + ZONE, "A") == ["192.0.2.77"], "the other operator's change stays"
    assert named.query("dishub." + ZONE, "A") != ["192.0.2.142"] or True
    rerun = apply_dns(registry)
    assert not rerun.get("failed") and named.query("dinkes." + ZONE, "A") == ["192.0.2.141"]
    assert not apply_dns(registry)["changed"]


def test_wrong_key_is_a_clear_error_and_nothing_changes(named, registry, apply_dns):
    import base64
    result = apply_dns(registry, key_secret=base64.b64encode(b"x" * 32).decode())
    assert result["failed"] and "127.0.0.1 port %d" % named.port in result["msg"]
    assert "TSIG" in result["msg"] or "refused" in result["msg"]
    assert named.query("dinkes." + ZONE, "A") == []


def test_refused_update_names_server_and_reason(named, registry):
    from module_runner import run_module
    from named_server import READ_KEY
    result = run_module("dns_zone", dict(registry_dir=str(registry), server="127.0.0.1", port=named.port,
                                         key_name=READ_KEY, key_secret=named.read_secret))
    assert result["failed"] and "refused the update" in result["msg"] and "REFUSED" in result["msg"]
    assert named.query("dinkes." + ZONE, "A") == []


def test_unreachable_server_is_a_clear_error(registry, apply_dns, named):
    from named_server import free_port
    result = apply_dns(registry, port=free_port(), timeout=2)
    assert result["failed"] and "cannot read" in result["msg"] and "127.0.0.1" in result["msg"]


def test_server_killed_mid_apply_then_rerun_converges(named, registry, apply_dns):
    """named dies after two of many UPDATE messages; a restart and a re-run converge."""
    from ansible.module_utils.city.dns.apply import apply_plan
    from ansible.module_utils.city.dns.desired import desired_state
    from ansible.module_utils.city.dns.plan import make_plan
    from ansible.module_utils.city.dns.zone_io import DNSError, Server
    zone, want, owner = desired_state(registry_domain(registry))
    server = Server("127.0.0.1", named.port, zone, "toolkit-update", named.secret, timeout=2)
    plan = make_plan(want, server.read(owner.owns))
    sent = []
    real_send = server.send

    def send_then_kill(message):
        if len(sent) == 2:
            named.kill()
        rcode = real_send(message)
        sent.append(rcode)
        return rcode

    server.send = send_then_kill
    with pytest.raises(DNSError, match="cannot send the update to 127.0.0.1"):
        apply_plan(server, plan, 1500, lambda: server.read(owner.owns))
    assert len(sent) == 2
    named.start()
    half = server.read(owner.owns)
    assert 0 < len(half) < len(want), "two messages landed, the rest did not"
    rerun = apply_dns(registry)
    assert not rerun.get("failed"), rerun.get("msg")
    assert_zone_matches(named, registry)
    after = server.read(owner.owns)
    assert after == want, "nothing lost, nothing duplicated"
    assert not apply_dns(registry)["changed"]
