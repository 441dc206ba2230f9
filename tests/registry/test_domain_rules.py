"""domain.yml's values checked for their own kind and the rules the requirements imply
(issue 12, items 3 and 4): decrees in their official form (D3, D5), names added at the
apex listed by decree (D3), DNS record values by their type, sizes and targets, the
renewal past its window (D6), a suspended name that lost its records (D7), the full
official name of an agency accepted as its subdomain (D2), and a broken definition (a
pool's network) reported once, without the errors of everything that uses it.
"""
import datetime
import json
import os

import pytest

import test_broken_registries
from mutate import Edit, line_of
from paths import EXAMPLE, SCHEMAS
from test_broken_registries import DINKES_A, DINKES_HEAD, DINKES_WWW, LAB_ROOT, case

from ansible.module_utils.city.registry.context import Context
from ansible.module_utils.city.registry.rules import domain
from ansible.module_utils.city.registry.validate import validate

F = "domain.yml"
DECREE = "Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023"
# dinkes's decree line (the first subdomain decree after its name is the one to edit).
DINKES_DECREE = ("  - name: dinkes\n    owner: DINKES\n    kind: agency\n    decree: %s\n" % DECREE)
OFFICER_DECREE = ('officer_decree: "Keputusan Sekretaris Daerah Kota Bekasi Nomor '
                  '555/Kep.41-Setda/II/2024"')
# The main domain's mail records come from domain.mail (rules/mail_dns.py): the MX and SRV
# cases below are a subdomain's own.
DINKES_MX = "      - {type: MX, priority: 10, value: mail.bekasikota.go.id.}"
APEX_CAA = "      - {type: CAA, flags: 0, tag: issue, value: letsencrypt.org}"
DISDIK_WWW = "      - {name: www, type: CNAME, value: disdik.bekasikota.go.id.}"
SUSPENDED = ("    status: suspended\n    description: Pameran produk daerah; ditangguhkan "
             "2026-08-14, konten komersial (Pasal 20 (3) d)\n    records:\n"
             "      - {type: A, value: 192.0.2.10}\n")
NETWORKS = "networks: [192.0.2.0/24,"
KRENOVA = '    status: active\n    officer: "199005072020032003"\n    description: Kompetisi'
TEXT_70K = ("Informasi publik Kota Bekasi. " * 2334)[:70000]


def decree(text):
    """dinkes's decree replaced by ``text``."""
    return Edit(F, DINKES_DECREE, DINKES_DECREE.replace(DECREE, text))


def apex(record):
    """One more record at the apex, after its first CAA record."""
    return Edit(F, APEX_CAA, APEX_CAA + "\n      - " + record)


def dinkes_www(value):
    return Edit(F, DINKES_WWW, DINKES_WWW.replace("dinkes.bekasikota.go.id.", value))


CASES = [
    # --- item 1: decrees in their official form (D3 for the subdomains, D5 for the officer)
    case("d3-decree-tbd", decree("TBD"), "D3-DECREE", F, "decree: TBD"),
    case("d3-decree-number-placeholder", decree("Keputusan Wali Kota Bekasi Nomor xxx"),
         "D3-DECREE", F, "Nomor xxx"),
    case("d3-decree-dated-after-today", decree(DECREE.replace("/V/2023", "/V/2099")),
         "D3-DECREE", F, "/V/2099"),
    case("d3-decree-of-another-city", decree(DECREE.replace("Bekasi", "Bandung")),
         "D3-DECREE", F, "Wali Kota Bandung"),
    case("d5-officer-decree-placeholder", Edit(F, OFFICER_DECREE, 'officer_decree: "belum"'),
         "D5-OFFICER", F, 'officer_decree: "belum"'),
    # --- item 2: a name added at the apex is a subdomain listed by decree
    case("d3-apex-name-without-decree", apex("{name: portal, type: A, value: 192.0.2.77}"),
         "D3-LISTED", F, "{name: portal,"),
    case("d3-subdomain-collides-with-apex-name", apex("{name: dinkes, type: A, value: 192.0.2.78}"),
         "D3-LISTED", F, "  - name: dinkes\n"),
    # --- item 3: DNS record values by their type, sizes and targets
    case("dns-mx-target-is-an-address", Edit(F, DINKES_A, DINKES_A + "\n" + DINKES_MX.replace(
        "mail.bekasikota.go.id.", "192.0.2.1")), "DNS-VALUE", F, "value: 192.0.2.1}"),
    case("dns-cname-target-is-an-address", dinkes_www("192.0.2.41."), "DNS-VALUE", F,
         "value: 192.0.2.41.}"),
    case("dns-txt-over-the-message-limit", Edit(F, DINKES_A, DINKES_A + '\n      - {name: info, '
                                                 'type: TXT, value: "%s"}' % TEXT_70K),
         "DNS-VALUE", F, "{name: info, type: TXT"),
    case("dns-aaaa-with-zone-index", Edit(F, '{type: AAAA, value: "2001:db8:b3c::42"}',
                                          '{type: AAAA, value: "2001:db8:b3c::42%eth0"}'),
         "DNS-VALUE", F, "%eth0"),
    case("dns-a-loopback-even-excepted", Edit(F, "{type: A, value: 203.0.113.50}",
                                              "{type: A, value: 127.0.0.1}"),
         "DNS-VALUE", F, "127.0.0.1"),
    case("dns-srv-name-without-service",
         Edit(F, DINKES_A, DINKES_A + "\n      - {name: imaps, type: SRV, priority: 0, weight: 1, "
                 "port: 993, value: mail.bekasikota.go.id.}"),
         "DNS-VALUE", F, "{name: imaps, type: SRV"),
    case("dns-caa-iodef-not-a-url", Edit(F, 'tag: iodef, value: "mailto:diskominfostandi@',
                                         'tag: iodef, value: "diskominfostandi@'),
         "DNS-VALUE", F, 'value: "diskominfostandi@'),
    case("dns-a-of-the-wrong-family",
         Edit(F, DINKES_A, DINKES_A.replace("192.0.2.41", '"2001:db8:b3c::41"')),
         r"[A-Z0-9]+-FORMAT", F, '"2001:db8:b3c::41"'),
    case("dns-cname-to-itself", dinkes_www("www.dinkes.bekasikota.go.id."), "DNS-TARGET", F,
         "value: www.dinkes.bekasikota.go.id.}"),
    case("dns-cname-to-nothing", dinkes_www("dinkes2.bekasikota.go.id."), "DNS-TARGET", F,
         "value: dinkes2.bekasikota.go.id.}"),
    case("dns-cname-to-a-deactivated-name", dinkes_www("sipkd.bekasikota.go.id."), "DNS-TARGET",
         F, "value: sipkd.bekasikota.go.id.}"),
    case("dns-cname-loop", [dinkes_www("www.disdik.bekasikota.go.id."),
                            Edit(F, DISDIK_WWW, DISDIK_WWW.replace("disdik.bekasikota",
                                                                   "www.dinkes.bekasikota"))],
         "DNS-TARGET", F, "value: www.dinkes.bekasikota.go.id.}"),
    case("dns-mx-to-an-alias", Edit(F, DINKES_A, DINKES_A + "\n" + DINKES_MX.replace(
        "mail.bekasikota.go.id.", "webmail.mail.bekasikota.go.id.")),
         "DNS-TARGET", F, "value: webmail.mail.bekasikota.go.id.}"),
    case("dns-cname-beside-other-data",
         Edit(F, DINKES_WWW, DINKES_WWW + "\n      - {name: www, type: A, value: 192.0.2.41}"),
         "DNS-CNAME", F, DINKES_WWW.strip()),
    # --- item 4: the renewal past its window is an error (D6)
    case("d6-renewal-overdue", Edit(F, "expires: 2027-03-15", "expires: 2026-09-01"),
         "D6-RENEWAL", F, "expires: 2026-09-01"),
    case("d6-expiry-far-ahead", Edit(F, "expires: 2027-03-15", "expires: 2207-03-15"),
         "D6-RENEWAL", F, "expires: 2207-03-15"),
    # --- item 5: a suspended name keeps its records (D7)
    case("d7-suspended-records-emptied", Edit(F, SUSPENDED, SUSPENDED.split("    records:")[0]
                                              + "    records: []\n"),
         "D7-SUSPENSION", F, "records: []", None),
    # --- item 7: a broken definition is reported once, where it is (D8)
    case("d8-network-with-host-bits", Edit(F, NETWORKS, "networks: [10.10.0.1/16, 192.0.2.0/24,"),
         "D8-POOL-DEF", F, "10.10.0.1/16"),
    case("d8-network-not-a-network", Edit(F, NETWORKS, "networks: [192.0.2.0/33,"),
         "D8-POOL-DEF", F, "192.0.2.0/33"),
    case("d8-networks-overlap", Edit(F, NETWORKS, "networks: [192.0.2.0/24, 192.0.2.128/25,"),
         "D8-POOL-DEF", F, "192.0.2.128/25"),
    case("d8-reserved-not-an-address", Edit(F, "      - 192.0.2.255           # broadcast",
                                            "      - 192.0.2.256"),
         "D8-POOL-DEF", F, "- 192.0.2.256"),
]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_domain_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule, file,
                                                   needle, nth):
    test_broken_registries.test_broken_registry_is_rejected_where_and_why(
        signed_registry, approval, edits, rule, file, needle, nth)


def _result(registry, approval, edits=(), today=None):
    for edit in edits:
        edit.apply(registry)
    return validate(str(registry), SCHEMAS, display_root=str(registry), today=today,
                    approval_root=approval.root)


def _errors(registry, approval, edits=(), today=None):
    return _result(registry, approval, edits, today).errors


def _only(errors):
    assert len(errors) == 1, "\n".join(f.format() for f in errors)
    return errors[0]


def _case(name):
    [found] = [p for p in CASES if p.id == name]
    return found.values[0]


# --- each problem once, with what was found, what is expected and the fix ---------------

@pytest.mark.parametrize("name", [p.id for p in CASES])
def test_each_broken_registry_gives_one_error(signed_registry, approval, name):
    _only(_errors(signed_registry, approval, _case(name)))


def test_a_cidr_with_host_bits_is_one_error_at_the_network(signed_registry, approval):
    """Item 4's example: 51 unrelated errors before; one now, at the network, and the
    addresses of the pool are still known to be in it."""
    error = _only(_errors(signed_registry, approval, _case("d8-network-with-host-bits")))
    assert error.rule == "D8-POOL-DEF"
    assert error.line == line_of(signed_registry, F, "10.10.0.1/16")
    assert "'10.10.0.1/16'" in error.message and "host bits" in error.message
    assert "10.10.0.0/16" in error.fix


def test_the_only_pool_with_host_bits_still_holds_its_addresses(signed_registry, approval):
    edit = Edit(F, NETWORKS, "networks: [192.0.2.1/24,")
    error = _only(_errors(signed_registry, approval, [edit]))
    assert error.rule == "D8-POOL-DEF" and "192.0.2.0/24" in error.fix


def test_a_pool_that_cannot_be_read_puts_no_address_outside_the_pools(signed_registry, approval):
    """A second pool with a network that is no network: its error alone, not every address
    of the registry 'outside the pools' (it may be meant for the broken network)."""
    edits = [Edit(F, "subdomains:\n  # --- Agencies", "  - name: second\n    networks: "
                  "[10.0.0.0/33]\nsubdomains:\n  # --- Agencies"),
             Edit(F, DINKES_A, DINKES_A.replace("192.0.2.41", "10.0.0.41"))]
    error = _only(_errors(signed_registry, approval, edits))
    assert error.rule == "D8-POOL-DEF" and "'10.0.0.0/33'" in error.message


def test_a_broken_shared_entry_does_not_make_every_shared_use_an_error(signed_registry, approval):
    edit = Edit(F, "      - 192.0.2.10\n", "      - 192.0.2.1O\n")
    error = _only(_errors(signed_registry, approval, [edit]))
    assert error.rule == "D8-POOL-DEF" and "shared entry '192.0.2.1O'" in error.message


def test_a_missing_suspension_target_is_one_error_for_all_suspended(signed_registry, approval):
    edits = [Edit(F, '    suspension_target:        # the page shown for a suspended name (D7)\n'
                     '      A: 192.0.2.9\n      AAAA: "2001:db8:b3c::9"\n', ""),
             Edit(F, KRENOVA, KRENOVA.replace("active", "suspended"))]
    error = _only(_errors(signed_registry, approval, edits))
    assert error.rule == "D7-SUSPENSION"
    assert "subdomains 'krenova', 'bekasifair' are suspended" in error.message
    assert error.line == line_of(signed_registry, F, "status: suspended")


def test_an_invalid_main_domain_is_the_schemas_error_only(signed_registry, approval):
    edit = Edit(F, "  name: bekasikota.go.id\n", "  name: bekasikota\n")
    errors = _errors(signed_registry, approval, [edit])
    assert [f for f in errors if f.file == F and f.rule != "D1-PATTERN"] == []


@pytest.mark.parametrize("text, why", [
    ("TBD", "is not a decree reference"),
    ("-", "is not a decree reference"),
    ("belum", "is not a decree reference"),
    ("xxx", "is not a decree reference"),
    ("000", "is not a decree reference"),
    ("", "is not a decree reference"),
    ("Kepwal 2023", "is not a decree reference"),
    ("Keputusan Wali Kota Bekasi Nomor TBD", "has the number 'TBD'"),
    ("Keputusan Wali Kota Bekasi Nomor 000/000/0000", "has the number"),
    ("Keputusan Wali Kota Bekasi Nomor 500.05/Kep.0-Diskominfostandi/V/2023", "a placeholder"),
    (DECREE.replace("/V/", "/XIII/"), "roman numerals"),
    ("Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/1023", "before 1990"),
    ("Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2099", "after today"),
    (DECREE.replace("Kota Bekasi", "Kota"), "names the issuer 'Wali Kota'"),
    ("Keputusan Sekretaris Daerah Kota Bekasi Nomor 555/Kep.41-Setda/II/2024", "not of the mayor"),
    ("Keputusan Wali Kota Bekasi Nomor " + "1" * 400, "characters long"),
])
def test_a_decree_in_another_form_says_which_part_is_wrong(signed_registry, approval, text, why):
    error = _only(_errors(signed_registry, approval, [decree(json.dumps(text))]))
    assert error.rule == "D3-DECREE" and why in error.message, error.message
    assert any(w in error.message for w in ("expected", "placeholder", "today", "before",
                                            "roman"))
    assert "'dinkes'" in error.message and DECREE in error.fix
    assert len(error.message) < 400


@pytest.mark.parametrize("text", [
    DECREE,
    "Keputusan Walikota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023",
    "Keputusan Wali Kota Bekasi Nomor: 500.05/Kep.215-Diskominfostandi/V/2023",
    "Keputusan Wali Kota Bekasi Nomor 060/Kep.88-Setda.Tlm/III/2025 tentang Personalia "
    "Pengelola SMS Center",
    "Keputusan Wali Kota Bekasi Nomor 100.3.3.2/123/Kpts/Diskominfo/I/2024",
])
def test_decrees_in_the_official_form_are_accepted(registry, text):
    ctx = _ctx(registry)
    assert domain.decree_problem(ctx, text, "mayor") is None


def _ctx(registry, today=datetime.date(2026, 12, 3)):
    from ansible.module_utils.city.registry.loader import load_file
    files = {name: load_file(os.path.join(str(registry), name), name)
             for name in ("city.yml", "domain.yml", "agencies.yml", "people.yml")}
    return Context(files, today=today)


def test_the_officer_decree_is_a_decision_of_the_sekda(signed_registry, approval):
    edit = Edit(F, OFFICER_DECREE, 'officer_decree: "%s"' % DECREE)
    error = _only(_errors(signed_registry, approval, [edit]))
    assert error.rule == "D5-OFFICER" and "not of the Sekretaris Daerah" in error.message
    assert "Keputusan Sekretaris Daerah Kota Bekasi Nomor <classification>" in error.message


# --- item 2: names at the apex ---------------------------------------------------------

def test_an_alias_of_the_main_domain_and_service_names_need_no_decree(signed_registry, approval):
    # The example's apex holds www (a CNAME to the domain); service names need no decree.
    edits = [apex("{name: web, type: CNAME, value: bekasikota.go.id.}"),
             apex('{name: _mta-sts, type: TXT, value: "v=STSv1; id=1"}')]
    assert _errors(signed_registry, approval, edits) == []


def test_an_apex_name_under_a_subdomain_is_a_collision(signed_registry, approval):
    edit = apex('{name: _dmarc.dinkes, type: TXT, value: "v=DMARC1; p=none"}')
    error = _only(_errors(signed_registry, approval, [edit]))
    assert error.rule == "D3-LISTED" and "_dmarc.dinkes.bekasikota.go.id" in error.message
    assert "(name: _dmarc)" in error.fix


def test_an_apex_name_says_where_it_belongs(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("d3-apex-name-without-decree")))
    assert "portal.bekasikota.go.id" in error.message and "no decree lists" in error.message
    assert "register 'portal' under subdomains" in error.fix


# --- item 3: values by type -------------------------------------------------------------

def test_the_txt_limit_counts_the_whole_name_and_accepts_long_keys(signed_registry, approval):
    dkim = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9
    ok = [Edit(F, DINKES_A, DINKES_A + '\n      - {name: _domainkey, type: TXT, value: "%s"}'
               % dkim)]
    assert [f for f in _errors(signed_registry, approval, ok) if f.rule == "DNS-VALUE"] == []


def test_two_txt_records_of_one_name_are_measured_together(signed_registry, approval):
    half = TEXT_70K[:20000]
    edits = [Edit(F, DINKES_A, DINKES_A + '\n      - {name: info, type: TXT, value: "%s"}'
                  '\n      - {name: info, type: TXT, value: "%s."}' % (half, half))]
    error = _only(_errors(signed_registry, approval, edits))
    assert error.rule == "DNS-VALUE" and "info.dinkes.bekasikota.go.id" in error.message
    assert error.line == line_of(signed_registry, F, "{name: info, type: TXT", 2)


def test_a_txt_message_says_found_expected_and_fix(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("dns-txt-over-the-message-limit")))
    assert "70" in error.message and "65535" in error.message and "shorten" in error.fix
    assert len(error.message) < 300  # the text itself is never shown


def test_an_mx_to_an_address_names_the_fix(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("dns-mx-target-is-an-address")))
    assert "'192.0.2.1', an IP address" in error.message
    assert "an MX target is a host name" in error.message
    assert "mail.bekasikota.go.id." in error.fix


def test_an_address_target_is_not_also_outside_the_domain(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, [dinkes_www("203.0.113.9.")]))
    assert error.rule == "DNS-VALUE"


def test_a_cname_to_nothing_is_not_reported_when_a_name_is_broken(signed_registry, approval):
    # A subdomain whose name is not a label may be the target meant: its own error only.
    edits = [_case("dns-cname-to-nothing")[0],
             Edit(F, "  - name: dlh\n", "  - name: dlh_\n")]
    error = _only(_errors(signed_registry, approval, edits))
    assert error.rule == "D2-LABEL" and "'dlh_'" in error.message and "'dlh'" in error.fix


def test_a_subdomain_with_a_dot_is_one_error_with_the_record_name_to_use(signed_registry, approval):
    edit = Edit(F, DINKES_HEAD, DINKES_HEAD.replace("dinkes", "rs.dinkes", 1))
    error = _only(_errors(signed_registry, approval, [edit]))
    assert error.rule == "D1-MAIN-DOMAIN" and "'rs.dinkes' is not one label" in error.message
    assert "'dinkes'" in error.fix and "(name: 'rs')" in error.fix


# --- item 4 (D6): overdue is an error, inside the window a warning ----------------------

@pytest.mark.parametrize("today, severity, words", [
    ("2026-12-03", None, None),
    ("2027-01-13", None, None),
    ("2027-01-14", "warning", "in 60 days"),
    ("2027-03-15", "warning", "until 2027-04-19 (35 more days)"),
    ("2027-04-18", "warning", "(1 more day)"),
    ("2027-04-19", "warning", "(today is the last day)"),
    ("2027-04-20", "error", "ended on 2027-04-19, 1 day ago: the renewal is overdue"),
])
def test_the_renewal_window(registry, today, severity, words):
    result = validate(str(registry), SCHEMAS, today=datetime.date.fromisoformat(today),
                      approval_root=LAB_ROOT)
    found = [f for f in result.findings if f.rule == "D6-RENEWAL"]
    if severity is None:
        assert found == [] and result.ok
        return
    (finding,) = found
    assert finding.severity == severity and words in finding.message, finding.message
    assert result.ok == (severity == "warning")


# --- item 5 (D7) ---------------------------------------------------------------------------

def test_a_suspended_name_without_records_says_how_to_restore_it(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("d7-suspended-records-emptied")))
    assert "'bekasifair' is suspended and has no records" in error.message
    assert "comes back unchanged" in error.message and "deactivated" in error.fix


def test_a_deactivated_name_may_have_no_records(signed_registry, approval):
    assert _errors(signed_registry, approval) == []  # sipkd: deactivated, records: []


# --- item 6 (D2): the agency's full official name ---------------------------------------

@pytest.mark.parametrize("label", ["dinaskesehatan", "dinas-kesehatan", "dinkes"])
def test_the_full_official_name_is_a_subdomain_of_the_agency(signed_registry, approval, label):
    edits = [Edit(F, DINKES_HEAD, DINKES_HEAD.replace("name: dinkes", "name: " + label)),
             Edit(F, DINKES_WWW, DINKES_WWW.replace("dinkes.", label + "."))]
    assert _errors(signed_registry, approval, edits) == []


def test_a_name_that_is_not_the_agencys_lists_what_it_may_be(signed_registry, approval):
    edits = [Edit(F, DINKES_HEAD, DINKES_HEAD.replace("name: dinkes", "name: kesehatan")),
             Edit(F, DINKES_WWW, DINKES_WWW.replace("dinkes.", "kesehatan."))]
    error = _only(_errors(signed_registry, approval, edits))
    assert error.rule == "D2-LABEL" and "'Dinas Kesehatan'" in error.message
    assert "dinkes or dinaskesehatan" in error.fix


# --- the patterns the rules leave to the schema are the schema's ------------------------

def test_the_rules_skip_exactly_what_the_schema_rejects():
    with open(os.path.join(SCHEMAS, "domain.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    definitions = schema["definitions"]
    main = schema["properties"]["domain"]["properties"]
    assert main["name"]["pattern"] == domain.DOMAIN_NAME_SCHEMA
    assert main["nameservers"]["items"]["pattern"] == domain.NAMESERVER_SCHEMA
    assert definitions["record"]["properties"]["name"]["pattern"] == domain.RECORD_NAME_SCHEMA
    hosts = [b["then"]["properties"]["value"]["pattern"] for b in definitions["record"]["allOf"]
             if b["if"]["properties"]["type"].get("enum") == ["CNAME", "MX", "SRV"]]
    assert hosts == [domain.HOST_SCHEMA]


def test_the_example_registry_is_clean_of_domain_findings():
    result = validate(EXAMPLE, SCHEMAS, today=datetime.date(2026, 12, 3), approval_root=LAB_ROOT)
    assert [f.format() for f in result.findings if f.file.endswith(F)] == []
