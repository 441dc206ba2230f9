"""The mail, people, agencies and common rules: heads and their accounts (E2), admins in
service (E4), the regulation's password floor (E6), one finding per problem, no cascade
from a malformed entry, and messages that say what was found, what is expected and what
to do."""
import json
import os
import re

import pytest

from ansible.module_utils.city.registry.rules import mail as mail_rules
from ansible.module_utils.city.registry.rules.base import RULES
from ansible.module_utils.city.registry.validate import validate
from ansible.module_utils.city.registry import handover_keys
from mutate import Edit, line_of
from paths import EXAMPLE, SCHEMAS
import test_broken_registries
from test_broken_registries import LAB_ROOT, case

DINKES_HEAD_ACCOUNT = ('  - address: kepala.dinkes@bekasikota.go.id\n    kind: position\n'
                       '    owner: DINKES\n    position: kepala-pd\n'
                       '    holder: "197310151997012001"\n')
DINKES_HEAD_ACCOUNT_REST = ('    display_name: Kepala Dinas Kesehatan Kota Bekasi\n'
                            '    status: active\n')
DINKES_HEAD = "dr. Retno Wulandari, M.K.M."
HEAD_PERSON = ('  - id: "197310151997012001"\n    kind: asn\n    name: "dr. Retno Wulandari, '
               'M.K.M."\n    agency: DINKES\n    position: Kepala Dinas Kesehatan\n'
               '    echelon: II\n    status: active\n')
ADMIN_PERSON = ('  - id: "199207112021102003"\n    kind: asn\n    name: "Ayu Lestari, S.K.M."\n'
                '    agency: DINKES\n    position: Pranata Komputer Ahli Pertama\n'
                '    status: active\n')
SUPARDI_VALIDATION = ('      validated_by: "198212122008101001"\n      validation_ref: Surat Kepala '
                      'BKPSDM Nomor 800.1.6/1187-BKPSDM.PPI/VI/2025\n')


def retired(text, status="retired"):
    return text.replace("    status: active\n", "    status: %s\n" % status)


def _key_line(person):
    """The handover_keys line of ``person`` in the example's people.yml."""
    with open(os.path.join(EXAMPLE, "people.yml"), encoding="utf-8") as fh:
        text = fh.read()
    return re.compile(r"    handover_keys: .*\n").search(text, text.index('  - id: "%s"' % person)).group(0)


HEAD_KEYS, ADMIN_KEYS = _key_line("197310151997012001"), _key_line("199207112021102003")
# One bech32 character of the head's age key changed: the form holds, the checksum not.
_AT = HEAD_KEYS.index("age1") + 12
BROKEN_HEAD_KEYS = HEAD_KEYS[:_AT] + ("q" if HEAD_KEYS[_AT] != "q" else "p") + HEAD_KEYS[_AT + 1:]


CASES = [
    # --- E2: the head of a Perangkat Daerah holds its position account
    case("e2-head-without-position-account",
         Edit("mail.yml", DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST, ""),
         "E2-HEAD", "agencies.yml", 'head: "197310151997012001"'),
    case("e2-head-account-deleted",
         Edit("mail.yml", DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST,
              DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST.replace(
                  "status: active", "status: deleted\n    deactivation: {reason: moved, request: "
                  "Surat 1/2025, validated_by: \"198212122008101001\", validation_ref: Surat "
                  "2/2025, date: 2025-03-01}")),
         "E2-HEAD", "agencies.yml", 'head: "197310151997012001"'),
    case("e2-head-of-bumd-without-account",
         Edit("mail.yml", "    position: direktur-bumd\n    holder: \"direktur-mitrapatriot\"",
              "    position: kepala-pd\n    holder: \"direktur-mitrapatriot\""),
         "E2-HEAD", "agencies.yml", "head: direktur-mitrapatriot"),
    case("e2-head-account-held-by-another",
         Edit("mail.yml", DINKES_HEAD_ACCOUNT,
              DINKES_HEAD_ACCOUNT.replace("197310151997012001", "199207112021102003")),
         "E2-HEAD", "mail.yml", 'holder: "199207112021102003"'),
    case("e2-head-retired", Edit("people.yml", HEAD_PERSON, retired(HEAD_PERSON)),
         "E2-HEAD", "agencies.yml", 'head: "197310151997012001"'),
    case("e2-position-on-an-agency-account",
         Edit("mail.yml", "    owner: SETDA\n", "    owner: SETDA\n    position: sekda\n"),
         "E2-POSITION", "mail.yml", "position: sekda"),
    # --- E4: the admin of an agency's mail is a person in service
    case("e4-retired-admin", Edit("people.yml", ADMIN_PERSON, retired(ADMIN_PERSON)),
         "E4-ADMIN", "agencies.yml", 'mail_admin: "199207112021102003"'),
    case("e4-deceased-admin", Edit("people.yml", ADMIN_PERSON, retired(ADMIN_PERSON, "deceased")),
         "E4-ADMIN", "agencies.yml", 'mail_admin: "199207112021102003"'),
    case("e4-admin-moved-away", Edit("people.yml", ADMIN_PERSON, retired(ADMIN_PERSON, "moved")),
         "E4-ADMIN", "agencies.yml", 'mail_admin: "199207112021102003"'),
    # --- E6: a new password is handed to one person, encrypted to their own key (Pasal 35)
    case("e6-handover-key-checksum", Edit("people.yml", HEAD_KEYS, BROKEN_HEAD_KEYS),
         "E6-HANDOVER-KEY-FORMAT", "people.yml", BROKEN_HEAD_KEYS.strip()),
    case("e6-mail-admin-without-handover-key", Edit("people.yml", ADMIN_PERSON + ADMIN_KEYS, ADMIN_PERSON),
         "E6-HANDOVER-KEY", "people.yml", 'id: "199207112021102003"'),
    case("e6-head-with-the-admin-s-key", Edit("people.yml", HEAD_KEYS, ADMIN_KEYS),
         "E6-HANDOVER-KEY", "people.yml", ADMIN_KEYS.strip(), 2),
    # --- E6: the password policy is never weaker than Pasal 35 ayat (5)
    case("e6-min-length-6", Edit("city.yml", "password_min_length: 8", "password_min_length: 6"),
         "E6-POLICY", "city.yml", "password_min_length: 6"),
    case("e6-min-length-0", Edit("city.yml", "password_min_length: 8", "password_min_length: 0"),
         "E6-POLICY", "city.yml", "password_min_length: 0"),
    case("e6-lowercase-only", Edit("city.yml", "password_classes: [lower, upper, digit]",
                                   "password_classes: [lower]"),
         "E6-POLICY", "city.yml", "password_classes: [lower]"),
    case("e6-no-classes", Edit("city.yml", "password_classes: [lower, upper, digit]",
                               "password_classes: []"),
         "E6-POLICY", "city.yml", "password_classes: []"),
    # --- E9, E11: what the schema no longer says twice
    case("e9-validation-ref-missing",
         Edit("mail.yml", "      validation_ref: Surat Kepala BKPSDM Nomor 800.1.6/1187-BKPSDM."
              "PPI/VI/2025\n", ""),
         "E9-VALIDATION", "mail.yml", "deactivation:", 2),
    case("e11-reactivation-without-deactivation",
         Edit("mail.yml", "    holder: \"199207132018041004\"\n    display_name: Rudi Hartono\n"
              "    status: active\n    deactivation:\n      reason: breach\n      request: Laporan "
              "Insiden Keamanan Informasi Nomor 555/87-Diskominfostandi.Sandi/IX/2025\n"
              "      date: 2025-09-08\n",
              "    holder: \"199207132018041004\"\n    display_name: Rudi Hartono\n"
              "    status: active\n"),
         "E11-REACTIVATION", "mail.yml", "reactivation:"),
    # --- E1: a renamed account names its old address once, and the address is free
    case("e1-renamed-from-an-address-in-use",
         Edit("mail.yml", "  - address: krenova@bekasikota.go.id\n",
              "  - address: krenova@bekasikota.go.id\n    renamed_from: harijadi@bekasikota.go.id\n"),
         "E1-RENAMED", "mail.yml", "renamed_from: harijadi@bekasikota.go.id"),
    case("e1-renamed-from-another-domain",
         Edit("mail.yml", "  - address: krenova@bekasikota.go.id\n",
              "  - address: krenova@bekasikota.go.id\n    renamed_from: krenova@example.org\n"),
         "E1-RENAMED", "mail.yml", "renamed_from: krenova@example.org"),
    case("e1-renamed-from-twice",
         [Edit("mail.yml", "  - address: krenova@bekasikota.go.id\n",
               "  - address: krenova@bekasikota.go.id\n    renamed_from: lama@bekasikota.go.id\n"),
          Edit("mail.yml", "  - address: harijadi@bekasikota.go.id\n",
               "  - address: harijadi@bekasikota.go.id\n    renamed_from: lama@bekasikota.go.id\n")],
         "E1-RENAMED", "mail.yml", "renamed_from: lama@bekasikota.go.id", 2),
    # --- P1: which form of id a person's kind needs
    case("p1-asn-with-a-slug-id", Edit("people.yml", '  - id: "direktur-tirtapatriot"\n    kind: non-asn',
                                       '  - id: "direktur-tirtapatriot"\n    kind: asn'),
         "P1-NIP", "people.yml", 'id: "direktur-tirtapatriot"'),
    case("p1-non-asn-with-a-nip", Edit("people.yml", HEAD_PERSON,
                                       HEAD_PERSON.replace("kind: asn", "kind: non-asn")),
         "P1-NIP", "people.yml", 'id: "197310151997012001"'),
    # --- REG: the agency tree
    case("reg-bagian-under-a-dinas", Edit("agencies.yml", "    kind: bagian\n    parent: SETDA\n"
                                          "    mail_name: telematika",
                                          "    kind: bagian\n    parent: DINKES\n"
                                          "    mail_name: telematika"),
         "REG-AGENCY-TREE", "agencies.yml", "parent: DINKES"),
    case("reg-parent-cycle", Edit("agencies.yml", "    kind: kecamatan\n    mail_name: kecbekasibarat",
                                  "    kind: kecamatan\n    parent: KEL-BINTARA\n"
                                  "    mail_name: kecbekasibarat"),
         "REG-AGENCY-TREE", "agencies.yml", "parent: KEL-BINTARA"),
]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_mail_broken_registry(signed_registry, approval, edits, rule, file, needle, nth):
    test_broken_registries.test_broken_registry_is_rejected_where_and_why(
        signed_registry, approval, edits, rule, file, needle, nth)


def run(registry, *edits):
    for edit in edits:
        edit.apply(registry)
    return validate(str(registry), SCHEMAS, display_root=str(registry), approval_root=LAB_ROOT)


def only(result, rule):
    found = [f for f in result.errors if f.rule == rule]
    assert len(found) == 1, "\n".join(f.format() for f in result.findings)
    return found[0]


# --- messages: what was found, what is expected, what to do

def test_head_without_account_says_which_account_to_add(registry):
    result = run(registry, Edit("mail.yml", DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST, ""))
    finding = only(result, "E2-HEAD")
    assert DINKES_HEAD in finding.message and "DINKES" in finding.message
    assert "no position account" in finding.message and "kepala-pd" in finding.message
    assert "kepala.dinkes@bekasikota.go.id" in finding.fix
    assert 'holder: "197310151997012001"' in finding.fix
    assert finding.article == test_broken_registries._articles()["E2"]
    assert [f.rule for f in result.errors] == ["E2-HEAD"]


def test_head_account_held_by_another_names_both(registry):
    result = run(registry, Edit("mail.yml", DINKES_HEAD_ACCOUNT, DINKES_HEAD_ACCOUNT.replace(
        "197310151997012001", "199207112021102003")))
    finding = only(result, "E2-HEAD")
    assert "199207112021102003" in finding.message and "197310151997012001" in finding.message
    assert "line %d" % line_of(registry, "agencies.yml", 'head: "197310151997012001"') \
        in finding.message
    assert 'holder: "197310151997012001"' in finding.fix and "head-changed" in finding.fix


def test_vacant_posts_and_units_need_no_head_account(registry):
    """No head: a vacant post (DISTARU). A bagian, a kelurahan, an RSUD are not Perangkat
    Daerah: their heads need no account of their own."""
    result = run(registry,
                 Edit("mail.yml", "  - address: kepala.rsud@bekasikota.go.id\n    kind: position\n"
                      "    owner: RSUD\n    position: kepala-pd\n", "  - address: "
                      "kepala.rsud@bekasikota.go.id\n    kind: event\n    request: Surat 1/2026\n"
                      "    owner: RSUD\n"))
    assert not [f for f in result.findings if f.rule == "E2-HEAD"], [
        f.format() for f in result.findings]


def test_a_breach_deactivated_head_account_still_counts(registry):
    account = DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST
    result = run(registry, Edit("mail.yml", account, account.replace(
        "status: active", "status: deactivated\n    deactivation: {reason: breach, request: "
        "Laporan 1/2026, date: 2026-01-05}")))
    assert result.ok, [f.format() for f in result.errors]


def test_retired_admin_message(registry):
    result = run(registry, Edit("people.yml", ADMIN_PERSON, retired(ADMIN_PERSON)))
    finding = only(result, "E4-ADMIN")
    assert "Ayu Lestari" in finding.message and "retired" in finding.message
    assert "in service" in finding.message
    assert "mail_admin" in finding.fix
    assert finding.article == test_broken_registries._articles()["E4"]


@pytest.mark.parametrize("old, new, found, expected", [
    ("password_min_length: 8", "password_min_length: 6", "is 6", "at least 8"),
    ("password_classes: [lower, upper, digit]", "password_classes: [lower, digit]",
     "lacks upper", "lowercase, uppercase and digits"),
])
def test_password_floor_message(registry, old, new, found, expected):
    result = run(registry, Edit("city.yml", old, new))
    finding = only(result, "E6-POLICY")
    assert found in finding.message and expected in finding.message
    assert "(E6)" in finding.message and "Pasal 35" in finding.article  # the city's article
    assert finding.line == line_of(registry, "city.yml", new)
    assert not [f for f in result.errors if f.rule != "E6-POLICY"], [
        f.format() for f in result.errors]


def test_password_floor_is_the_code_s_not_the_registry_s():
    assert mail_rules.PASSWORD_MIN_LENGTH == 8
    assert set(mail_rules.PASSWORD_CLASSES) == {"lower", "upper", "digit"}
    with open(os.path.join(SCHEMAS, "city.schema.json"), encoding="utf-8") as fh:
        mail = json.load(fh)["properties"]["policy"]["properties"]["mail"]["properties"]
    # the schema says nothing of the floor: E6-POLICY reports it, once
    assert "minimum" not in mail["password_min_length"]
    assert "minItems" not in mail["password_classes"]


def test_a_stricter_password_policy_is_accepted(registry):
    result = run(registry, Edit("city.yml", "password_min_length: 8", "password_min_length: 12"),
                 Edit("city.yml", "password_classes: [lower, upper, digit]",
                      "password_classes: [lower, upper, digit, symbol]"))
    assert result.ok, [f.format() for f in result.errors]


def test_the_handover_key_form_is_the_schema_s():
    with open(os.path.join(SCHEMAS, "people.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    keys = schema["definitions"]["person"]["properties"]["handover_keys"]
    assert keys["items"]["pattern"] == handover_keys.KEY_PATTERN


def test_the_rule_and_age_agree_on_hand_over_keys(tmp_path):
    """What the validation accepts, age (pyrage, the module's encrypter) encrypts to; one
    character changed anywhere in an age key is refused by both."""
    pyrage = pytest.importorskip("pyrage")
    import subprocess
    for _ in range(20):
        key = str(pyrage.x25519.Identity.generate().to_public())
        assert handover_keys.problem(key) is None and handover_keys.KEY_RE.match(key)
        pyrage.x25519.Recipient.from_str(key)
        for at in range(4, len(key)):
            other = key[:at] + ("q" if key[at] != "q" else "p") + key[at + 1:]
            assert handover_keys.problem(other) is not None, other
            with pytest.raises(pyrage.RecipientError):
                pyrage.x25519.Recipient.from_str(other)
    for kind, ok in (("ed25519", True), ("ecdsa", False)):
        path = tmp_path / kind
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True, timeout=60)
        line = (tmp_path / (kind + ".pub")).read_text().strip()
        assert (handover_keys.problem(line) is None) is ok, line
        assert bool(handover_keys.KEY_RE.match(line)) is ok
        if ok:
            pyrage.ssh.Recipient.from_str(line)
    assert handover_keys.parse(handover_keys.age_public_key(bytes(range(32))))[0] == "age"
    assert "PRIVATE" in handover_keys.problem(str(pyrage.x25519.Identity.generate()))


def test_a_broken_handover_key_message(registry):
    result = run(registry, Edit("people.yml", HEAD_KEYS, BROKEN_HEAD_KEYS))
    finding = only(result, "E6-HANDOVER-KEY-FORMAT")
    assert "checksum" in finding.message and "197310151997012001" in finding.message
    assert "age-keygen -y" in finding.fix and "Pasal 35" in finding.article


def test_a_recipient_without_a_key_is_named_with_the_accounts(registry):
    result = run(registry, Edit("people.yml", ADMIN_PERSON + ADMIN_KEYS, ADMIN_PERSON))
    finding = only(result, "E6-HANDOVER-KEY")
    assert "Ayu Lestari" in finding.message and "dinkes@bekasikota.go.id" in finding.message
    assert "handover_keys" in finding.fix and "never a private key" in finding.fix
    assert [f.rule for f in result.errors] == ["E6-HANDOVER-KEY"]


def test_the_address_form_is_the_schema_s():
    with open(os.path.join(SCHEMAS, "mail.schema.json"), encoding="utf-8") as fh:
        schema = json.load(fh)
    pattern = schema["definitions"]["account"]["properties"]["address"]["pattern"]
    assert mail_rules.ADDRESS.pattern == pattern[:-1] + r"\Z"


def test_a_parent_cycle_is_reported_once(registry):
    result = run(registry, Edit("agencies.yml", "    kind: kecamatan\n    mail_name: kecbekasibarat",
                                "    kind: kecamatan\n    parent: KEL-BINTARA\n"
                                "    mail_name: kecbekasibarat"))
    finding = only(result, "REG-AGENCY-TREE")
    assert "KEC-BEKASIBARAT -> KEL-BINTARA -> KEC-BEKASIBARAT" in finding.message


def test_unknown_references_say_what_and_where(registry):
    result = run(registry, Edit("mail.yml", 'holder: "197310151997012001"',
                                'holder: "197310151997019999"'))
    finding = [f for f in result.errors if f.rule == "E2-REFS"][0]
    assert "'197310151997019999'" in finding.message and "people.yml" in finding.message
    assert "kepala.dinkes@bekasikota.go.id" in finding.message
    assert "people.yml" in finding.fix


# --- one finding per problem

TYPICAL_MISTAKES = [
    pytest.param([Edit("people.yml", 'id: "196905221997011002"', 'id: "19690522199701100"')],
                 id="nip-of-17-digits"),
    pytest.param([Edit("people.yml", 'id: "196905221997011002"', "id: 196905221997011002")],
                 id="nip-unquoted"),
    pytest.param([Edit("mail.yml", "owner: DINKES", "owner: dinkes")], id="owner-lowercase"),
    pytest.param([Edit("mail.yml", "owner: DINKES", "owner: [DINKES]")], id="owner-a-list"),
    pytest.param([Edit("mail.yml", '    position: kepala-pd\n    holder: "197310151997012001"',
                       '    holder: "197310151997012001"')], id="position-missing"),
    pytest.param([Edit("mail.yml", "    owner: SETDA\n", "    owner: SETDA\n    position: sekda\n")],
                 id="position-on-agency-account"),
    pytest.param([Edit("mail.yml", SUPARDI_VALIDATION, "")], id="no-validation"),
    pytest.param([Edit("mail.yml", "validated_by: \"198212122008101001\"", "validated_by: null")],
                 id="validated-by-null"),
    pytest.param([Edit("mail.yml", "address: setda@bekasikota", "address: setda@@bekasikota")],
                 id="address-two-ats"),
    pytest.param([Edit("mail.yml", "address: setda@bekasikota", "address: se..tda@bekasikota")],
                 id="address-two-dots"),
    pytest.param([Edit("agencies.yml", "    parent: KEC-BEKASIBARAT\n    mail_name: kelbintara\n",
                       "    mail_name: kelbintara\n")], id="kelurahan-without-parent"),
    pytest.param([Edit("agencies.yml", '    mail_admin: "199207112021102003"\n',
                       "    mail_admin:\n")], id="mail-admin-null"),
    pytest.param([Edit("city.yml", "password_min_length: 8", "password_min_length: 6")],
                 id="password-length-6"),
    pytest.param([Edit("city.yml", "personnel_agency: BKPSDM", "personnel_agency: bkpsdm")],
                 id="role-lowercase"),
    pytest.param([Edit("agencies.yml", "  - code: DBMSDA\n", "  - code: DINKES\n")],
                 id="agency-code-twice"),
]


@pytest.mark.parametrize("edits", TYPICAL_MISTAKES)
def test_no_problem_is_reported_under_two_rule_ids(registry, edits):
    result = run(registry, *edits)
    assert not result.ok
    rules_at = {}
    for finding in result.errors:
        rules_at.setdefault((finding.file, finding.line), set()).add(finding.rule)
    twice = {where: rules for where, rules in rules_at.items() if len(rules) > 1}
    assert not twice, "\n".join(f.format() for f in result.errors)


# --- no cascade from one malformed entry

OWN_RULES = {"REG-UNIQUE", "REG-AGENCY-TREE", "REG-REF", "P1-NIP"} | {
    r.id for r in RULES if r.func.__module__ == mail_rules.__name__}


@pytest.mark.parametrize("edits", [
    pytest.param([Edit("people.yml", 'id: "196905221997011002"', 'id: "19690522199701100"')],
                 id="an-id-of-17-digits"),
    pytest.param([Edit("people.yml", 'id: "196905221997011002"', "id: 196905221997011002")],
                 id="an-id-unquoted"),
    pytest.param([Edit("people.yml", '  - id: "196905221997011002"', '  - ide: "196905221997011002"')],
                 id="an-id-misspelt"),
    pytest.param([Edit("people.yml", "people:\n", "people:\n  - just a name\n")],
                 id="a-person-that-is-text"),
    pytest.param([Edit("people.yml", "people:\n", "people: [a, b]\nxpeople:\n")],
                 id="people-a-list-of-text"),
    pytest.param([Edit("agencies.yml", "  - code: DINKES\n", "  - code: [DINKES]\n")],
                 id="an-agency-code-a-list"),
    pytest.param([Edit("agencies.yml", "  - code: DINKES\n", "  - kode: DINKES\n")],
                 id="an-agency-code-misspelt"),
    pytest.param([Edit("mail.yml", DINKES_HEAD_ACCOUNT, DINKES_HEAD_ACCOUNT.replace(
        "kind: position", "kind: posisi"))], id="a-head-account-kind-misspelt"),
    pytest.param([Edit("mail.yml", DINKES_HEAD_ACCOUNT, DINKES_HEAD_ACCOUNT.replace(
        "    owner: DINKES\n", ""))], id="a-head-account-without-owner"),
])
def test_a_malformed_entry_is_reported_once_not_as_undefined_references(registry, edits):
    result = run(registry, *edits)
    assert not result.ok
    ours = [f for f in result.errors if f.rule in OWN_RULES]
    assert not ours, "\n".join(f.format() for f in ours)
    assert not [f for f in result.errors if f.rule.startswith(("E", "P1", "REG-REF"))
                and "could not be checked" in f.message]


def test_an_undefined_reference_is_still_reported_beside_well_formed_entries(registry):
    result = run(registry, Edit("people.yml", "    agency: DINKES\n", "    agency: DINKESS\n"))
    finding = only(result, "REG-REF")
    assert "'DINKESS'" in finding.message and "agencies.yml" in finding.message


def test_rules_never_fail_on_wrong_types(registry):
    result = run(registry,
                 Edit("mail.yml", "owner: DINKES", "owner: {code: DINKES}"),
                 Edit("mail.yml", 'holder: "197310151997012001"', "holder: [a]"),
                 Edit("agencies.yml", '    mail_admin: "199207112021102003"\n',
                      "    mail_admin: [x]\n"),
                 Edit("agencies.yml", "    kind: kelurahan\n", "    kind: [kelurahan]\n"),
                 Edit("city.yml", "personnel_agency: BKPSDM", "personnel_agency: [BKPSDM]"),
                 Edit("city.yml", "password_classes: [lower, upper, digit]",
                      "password_classes: {lower: 1}"),
                 Edit("city.yml", "password_min_length: 8", "password_min_length: [8]"),
                 Edit("mail.yml", "ticket: TIK-2026-0009", "ticket: [1]"),
                 Edit("mail.yml", "    password_resets:\n", "    password_resets: 7\n    x:\n"))
    assert not [f for f in result.findings if f.rule in OWN_RULES
                and "could not be checked" in f.message], [f.format() for f in result.findings]


def test_messages_never_embed_an_unbounded_value(registry):
    long = "x" * 5000
    result = run(registry,
                 Edit("people.yml", HEAD_PERSON, HEAD_PERSON.replace(DINKES_HEAD, long)),
                 Edit("mail.yml", DINKES_HEAD_ACCOUNT + DINKES_HEAD_ACCOUNT_REST, ""),
                 Edit("people.yml", ADMIN_PERSON, retired(ADMIN_PERSON).replace(
                     "Ayu Lestari, S.K.M.", long)))
    ours = [f for f in result.errors if f.rule in OWN_RULES]
    assert {f.rule for f in ours} >= {"E2-HEAD", "E4-ADMIN"}, [f.format() for f in ours]
    for finding in ours:
        assert len(finding.message) < 600 and len(finding.fix) < 600, finding.format()[:300]
