"""Every rule rejects a registry broken for it, at the right line, citing its article.

Each case edits a copy of the example registry as text (so line numbers are those a
person sees), validates it, and expects a finding of the named rule at the line of
the edit, with the article that city.yml gives for the rule's requirement.
"""
import datetime
import os
import re

import pytest
import yaml

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.registry.findings import BUILTIN_ARTICLES
from ansible.module_utils.city.sms import trust
from ansible.module_utils.city.registry.validate import validate
from paths import EXAMPLE, LAB_INVENTORY, SCHEMAS
from mutate import Edit, line_of

LAB_ROOT = trust.load_root(LAB_INVENTORY)

CASE_KEYS = ("edits", "rule", "file", "needle", "nth")


def case(name, edits, rule, file, needle, nth=1):
    return pytest.param(edits if isinstance(edits, list) else [edits], rule, file, needle, nth,
                        id=name)


DINKES_A = "      - {type: A, value: 192.0.2.41}"
DINKES_WWW = "      - {name: www, type: CNAME, value: dinkes.bekasikota.go.id.}"
DINKES_HEAD = "  - name: dinkes\n    owner: DINKES\n"
DINKES_DECREE = ("    kind: agency\n    decree: Keputusan Wali Kota Bekasi Nomor "
                 "500.05/Kep.215-Diskominfostandi/V/2023\n    status: active\n"
                 "    officer: \"199207112021102003\"")
BLAST = "blasts/2026-12-101.yml"  # the blast to send of the signed registry (conftest.py)
KETUA = "198108022010041003"
UNPINNED_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbB "
                "added-by-a-merge-request")
with open(os.path.join(EXAMPLE, "blasts", "archive", "2026-11-001.yml"), encoding="utf-8") as _fh:
    ARCHIVED = _fh.read()


class ReEdit(Edit):
    """Replace the first match of the regular expression ``old`` by ``new(match, text)``: a
    line of the blast whose value depends on the day the signed registry was made."""

    def apply(self, registry):
        path = os.path.join(registry, self.file)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        match = re.search(self.old, text, re.MULTILINE)
        assert match, "edit target %r not in %s" % (self.old, self.file)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text[:match.start()] + self.new(match, text) + text[match.end():])


APPROVED = re.compile(r"^    date: ([0-9-]{10})$", re.MULTILINE)


def shifted(indent, field, days):
    """``new`` of a ReEdit: ``field`` at noon (city time), ``days`` after the approval date."""
    def new(_match, text):
        day = datetime.date.fromisoformat(APPROVED.search(text).group(1))
        return "%s%s: %sT12:00:00+07:00" % (indent, field, (day + datetime.timedelta(days=days)).isoformat())
    return new


class ForgedStatement(Edit):
    """approval-trust.yml with one rotation statement signed by a key the trust does not hold."""

    needs_approval = True

    def __init__(self, signer="other"):
        super().__init__(trust.TRUST_FILE, None, None, create=True)
        self.signer = signer

    def apply(self, registry, approval=None):
        current = trust.current(approval.root)
        statement = trust.new_statement(current, KETUA, [approval.successor.public], "2026-12-01",
                                        "Kunci baru Ketua")
        statement["signature"] = blast_signature.sign_bytes(
            trust.statement_content(statement), getattr(approval, self.signer).private,
            trust.NAMESPACE)
        write_statements(registry, [statement])


def write_statements(registry, statements):
    import json
    lines = ["---", "statements:"]
    for st in statements:
        lines += ["  - version: %d" % st["version"], "    ketua: %s" % json.dumps(st["ketua"]),
                  "    keys:"] + ["      - %s" % json.dumps(k) for k in st["keys"]] + [
                  "    date: %s" % st["date"], "    reason: %s" % json.dumps(st["reason"]),
                  "    previous: %s" % st["previous"], "    signature: |"] + [
                  "      " + line for line in st["signature"].strip().splitlines()]
    with open(os.path.join(str(registry), trust.TRUST_FILE), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")

CASES = [
    # --- the file format
    case("yaml-syntax", Edit("domain.yml", "  name: bekasikota.go.id\n", "  name: [bekasikota.go.id\n"),
         "REG-YAML", "domain.yml", None),
    case("yaml-indentation", Edit("mail.yml", "    kind: agency\n    owner: SETDA",
                                  "    kind: agency\n   owner: SETDA"),
         "REG-YAML", "mail.yml", None),
    case("duplicate-key", Edit("mail.yml", "    owner: SETDA\n", "    owner: SETDA\n    owner: SETWAN\n"),
         "REG-DUPLICATE-KEY", "mail.yml", "owner: SETWAN"),
    case("unknown-key", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD + "    onwer: DINKES\n"),
         "REG-UNKNOWN-KEY", "domain.yml", "onwer: DINKES"),
    case("wrong-type", Edit("city.yml", "max_segments: 3", "max_segments: three"),
         r"[A-Z0-9]+-TYPE", "city.yml", "max_segments: three"),
    case("enum", Edit("domain.yml", DINKES_DECREE, DINKES_DECREE.replace("active", "aktif")),
         r"D7-ENUM", "domain.yml", "status: aktif"),
    case("missing-required", Edit("mail.yml", "    owner: SETDA\n", ""),
         r"E4-REQUIRED", "mail.yml", "- address: setda@"),
    case("pattern", Edit("agencies.yml", "  - code: DINKES\n", "  - code: Dinkes\n"),
         r"[A-Z0-9]+-PATTERN", "agencies.yml", "code: Dinkes"),
    case("invalid-date", Edit("domain.yml", "expires: 2027-03-15", "expires: 2027-02-30"),
         r"[A-Z0-9]+-FORMAT", "domain.yml", "expires: 2027-02-30"),
    case("missing-file", Edit("sms-users.yml", None, None, delete=True),
         "REG-MISSING", "sms-users.yml", None),
    case("not-a-mapping", Edit("people.yml", None, "---\n- just\n- a list\n", create=True),
         "REG-TYPE", "people.yml", None),
    case("unknown-file", Edit("extras.yml", None, "---\nfoo: bar\n", create=True),
         "REG-UNKNOWN-FILE", "extras.yml", None),
    # --- the registry is data: no template marker in any string (docs/security.md)
    case("template-in-value", Edit("sms.yml", "description: Staf Ahli Wali Kota",
                                   "description: \"{{ lookup('pipe', 'id') }}\""),
         "REG-TEMPLATE", "sms.yml", "lookup('pipe'"),
    case("template-statement", Edit("agencies.yml", "  - code: DINKES\n",
                                    "  - code: DINKES\n    note: \"{% for x in y %}{% endfor %}\"\n"),
         "REG-TEMPLATE", "agencies.yml", "{% for x"),
    case("template-comment-marker", Edit("agencies.yml", "  - code: DINKES\n",
                                         "  - code: DINKES\n    note: '{# hidden #}'\n"),
         "REG-TEMPLATE", "agencies.yml", "{# hidden"),
    case("template-spelled-with-escapes", Edit("sms.yml", "description: Staf Ahli Wali Kota",
                                               "description: \"\\x7b{ lookup('pipe', 'id') }}\""),
         "REG-TEMPLATE", "sms.yml", "x7b{ lookup"),
    case("template-across-an-escaped-line-break", Edit(
        "sms.yml", "description: Staf Ahli Wali Kota", "description: \"{\\\n      { 7 * 7 }}\""),
         "REG-TEMPLATE", "sms.yml", "description: \"{\\"),
    case("template-in-a-key", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD + "    \"{{ x }}\": 1\n"),
         "REG-TEMPLATE", "domain.yml", "\"{{ x }}\": 1"),
    case("not-utf8", Edit("sms.yml", None, b"---\n# Surat \xe9dar\n", create=True),
         "REG-YAML", "sms.yml", None),
    # --- unique keys
    case("duplicate-agency", Edit("agencies.yml", "  - code: DBMSDA\n", "  - code: DINKES\n"),
         "REG-UNIQUE", "agencies.yml", "code: DINKES", 2),
    case("duplicate-subdomain", Edit("domain.yml", "  - name: setwan\n", "  - name: SETDA\n"),
         "REG-UNIQUE", "domain.yml", "name: SETDA"),
    case("duplicate-address", Edit("mail.yml", "address: setwan@bekasikota.go.id",
                                   "address: Setda@bekasikota.go.id"),
         "REG-UNIQUE", "mail.yml", "Setda@"),
    case("duplicate-user-id", Edit("sms-users.yml", "  - id: rizal.fahmi\n", "  - id: dedi.kurniawan.saputra\n"),
         "REG-UNIQUE", "sms-users.yml", "id: dedi.kurniawan.saputra", 2),
    # --- references
    case("unknown-owner", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD.replace("owner: DINKES", "owner: DINKESS")),
         "D2-OWNER", "domain.yml", "owner: DINKESS"),
    case("unknown-holder", Edit("mail.yml", 'holder: "197310151997012001"', 'holder: "197310151997019999"'),
         "E2-REFS", "mail.yml", "197310151997019999"),
    case("unknown-group", Edit("sms-users.yml", "groups: [pimpinan]\n    login: dedis",
                               "groups: [pimpinan, rt-rw]\n    login: dedis"),
         "S5-USERS", "sms-users.yml", "rt-rw"),
    case("unknown-parent", Edit("agencies.yml", "parent: KEC-BEKASISELATAN\n    mail_name: kelmargajaya",
                                "parent: KEC-ENTAH\n    mail_name: kelmargajaya"),
         "REG-AGENCY-TREE", "agencies.yml", "KEC-ENTAH"),
    case("kelurahan-parent", Edit("agencies.yml", "parent: KEC-BEKASISELATAN\n    mail_name: kelmargajaya",
                                  "parent: DINKES\n    mail_name: kelmargajaya"),
         "REG-AGENCY-TREE", "agencies.yml", "parent: DINKES"),
    case("unknown-role-agency", Edit("city.yml", "personnel_agency: BKPSDM", "personnel_agency: BKD"),
         "REG-REF", "city.yml", "personnel_agency: BKD"),
    case("nip", Edit("people.yml", 'id: "196905221997011002"', 'id: "196913221997011002"'),
         "P1-NIP", "people.yml", "196913221997011002"),
    # --- domain and subdomains (D1-D8)
    case("d1-not-directly-under", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD.replace("dinkes", "rs.dinkes", 1)),
         "D1-MAIN-DOMAIN", "domain.yml", "name: rs.dinkes"),
    case("d1-foreign-nameserver", Edit("domain.yml", "ns2.bekasikota.go.id.]", "ns.example.net.]"),
         "D1-MAIN-DOMAIN", "domain.yml", "nameservers:"),
    case("d2-label-form", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD.replace("name: dinkes", "name: din-kes-")),
         "D2-LABEL", "domain.yml", "name: din-kes-"),
    case("d2-not-the-acronym", Edit("domain.yml", DINKES_HEAD, DINKES_HEAD.replace("name: dinkes", "name: kesehatan")),
         "D2-LABEL", "domain.yml", "name: kesehatan"),
    case("d3-no-decree", Edit("domain.yml", DINKES_DECREE, DINKES_DECREE.replace(
        "    decree: Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n", "")),
         "D3-REQUIRED", "domain.yml", "- name: dinkes"),
    case("d4-exception-not-comms", Edit("domain.yml", 'approved_by: "196803091998031004"',
                                        'approved_by: "197310151997012001"'),
         "D4-EXCEPTION", "domain.yml", 'approved_by: "197310151997012001"'),
    case("d5-unknown-officer", Edit("domain.yml", 'officer: "198203232010101004"', 'officer: "198203232010101099"'),
         "D5-OFFICER", "domain.yml", "198203232010101099"),
    case("d7-no-suspension-target", Edit("domain.yml", '    suspension_target:        # the page shown for a '
                                         'suspended name (D7)\n      A: 192.0.2.9\n      AAAA: "2001:db8:b3c::9"\n', ""),
         "D7-SUSPENSION", "domain.yml", "status: suspended"),
    case("d8-outside-pool", Edit("domain.yml", DINKES_A, DINKES_A.replace("192.0.2.41", "203.0.113.41")),
         "D8-POOL", "domain.yml", "203.0.113.41"),
    case("d8-reserved", Edit("domain.yml", DINKES_A, DINKES_A.replace("192.0.2.41", "192.0.2.3")),
         "D8-POOL", "domain.yml", "192.0.2.3}"),
    case("d8-used-twice", Edit("domain.yml", DINKES_A, DINKES_A.replace("192.0.2.41", "192.0.2.42")),
         "D8-SHARED", "domain.yml", "value: 192.0.2.42}", 2),
    case("d8-target-outside", Edit("domain.yml", DINKES_WWW, DINKES_WWW.replace("dinkes.bekasikota.go.id.", "dinkes.example.org.")),
         "D8-TARGET", "domain.yml", "dinkes.example.org."),
    case("cname-beside-data", Edit("domain.yml", DINKES_WWW, DINKES_WWW + '\n      - {name: www, type: TXT, value: "x"}'),
         "DNS-CNAME", "domain.yml", DINKES_WWW.strip()),
    case("cname-at-apex", Edit("domain.yml", "      - {type: A, value: 192.0.2.10}\n      - {type: AAAA",
                               "      - {type: CNAME, value: www.bekasikota.go.id.}\n      - {type: AAAA"),
         "DNS-CNAME", "domain.yml", "{type: CNAME, value: www.bekasikota.go.id.}"),
    # --- mail (E1-E11)
    case("e1-other-domain", Edit("mail.yml", "address: setda@bekasikota.go.id", "address: setda@bekasi.go.id"),
         "E1-ADDRESS", "mail.yml", "setda@bekasi.go.id"),
    case("e1-agency-name", Edit("mail.yml", "address: setwan@bekasikota.go.id", "address: dprd@bekasikota.go.id"),
         "E1-AGENCY", "mail.yml", "dprd@"),
    case("e2-position-template", Edit("mail.yml", "address: kepala.dinkes@", "address: kadinkes@"),
         "E2-POSITION", "mail.yml", "kadinkes@"),
    case("e2-personal-name", Edit("mail.yml", "address: agus.wahyudi@", "address: andi.wahyudi@"),
         "E2-PERSONAL", "mail.yml", "andi.wahyudi@"),
    case("e3-event-request", Edit("mail.yml", "    request: Surat Kepala Disbudpora Nomor 800/342-Disbudpora/III/2025\n", ""),
         "E3-REQUIRED", "mail.yml", "- address: pemudapelopor@"),
    case("e4-no-admin", Edit("agencies.yml", '    mail_admin: "199207112021102003"\n', ""),
         "E4-ADMIN", "agencies.yml", "- code: DINKES"),
    case("e5-ticket-reused", Edit("mail.yml", "ticket: TIK-2026-0009", "ticket: TIK-2025-0117"),
         "E5-RESET", "mail.yml", "TIK-2025-0117", 2),
    case("e6-password-key", Edit("mail.yml", "    owner: SETDA\n", "    owner: SETDA\n    password: Rahasia123\n"),
         "E6-SECRET", "mail.yml", "password: Rahasia123"),
    case("e6-vault-value", Edit("sms.yml", '        smsc: "+6281100000"\n',
                                '        smsc: "+6281100000"\n        pin: !vault |\n'
                                '          $ANSIBLE_VAULT;1.1;AES256\n          6136383039\n'),
         "E6-SECRET", "sms.yml", "!vault"),
    case("e6-hash-in-comment", Edit("mail.yml", "    display_name: Sekretariat Daerah Kota Bekasi\n",
                                    "    display_name: Sekretariat Daerah Kota Bekasi  # {SSHA}c2VjcmV0c2FsdA==\n"),
         "E6-SECRET", "mail.yml", "{SSHA}"),
    case("e6-private-key", Edit("sms.yml", None, "# -----BEGIN OPENSSH PRIVATE KEY-----\n"),
         "E6-SECRET", "sms.yml", "BEGIN OPENSSH"),
    case("e9-no-validation", Edit("mail.yml", '      validated_by: "198212122008101001"\n      validation_ref: '
                                  'Surat Kepala BKPSDM Nomor 800.1.6/1187-BKPSDM.PPI/VI/2025\n', ""),
         "E9-VALIDATION", "mail.yml", "deactivation:", 2),
    case("e9-validated-elsewhere", Edit("mail.yml", 'validated_by: "198212122008101001"',
                                        'validated_by: "197310151997012001"'),
         "E9-VALIDATION", "mail.yml", 'validated_by: "197310151997012001"'),
    case("e11-approver-echelon", Edit("mail.yml", 'approved_by: "196905221997011002"', 'approved_by: "199207132018041004"'),
         "E11-REACTIVATION", "mail.yml", 'approved_by: "199207132018041004"'),
    case("e11-active-without-reactivation", Edit("mail.yml", "    reactivation:\n      request: Surat Kepala Dinas "
                                                 "Perhubungan", "    reactivatio_:\n      request: Surat Kepala Dinas "
                                                 "Perhubungan"),
         "E11-REACTIVATION", "mail.yml", "status: active", None),
    case("e11-reactivated-before", Edit("mail.yml", "      date: 2025-09-24", "      date: 2025-09-01"),
         "E11-REACTIVATION", "mail.yml", "date: 2025-09-01"),
    # --- SMS Center (S1-S9)
    case("s5-bad-phone", Edit("sms-users.yml", '"+62 818-2934-0251"', '"0818-29"'),
         "S5-PHONE", "sms-users.yml", '"0818-29"'),
    case("s5-same-phone", Edit("sms-users.yml", '"+62 818-2934-0251"', '"62815 3774 1464"'),
         "S5-PHONE", "sms-users.yml", '"0815-3774-1464"'),
    case("s4-sender-id", Edit("sms.yml", "sender_id: PEMKOBKS", "sender_id: PEMKOTBEKASI"),
         "S4-SENDER-ID", "sms.yml", "PEMKOTBEKASI"),
    case("s4-keyword-prefix", Edit("sms.yml", "keyword: INFO", "keyword: TANYAJAWAB"),
         "S4-KEYWORD", "sms.yml", "TANYAJAWAB"),
    case("s8-phone-id-twice", Edit("sms.yml", "phone_id: modem2", "phone_id: modem1"),
         "S8-MODEMS", "sms.yml", "phone_id: modem1", 2),
    case("s9-one-person-two-roles", Edit("sms.yml", 'sekretaris: "198210282010062003"', 'sekretaris: "198108022010041003"'),
         "S9-SECRETARIAT", "sms.yml", 'sekretaris: "198108022010041003"'),
    case("s2-key-not-ketua", Edit("sms.yml", '  - person: "198108022010041003"\n    key:', '  - person: "198210282010062003"\n    key:'),
         "S2-KEYS", "sms.yml", '- person: "198210282010062003"'),
    case("s1-originator", Edit(BLAST, 'originator: "197110171998031002"', 'originator: "197310151997012001"'),
         "S1-ORIGINATOR", BLAST, "197310151997012001"),
    case("s2-approver-not-ketua", Edit(BLAST, 'by: "198108022010041003"', 'by: "197110171998031002"'),
         "S2-APPROVAL", BLAST, 'by: "197110171998031002"'),
    case("s2-text-changed-after-signing", Edit(BLAST, "Kehadiran tidak dapat diwakilkan", "Kehadiran dapat diwakilkan"),
         "S2-APPROVAL", BLAST, "signature: |"),
    case("s2-recipients-changed-after-signing", Edit(BLAST, "groups: [kepala-pd, camat]", "groups: [kepala-pd, camat, lurah]"),
         "S2-APPROVAL", BLAST, "signature: |"),
    case("s3-kind", Edit(BLAST, "kind: invitation", "kind: promotion"),
         "S3-ENUM", BLAST, "kind: promotion"),
    case("s5-unknown-recipient-group", Edit(BLAST, "groups: [kepala-pd, camat]", "groups: [kepala-pd, rt-rw]"),
         "S5-RECIPIENTS", BLAST, "groups: [kepala-pd, rt-rw]"),
    case("gsm-too-many-segments", Edit(BLAST, "Terima kasih.", "Terima kasih \U0001F64F."),
         "GSM-SEGMENTS", BLAST, "text: >-"),
    case("blast-id-not-file-name", Edit(BLAST, 'id: "2026-12-101"', 'id: "2026-12-102"'),
         "REG-BLAST-ID", BLAST, 'id: "2026-12-102"'),
    # --- who approves (S2): the inventory's pin, not the registry
    case("s2-key-added-to-the-registry", Edit("sms.yml", "approval_keys:\n", 'approval_keys:\n  - person: "%s"\n'
                                                "    key: \"%s\"\n" % (KETUA, UNPINNED_KEY)),
         "S2-KEYS", "sms.yml", "added-by-a-merge-request"),
    case("s2-ketua-changed-in-the-registry", Edit("sms.yml", 'ketua: "198108022010041003"',
                                                  'ketua: "197204151998122003"'),
         "S2-KETUA", "sms.yml", 'ketua: "197204151998122003"'),
    case("s2-forged-rotation-statement", ForgedStatement(),
         "S2-TRUST", trust.TRUST_FILE, "signature: |"),
    # --- expiry (S2)
    case("s2-no-expiry", ReEdit(BLAST, r"^    expires: .*\n", lambda _m, _t: ""),
         "S2-EXPIRY", BLAST, "  approval:"),
    case("s2-expiry-too-late", ReEdit(BLAST, r"^    expires: .*$", shifted("    ", "expires", 9)),
         "S2-EXPIRY", BLAST, "    expires:"),
    case("s2-expiry-before-approval", ReEdit(BLAST, r"^    expires: .*$", shifted("    ", "expires", -1)),
         "S2-EXPIRY", BLAST, "    expires:"),
    case("s2-send-after-the-expiry", ReEdit(BLAST, r"^  send_after: .*$", shifted("  ", "send_after", 5)),
         "S2-EXPIRY", BLAST, "  send_after:"),
    case("s8-blast-gateway-unknown", Edit(BLAST, "  approval:\n", "  gateway: sms9\n  approval:\n"),
         "S8-GATEWAY", BLAST, "gateway: sms9"),
    # --- what blasts/ may hold
    case("blast-in-another-folder", Edit("blasts/old/2026-01-001.yml", None, ARCHIVED, create=True),
         "REG-UNKNOWN-FILE", "blasts/old/2026-01-001.yml", None),
    case("not-yaml-in-blasts", Edit("blasts/2026-01-002.txt", None, "blast\n", create=True),
         "REG-UNKNOWN-FILE", "blasts/2026-01-002.txt", None),
    case("archived-id-used-again", Edit("blasts/archive/2026-12-101.yml", None, ARCHIVED.replace(
        'id: "2026-11-001"', 'id: "2026-12-101"'), create=True),
         "REG-BLAST-ID", "blasts/archive/2026-12-101.yml", 'id: "2026-12-101"'),
]


def _articles():
    with open(os.path.join(EXAMPLE, "city.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)["articles"]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_broken_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule, file,
                                                   needle, nth):
    registry = signed_registry
    for edit in edits:
        if getattr(edit, "needs_approval", False):
            edit.apply(registry, approval)
        else:
            edit.apply(registry)
    result = validate(str(registry), SCHEMAS, display_root=str(registry),
                      approval_root=approval.root)
    assert not result.ok, "a broken registry validated"
    matching = [f for f in result.errors if re.fullmatch(rule, f.rule) and f.file == file]
    assert matching, "no %s error in %s; got:\n%s" % (
        rule, file, "\n".join(f.format() for f in result.findings))
    if needle is not None:
        if nth is None:  # the needle's line after the edit, whichever occurrence
            lines = {f.line for f in matching}
            text = open(os.path.join(registry, file), encoding="utf-8").read().splitlines()
            assert any(needle in text[line - 1] for line in lines), [f.format() for f in matching]
        else:
            expected = line_of(registry, file, needle, nth)
            assert expected in {f.line for f in matching}, "expected line %d, got:\n%s" % (
                expected, "\n".join(f.format() for f in matching))
    for finding in matching:
        assert finding.line >= 1 and finding.column >= 1
        assert finding.fix, "every error says what to do"
        article = _articles().get(finding.requirement) or BUILTIN_ARTICLES.get(finding.requirement)
        assert article and finding.article == article
        text = finding.format()
        assert text.startswith("%s:%d:%d: error [%s] %s" % (file, finding.line, finding.column,
                                                             finding.rule, article))


def test_there_are_at_least_forty_distinct_broken_registries():
    assert len(CASES) >= 40
    assert len({p.id for p in CASES}) == len(CASES)


def test_the_example_registry_is_valid():
    result = validate(EXAMPLE, SCHEMAS, display_root=EXAMPLE, approval_root=LAB_ROOT)
    assert result.ok, "\n".join(f.format() for f in result.errors)


def test_the_signed_registry_is_valid(signed_registry, approval):
    result = validate(str(signed_registry), SCHEMAS, approval_root=approval.root)
    assert result.ok, "\n".join(f.format() for f in result.errors)
    assert {f: 1 for f in result.context.active_blast_files} == {BLAST: 1}


MORE_CASES = [
    case("d8-pool-host-bits", Edit("domain.yml", "networks: [192.0.2.0/24,", "networks: [192.0.2.1/24,"),
         "D8-POOL-DEF", "domain.yml", "192.0.2.1/24"),
    case("dns-record-name", Edit("domain.yml", DINKES_WWW, DINKES_WWW.replace("name: www", "name: -www")),
         r"DNS-RECORD-NAME|[A-Z0-9]+-PATTERN", "domain.yml", "name: -www"),
    case("e3-event-takes-agency-name", Edit("mail.yml", "address: krenova@", "address: dinkes@"),
         "E3-EVENT", "mail.yml", "address: dinkes@", 2),
    case("ns-without-address", Edit("domain.yml", "  - name: ns2\n    owner: DISKOMINFOSTANDI\n    kind: application\n"
                                    "    decree: Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n"
                                    "    status: active", "  - name: ns2\n    owner: DISKOMINFOSTANDI\n    kind: application"
                                    "\n    decree: Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n"
                                    "    status: deactivated"),
         "DNS-NS-ADDRESS", "domain.yml", "nameservers:"),
    case("s1-unknown-originator", Edit("sms.yml", "  - person: walikota-2025\n    basis: mayor",
                                       "  - person: walikota-2030\n    basis: mayor"),
         "S1-ORIGINATORS", "sms.yml", "walikota-2030"),
]
CASES.extend(MORE_CASES)


@pytest.mark.parametrize("edits, rule, file, needle, nth", MORE_CASES)
def test_more_broken_registries(signed_registry, approval, edits, rule, file, needle, nth):
    test_broken_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule, file,
                                                   needle, nth)


WARNING_CASES = [
    pytest.param([Edit("people.yml", "position: Kepala Bagian Hukum\n    echelon: III\n    status: active",
                       "position: Kepala Bagian Hukum\n    echelon: III\n    status: retired")],
                 "E9-HOLDER-LEFT", None, id="e9-holder-left"),
    pytest.param([Edit("sms-users.yml", 'phone: "0895-8022-9231"\n    groups: [lurah]\n    status: deregistered',
                       'phone: "0895-8022-9231"\n    groups: [lurah]\n    status: registered')],
                 "S5-USERS", None, id="s5-registered-but-retired"),
    pytest.param([Edit("domain.yml", 'officer: "198203232010101004"', 'officer: "196707111992011001"')],
                 "D5-OFFICER", None, id="d5-officer-retired"),
    pytest.param([], "D6-RENEWAL", "2027-02-01", id="d6-sixty-days-ahead"),
    pytest.param([], "D6-RENEWAL", "2027-04-01", id="d6-inside-the-35-days"),
]


@pytest.mark.parametrize("edits, rule, today", WARNING_CASES)
def test_warnings_are_reported_without_failing(registry, edits, rule, today):
    import datetime
    for edit in edits:
        edit.apply(registry)
    day = datetime.date.fromisoformat(today) if today else None
    result = validate(str(registry), SCHEMAS, today=day, display_root=str(registry),
                      approval_root=LAB_ROOT)
    assert [w for w in result.warnings if w.rule == rule], [f.format() for f in result.findings]
    assert result.ok, [f.format() for f in result.errors]


def test_no_renewal_warning_long_before_expiry():
    import datetime
    result = validate(EXAMPLE, SCHEMAS, today=datetime.date(2026, 11, 23), approval_root=LAB_ROOT)
    assert not [w for w in result.warnings if w.rule == "D6-RENEWAL"]


def test_every_rule_has_a_broken_registry():
    import importlib
    from ansible.module_utils.city.registry.rules.base import RULES
    tested = {p.values[1] for p in CASES} | {p.values[1] for p in WARNING_CASES}
    for name in ("test_domain_rules", "test_sms_rules", "test_mail_rules", "test_secrets_scan",
                 "test_mail_dns_rules"):
        tested |= {p.values[1] for p in getattr(importlib.import_module(name), "CASES", ())}
    untested = [r.id for r in RULES if not any(re.fullmatch(t, r.id) for t in tested)]
    assert not untested


def test_all_errors_come_out_in_one_run(signed_registry, approval):
    registry = signed_registry
    edits = [Edit("domain.yml", DINKES_A, DINKES_A.replace("192.0.2.41", "203.0.113.41")),
             Edit("mail.yml", "address: kepala.dinkes@", "address: kadinkes@"),
             Edit("sms.yml", "sender_id: PEMKOBKS", "sender_id: PEMKOTBEKASI"),
             Edit("people.yml", 'id: "196905221997011002"', 'id: "196913221997011002"'),
             Edit("agencies.yml", "  - code: DBMSDA\n", "  - code: DINKES\n"),
             Edit(BLAST, "kind: invitation", "kind: promotion"),
             Edit("city.yml", "max_segments: 3", "max_segments: three")]
    for edit in edits:
        edit.apply(registry)
    result = validate(str(registry), SCHEMAS, display_root=str(registry), approval_root=approval.root)
    rules = {f.rule for f in result.errors}
    assert {"D8-POOL", "E2-POSITION", "S4-SENDER-ID", "P1-NIP", "REG-UNIQUE", "S3-ENUM"} <= rules
    assert {f.file for f in result.errors} >= {"domain.yml", "mail.yml", "sms.yml", "people.yml",
                                               "agencies.yml", BLAST, "city.yml"}
