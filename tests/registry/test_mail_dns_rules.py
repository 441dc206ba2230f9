"""The main domain's mail records, domain.mail (rules/mail_dns.py, issue 15): one source of
the MX, SPF, DKIM, DMARC and mail SRV records, hosts with an address, SPF for the city's
servers only, DMARC reports to the city, and every value of a strict shape (the schema).
Each broken registry gives one error, at its line, with its rule, article and fix.
"""
import pytest

import test_broken_registries
from mutate import Edit, line_of
from paths import SCHEMAS
from test_broken_registries import case

from ansible.module_utils.city.registry.validate import validate

F = "domain.yml"
APEX_CAA = "      - {type: CAA, flags: 0, tag: issue, value: letsencrypt.org}"
EXCHANGER = "{host: mail, priority: 10}"
SPF = "spf: {mechanisms: [mx], all: fail}"
SELECTORS = "selectors: [city2026]"
REPORTS = "reports: [diskominfostandi@bekasikota.go.id]"
SERVICES = "services: {submission: mail, imaps: mail}"
E1 = "Perwal Kota Bekasi 17/2023 Pasal 29 ayat (1)-(2)"
E12 = "Perwal Kota Bekasi 17/2023 Pasal 37 ayat (1)"


def apex(record):
    return Edit(F, APEX_CAA, APEX_CAA + "\n      - " + record)


def swap(old, new):
    return Edit(F, old, new)


CASES = [
    # --- one source: a hand-written record of what domain.mail generates
    case("mail-hand-written-mx", apex("{type: MX, priority: 20, value: mail.bekasikota.go.id.}"),
         "E1-MAIL-EXCHANGER", F, "{type: MX, priority: 20"),
    case("mail-hand-written-srv", apex("{name: _imaps._tcp, type: SRV, priority: 0, weight: 1, "
                                       "port: 993, value: mail.bekasikota.go.id.}"),
         "E1-MAIL-EXCHANGER", F, "{name: _imaps._tcp"),
    case("mail-hand-written-spf", apex('{type: TXT, value: "v=spf1 a mx ~all"}'),
         "E12-MAIL-AUTH", F, '"v=spf1 a mx ~all"'),
    case("mail-hand-written-dmarc", apex('{name: _dmarc, type: TXT, value: "v=DMARC1; p=none"}'),
         "E12-MAIL-AUTH", F, "{name: _dmarc"),
    case("mail-hand-written-dkim", apex('{name: old._domainkey, type: TXT, value: "v=DKIM1; p="}'),
         "E12-MAIL-AUTH", F, "{name: old._domainkey"),
    # --- hosts have an address
    case("mail-exchanger-without-address", swap(EXCHANGER, "{host: mx2, priority: 10}"),
         "E1-MAIL-EXCHANGER", F, "{host: mx2"),
    case("mail-service-host-without-address", swap(SERVICES, "services: {submission: smtp, imaps: mail}"),
         "E1-MAIL-EXCHANGER", F, "submission: smtp"),
    case("mail-exchanger-of-a-deactivated-name", swap(EXCHANGER, "{host: sipkd, priority: 10}"),
         "E1-MAIL-EXCHANGER", F, "{host: sipkd"),
    # --- SPF allows the city's servers only
    case("mail-spf-outside-the-pools", swap(SPF, "spf: {mechanisms: [mx, ip4:203.0.113.0/24], all: fail}"),
         "E12-MAIL-AUTH", F, SPF[:5]),
    case("mail-spf-network-with-host-bits", swap(SPF, "spf: {mechanisms: [mx, ip4:192.0.2.1/24], all: fail}"),
         "E12-MAIL-AUTH", F, SPF[:5]),
    # --- DMARC reports to the city
    case("mail-dmarc-external-report", swap(REPORTS, "reports: [dmarc@reports.example.com]"),
         "E12-MAIL-AUTH", F, "reports: [dmarc@"),
    case("mail-dmarc-report-to-no-account", swap(REPORTS, "reports: [dmarc@bekasikota.go.id]"),
         "E12-MAIL-AUTH", F, "reports: [dmarc@"),
    # --- strict shapes (the schema)
    case("mail-bad-selector", swap(SELECTORS, "selectors: [City_2026]"), "E12-PATTERN", F,
         "selectors: [City_2026]"),
    case("mail-selector-too-long", swap(SELECTORS, "selectors: [%s]" % ("a" * 64)), "E12-PATTERN", F,
         "selectors: [aaa"),
    case("mail-exchanger-outside-the-zone", swap(EXCHANGER, "{host: mx.example.com., priority: 10}"),
         "E1-PATTERN", F, "{host: mx.example.com."),
    case("mail-spf-include", swap(SPF, "spf: {mechanisms: [mx, 'include:_spf.example.com'], all: fail}"),
         "E12-PATTERN", F, SPF[:5]),
    case("mail-spf-pass-all", swap(SPF, "spf: {mechanisms: [mx], all: pass}"), "E12-ENUM", F, SPF[:5]),
    case("mail-dmarc-unknown-policy", swap("policy: quarantine", "policy: block"), "E12-ENUM", F,
         "policy: block"),
    case("mail-dmarc-address-with-separator", swap(REPORTS, "reports: ['a@bekasikota.go.id,mailto:b@x.example']"),
         "E12-PATTERN", F, "reports: ['a@"),
    case("mail-unknown-service", swap(SERVICES, "services: {submission: mail, smtp: mail}"), "REG-UNKNOWN-KEY",
         F, SERVICES[:9]),
    case("mail-unknown-key", swap(SPF, SPF + "\n    dane: true"), "REG-UNKNOWN-KEY", F, "dane: true"),
]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_mail_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule, file, needle,
                                                 nth):
    test_broken_registries.test_broken_registry_is_rejected_where_and_why(
        signed_registry, approval, edits, rule, file, needle, nth)


def _errors(registry, approval, edits=()):
    for edit in edits:
        edit.apply(registry)
    return validate(str(registry), SCHEMAS, display_root=str(registry), approval_root=approval.root).errors


def _only(errors):
    assert len(errors) == 1, "\n".join(f.format() for f in errors)
    return errors[0]


def _case(name):
    [found] = [p for p in CASES if p.id == name]
    return found.values[0]


@pytest.mark.parametrize("name", [p.id for p in CASES])
def test_each_broken_mail_block_gives_one_error(signed_registry, approval, name):
    _only(_errors(signed_registry, approval, _case(name)))


def test_the_example_registry_publishes_its_mail_records_from_the_block(signed_registry, approval):
    assert _errors(signed_registry, approval) == []


@pytest.mark.parametrize("name, article", [("mail-hand-written-mx", E1), ("mail-hand-written-spf", E12),
                                           ("mail-exchanger-without-address", E1),
                                           ("mail-dmarc-external-report", E12), ("mail-bad-selector", E12)])
def test_errors_name_the_article(signed_registry, approval, name, article):
    error = _only(_errors(signed_registry, approval, _case(name)))
    assert error.article == article
    assert error.file == F and error.line >= 1 and error.column >= 1
    assert "%s:%d:%d: error [%s] %s" % (F, error.line, error.column, error.rule, article) in error.format()


def test_a_hand_written_record_says_where_it_belongs(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("mail-hand-written-dkim")))
    assert "domain.mail exists" in error.message and "old._domainkey" in error.message
    assert "domain.mail.dkim" in error.fix and "city_mail__dkim_public_keys" in error.fix


def test_an_external_report_address_explains_the_authorization(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("mail-dmarc-external-report")))
    assert "RFC 7489 section 7.1" in error.message
    assert "bekasikota.go.id._report._dmarc.reports.example.com" in error.message
    assert "on bekasikota.go.id" in error.fix


def test_an_exchanger_without_address_names_the_host(signed_registry, approval):
    error = _only(_errors(signed_registry, approval, _case("mail-exchanger-without-address")))
    assert "mx2.bekasikota.go.id" in error.message and "A or AAAA" in error.message
    assert error.line == line_of(signed_registry, F, "{host: mx2")


def test_without_a_mail_block_the_apex_records_stay_allowed(signed_registry, approval):
    """A city that does not use the block keeps writing its records by hand."""
    text = (signed_registry / F).read_text(encoding="utf-8")
    start, end = text.index("  # The main domain's mail records"), text.index("  apex:\n")
    (signed_registry / F).write_text(text[:start] + text[end:], encoding="utf-8")
    edits = [apex("{type: MX, priority: 10, value: mail.bekasikota.go.id.}"),
             apex('{type: TXT, value: "v=spf1 mx -all"}'),
             apex('{name: _dmarc, type: TXT, value: "v=DMARC1; p=none"}')]
    assert _errors(signed_registry, approval, edits) == []


def test_an_spf_address_in_the_pools_and_the_apex_exchanger_are_accepted(signed_registry, approval):
    edits = [swap(SPF, "spf: {mechanisms: [mx, ip4:192.0.2.25, 'ip6:2001:db8:b3c::25'], all: softfail}"),
             swap(EXCHANGER, "{host: mail, priority: 10}\n      - {host: '@', priority: 20}"),
             swap("policy: quarantine", "policy: reject\n      subdomain_policy: reject\n      percent: 50\n"
                  "      alignment: {dkim: strict, spf: relaxed}\n"
                  "      failure_reports: [diskominfostandi@bekasikota.go.id]")]
    assert _errors(signed_registry, approval, edits) == []
