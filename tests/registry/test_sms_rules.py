"""The SMS Center's values checked for their own kind and the rules the requirements imply
(issue 12): approval keys parsed (S2), the times of a blast in order (S2), a mayor or Sekda
basis held by the mayor or the Sekda (S1), the non-receipt keyword kept (S6), and every
problem of sms.yml, sms-users.yml and the blasts reported once, saying what was found,
what is expected and the fix.
"""
import base64
import datetime
import os
import subprocess

import pytest

import test_broken_registries
from approval_fixtures import EXAMPLE_KEY, sign_blast
from mutate import Edit, line_of
from paths import SCHEMAS
from test_broken_registries import BLAST, ReEdit, case, shifted

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.sms.signature import KeyFormatError, parse_public_key
from ansible.module_utils.city.registry.validate import validate

EXAMPLE_KEY_LINE = '    key: "%s"' % EXAMPLE_KEY
EXAMPLE_BLOB = EXAMPLE_KEY.split()[1]
MAYOR = "  - person: walikota-2025\n    basis: mayor"
SEKDA = '  - person: "197110171998031002"\n    basis: sekda'
NON_RECEIPT = ("  - keyword: TIDAKTERIMA\n    kind: non-receipt\n    description: Laporan tidak "
               "menerima SMS koordinasi kedinasan (Pasal 10 huruf e)\n")


def _wire(*fields):
    """SSH wire-format strings (RFC 4251 5) as base64: key data built by hand."""
    data = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    return base64.b64encode(data).decode("ascii")


SHORT_ED25519 = "ssh-ed25519 %s short" % _wire(b"ssh-ed25519", b"\x01" * 24)
TRAILING_ED25519 = "ssh-ed25519 %s extra" % _wire(b"ssh-ed25519", b"\x01" * 32, b"more")


def _key(line):
    return Edit("sms.yml", EXAMPLE_KEY_LINE, '    key: "%s"' % line)


class ReSign(Edit):
    """Sign the blast to send again with the test Ketua's key, after the edits before it: the
    blast is changed on purpose, so its signature still verifies and only the change counts."""

    needs_approval = True

    def __init__(self):
        super().__init__(BLAST, None, None)

    def apply(self, registry, approval=None):
        sign_blast(os.path.join(str(registry), BLAST), approval.ketua.private)


def _approved_in(days):
    """``new`` of a ReEdit of the approval date: ``days`` after the city's today."""
    def new(_match, _text):
        today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
        return "    date: %s" % (today + datetime.timedelta(days=days)).isoformat()
    return new


CASES = [
    # --- S2: approval keys are parsed, not pattern-matched
    case("s2-key-not-a-key", _key("ssh-ed25519 AAAAnotakey"),
         "S2-KEY-FORMAT", "sms.yml", "AAAAnotakey"),
    case("s2-key-truncated", _key("ssh-ed25519 %s ketua-smscenter" % EXAMPLE_BLOB[:-8]),
         "S2-KEY-FORMAT", "sms.yml", EXAMPLE_BLOB[:-8]),
    case("s2-key-type-is-another", _key("ssh-rsa %s ketua-smscenter" % EXAMPLE_BLOB),
         "S2-KEY-FORMAT", "sms.yml", "ssh-rsa "),
    case("s2-key-too-short-for-ed25519", _key(SHORT_ED25519), "S2-KEY-FORMAT", "sms.yml", " short"),
    case("s2-key-bytes-after-the-key", _key(TRAILING_ED25519), "S2-KEY-FORMAT", "sms.yml", " extra"),
    case("s2-key-not-base64", _key("ssh-ed25519 AAAA!!"), "S2-KEY-FORMAT", "sms.yml", "AAAA!!"),
    case("s2-key-unknown-type", _key("ssh-dss %s" % EXAMPLE_BLOB), "S2-KEY-FORMAT", "sms.yml",
         "ssh-dss "),
    case("s2-key-listed-twice", Edit("sms.yml", "originators:\n", '  - person: "198108022010041003"\n'
                                     "%s\noriginators:\n" % EXAMPLE_KEY_LINE),
         "S2-KEYS", "sms.yml", EXAMPLE_KEY_LINE.strip(), 2),
    # --- S2: the times of a blast are in order (re-signed: only the times are wrong)
    case("s2-send-after-a-day-before-the-approval",
         [ReEdit(BLAST, r"^  send_after: .*$", shifted("  ", "send_after", -1)), ReSign()],
         "S2-EXPIRY", BLAST, "  send_after:"),
    case("s2-approval-dated-after-today",
         [ReEdit(BLAST, r"^    date: .*$", _approved_in(2)), ReSign()],
         "S2-EXPIRY", BLAST, "    date:"),
    case("s2-expiry-before-the-approval-signed",
         [ReEdit(BLAST, r"^    expires: .*$", shifted("    ", "expires", -1)), ReSign()],
         "S2-EXPIRY", BLAST, "    expires:"),
    case("s2-send-after-the-expiry-signed",
         [ReEdit(BLAST, r"^  send_after: .*$", shifted("  ", "send_after", 5)), ReSign()],
         "S2-EXPIRY", BLAST, "  send_after:"),
    # --- S1: a basis that names an office is held by that office's holder
    case("s1-mayor-basis-not-the-mayor",
         Edit("sms.yml", MAYOR, MAYOR.replace("walikota-2025", "wakil-walikota-2025")),
         "S1-ORIGINATORS", "sms.yml", "basis: mayor"),
    case("s1-sekda-basis-not-the-sekda",
         Edit("sms.yml", SEKDA, SEKDA.replace("197110171998031002", "197204151998122003")),
         "S1-ORIGINATORS", "sms.yml", "basis: sekda"),
    case("s1-mayor-not-known", Edit("agencies.yml", "    head: walikota-2025\n", ""),
         "S1-ORIGINATORS", "sms.yml", "basis: mayor"),
    case("s1-originator-twice", Edit("sms.yml", "groups:\n  - name: pimpinan",
                                     '  - person: "197110171998031002"\n    basis: sekda\n'
                                     "groups:\n  - name: pimpinan"),
         "S1-ORIGINATORS", "sms.yml", 'person: "197110171998031002"', 2),
    # --- S6: the keyword by which a user reports a blast that did not arrive
    case("s6-non-receipt-keyword-removed", Edit("sms.yml", NON_RECEIPT, ""),
         "S6-NON-RECEIPT", "sms.yml", "keywords:"),
    case("s6-non-receipt-kind-changed", Edit("sms.yml", "kind: non-receipt", "kind: information"),
         "S6-NON-RECEIPT", "sms.yml", "keywords:"),
    # --- reported once, at the line, with a message that says what is wrong
    case("s4-keyword-prefix-of-a-later-one", [Edit("sms.yml", "keyword: SARAN", "keyword: TA"),
                                              Edit("sms.yml", "keyword: BALAS", "keyword: TAX")],
         "S4-KEYWORD", "sms.yml", "keyword: TAX"),
    case("s4-keyword-twice", Edit("sms.yml", "keyword: INFO", "keyword: SARAN"),
         "S4-KEYWORD", "sms.yml", "keyword: SARAN", 2),
    case("s5-landline", Edit("sms-users.yml", '"+62 818-2934-0251"', '"(021) 8896-0000"'),
         "S5-PHONE", "sms-users.yml", "(021) 8896-0000"),
    case("s9-administrator-twice", Edit("sms.yml", '    - "199706012024062004"', '    - "199408162021031004"'),
         "S9-SECRETARIAT", "sms.yml", '- "199408162021031004"', 2),
    case("gsm-text-longer-than-the-segments",
         [Edit(BLAST, "Terima kasih.", "Terima kasih. " + "Mohon hadir tepat waktu. " * 40), ReSign()],
         "GSM-SEGMENTS", BLAST, "text: >-"),
]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_sms_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule, file,
                                                needle, nth):
    test_broken_registries.test_broken_registry_is_rejected_where_and_why(
        signed_registry, approval, edits, rule, file, needle, nth)


def _errors(registry, approval, edits=()):
    for edit in edits:
        if getattr(edit, "needs_approval", False):
            edit.apply(registry, approval)
        else:
            edit.apply(registry)
    result = validate(str(registry), SCHEMAS, display_root=str(registry),
                      approval_root=approval.root)
    return result.errors


def _only(errors):
    assert len(errors) == 1, "\n".join(f.format() for f in errors)
    return errors[0]


def _case(name):
    [found] = [p for p in CASES if p.id == name]
    return found.values[0]


# -- S2: a malformed key gets the parse error only, saying why --------------------------------


@pytest.mark.parametrize("name, why", [
    ("s2-key-not-a-key", "11 base64 characters, not a multiple of 4"),
    ("s2-key-truncated", "the key data is truncated"),
    ("s2-key-type-is-another", "the key data is of type 'ssh-ed25519', the line says ssh-rsa"),
    ("s2-key-too-short-for-ed25519", "an ed25519 public key has 32 bytes; this one has 24"),
    ("s2-key-bytes-after-the-key", "bytes after the end of a ssh-ed25519 key"),
    ("s2-key-not-base64", "'!' at position 5"),
    ("s2-key-unknown-type", "key type 'ssh-dss' is not one ssh-keygen signs with"),
])
def test_a_malformed_key_is_reported_once_with_why(signed_registry, approval, name, why):
    finding = _only(_errors(signed_registry, approval, _case(name)))
    assert finding.rule == "S2-KEY-FORMAT", finding.format()
    assert "is not a valid OpenSSH public key" in finding.message and why in finding.message
    assert "198108022010041003 (Agus Wahyudi" in finding.message, "whose key it is"
    assert "ssh-keygen -y -f KEYFILE" in finding.fix and "TYPE BASE64 [COMMENT]" in finding.fix


def test_a_well_formed_key_not_pinned_is_s2_keys_only(signed_registry, approval, tmp_path):
    other = approval.other.public
    finding = _only(_errors(signed_registry, approval, [_key(other)]))
    assert finding.rule == "S2-KEYS" and "not pinned in the inventory" in finding.message
    assert finding.line == line_of(signed_registry, "sms.yml", other)


def test_a_huge_key_line_is_refused_without_being_shown(signed_registry, approval):
    huge = "ssh-ed25519 " + "A" * 200000
    finding = _only(_errors(signed_registry, approval, [_key(huge)]))
    assert finding.rule == "S2-KEY-FORMAT" and "200012 characters" in finding.message
    assert len(finding.message) < 400 and len(finding.fix) < 400


@pytest.fixture(scope="module")
def generated_keys(tmp_path_factory):
    """Public key lines ssh-keygen writes, one per type and size."""
    directory = tmp_path_factory.mktemp("sms-rule-keys")
    lines = {}
    for kind, bits in (("ed25519", None), ("rsa", 2048), ("rsa", 1024), ("ecdsa", 256),
                       ("ecdsa", 384), ("ecdsa", 521)):
        path = str(directory / ("%s-%s" % (kind, bits)))
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test"]
                       + (["-b", str(bits)] if bits else []) + ["-f", path],
                       check=True, capture_output=True, timeout=120)
        with open(path + ".pub", encoding="ascii") as fh:
            lines[(kind, bits)] = fh.read().strip()
    return lines


def test_keys_ssh_keygen_writes_parse(generated_keys):
    for (kind, bits), line in generated_keys.items():
        if (kind, bits) == ("rsa", 1024):
            continue
        key = parse_public_key(line)
        assert key.type == line.split()[0] and key.comment == "test"
        assert key.bits == (bits or 256)
    assert parse_public_key(EXAMPLE_KEY).comment == "ketua-smscenter"


def test_weak_or_damaged_keys_do_not_parse(generated_keys):
    with pytest.raises(KeyFormatError, match="the RSA modulus has 1024 bits; an approval key has "
                                             "2048 to 16384"):
        parse_public_key(generated_keys[("rsa", 1024)])
    kind, blob = generated_keys[("ecdsa", 256)].split()[:2]
    point = base64.b64decode(blob)
    off_curve = base64.b64encode(point[:-1] + bytes([point[-1] ^ 1])).decode("ascii")
    with pytest.raises(KeyFormatError, match="not on the curve nistp256"):
        parse_public_key("%s %s" % (kind, off_curve))
    kind, blob = generated_keys[("ecdsa", 384)].split()[:2]
    with pytest.raises(KeyFormatError, match="the key data is of type 'ecdsa-sha2-nistp384', the "
                                             "line says ecdsa-sha2-nistp256"):
        parse_public_key("ecdsa-sha2-nistp256 " + blob)
    for bad, why in (("", "the key is empty"), ("ssh-ed25519", "has a type and no key data"),
                     ("ssh-ed25519 %s\nssh-ed25519 %s" % (EXAMPLE_BLOB, EXAMPLE_BLOB),
                      "control character '\\n'")):
        assert why in blast_signature.public_key_problem(bad)
    # Any 32 bytes are an ed25519 key by their form: whose it is, only the trust can say.
    assert blast_signature.public_key_problem(EXAMPLE_KEY.replace("oMm", "oMn")) is None


# -- S2: the times of a blast -------------------------------------------------------------------


def test_send_after_before_the_approval_says_found_expected_fix(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval,
                            _case("s2-send-after-a-day-before-the-approval")))
    assert finding.rule == "S2-EXPIRY"
    assert "is before the approval date" in finding.message and "Lampiran II" in finding.message
    assert "set send_after to " in finding.fix and "T00:00:00+07:00 or later" in finding.fix
    assert "bin/blast-sign %s KEYFILE" % BLAST in finding.fix


def test_an_approval_dated_after_today_is_one_error(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, _case("s2-approval-dated-after-today")))
    assert "after today" in finding.message and "today or earlier" in finding.fix


def test_expiry_before_the_approval_is_one_error_not_also_expired(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval,
                            _case("s2-expiry-before-the-approval-signed")))
    assert "is not after the approval date" in finding.message


def test_send_after_on_the_approval_day_is_accepted(signed_registry, approval):
    edits = [ReEdit(BLAST, r"^  send_after: .*$", shifted("  ", "send_after", 0)), ReSign()]
    assert _errors(signed_registry, approval, edits) == []


# -- S1: the basis of an originator --------------------------------------------------------------


def test_a_mayor_basis_names_who_was_found_and_who_the_mayor_is(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, _case("s1-mayor-basis-not-the-mayor")))
    assert finding.rule == "S1-ORIGINATORS"
    assert finding.message.startswith("wakil-walikota-2025 (H. Rizal Fahmi")
    assert "is not the mayor (Wali Kota): agencies.yml names walikota-2025" in finding.message
    assert "head of WALIKOTA" in finding.message
    assert "basis: authorised" in finding.fix and "Pasal 8" in finding.fix


def test_a_vacant_mayor_post_is_said_so(signed_registry, approval):
    errors = _errors(signed_registry, approval, _case("s1-mayor-not-known"))
    [finding] = [f for f in errors if f.rule == "S1-ORIGINATORS"]
    assert "basis mayor, but agencies.yml names no mayor (Wali Kota): no agency of kind pimpinan " \
        "has a head" in finding.message


def test_the_mayor_may_also_originate_as_authorised(signed_registry, approval):
    edits = [Edit("sms.yml", MAYOR, "  - person: walikota-2025\n    basis: authorised\n"
                  "    authorisation: Surat Wali Kota Nomor 1")]
    assert _errors(signed_registry, approval, edits) == []


# -- S6: the non-receipt keyword ----------------------------------------------------------------


def test_removing_the_non_receipt_keyword_says_why_it_is_needed(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, _case("s6-non-receipt-keyword-removed")))
    assert "no keyword has kind non-receipt" in finding.message
    assert "Pasal 10 huruf e" in finding.message and "kind: non-receipt" in finding.fix


def test_renaming_the_non_receipt_keyword_is_accepted(signed_registry, approval):
    edits = [Edit("sms.yml", "keyword: TIDAKTERIMA", "keyword: TAKTERIMA")]
    assert _errors(signed_registry, approval, edits) == []


def test_a_policy_may_pin_the_non_receipt_keyword(signed_registry, approval):
    """city.yml policy.sms.non_receipt_keyword, when the city sets it, names the keyword users
    were told; renaming it is then an error (only S6 is looked at: the city schema may not
    know the key yet)."""
    pin = Edit("city.yml", "    max_segments: 3\n",
               "    max_segments: 3\n    non_receipt_keyword: TIDAKTERIMA\n")
    edits = [pin, Edit("sms.yml", "keyword: TIDAKTERIMA", "keyword: TAKTERIMA")]
    [finding] = [f for f in _errors(signed_registry, approval, edits) if f.rule == "S6-NON-RECEIPT"]
    assert "no keyword 'TIDAKTERIMA'" in finding.message and "policy.sms.non_receipt_keyword" in (
        finding.message)
    assert finding.line == line_of(signed_registry, "sms.yml", "keywords:")


# -- one rule id per problem ---------------------------------------------------------------------


@pytest.mark.parametrize("edit, rule", [
    (Edit("sms.yml", "sender_id: PEMKOBKS", "sender_id: PEMKOTBEKASI"), "S4-SENDER-ID"),
    (Edit("sms-users.yml", '"+62 818-2934-0251"', '"0818-29"'), "S5-PHONE"),
    (Edit("sms.yml", '  - person: "198108022010041003"\n    key:', '  - person: "198108022010041099"\n    key:'),
     "S2-KEYS"),
    (Edit("sms.yml", '    - "199706012024062004"', '    - "199408162021031004"'), "S9-SECRETARIAT"),
], ids=["sender-id-too-long", "phone-too-short", "key-of-an-unknown-person", "administrator-twice"])
def test_each_problem_is_reported_under_one_rule(signed_registry, approval, edit, rule):
    finding = _only(_errors(signed_registry, approval, [edit]))
    assert finding.rule == rule and finding.fix


def test_messages_say_what_was_found_and_what_is_expected(signed_registry, approval):
    sender = _only(_errors(signed_registry, approval, [
        Edit("sms.yml", "sender_id: PEMKOBKS", "sender_id: PEMKOTBEKASI")]))
    assert "'PEMKOTBEKASI' has 12 characters; a phone shows at most 8" in sender.message
    assert "'PEMKOTBE'" in sender.fix


def test_keyword_prefixes_are_found_when_not_next_to_each_other(signed_registry, approval):
    errors = _errors(signed_registry, approval, _case("s4-keyword-prefix-of-a-later-one"))
    assert sorted(f.line for f in errors) == sorted(
        line_of(signed_registry, "sms.yml", needle) for needle in ("keyword: TANYA", "keyword: TAX"))
    assert all("starts with keyword 'TA'" in f.message for f in errors)


def test_a_landline_is_not_a_mobile_number(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, _case("s5-landline")))
    assert "phone +622188960000 of 'rizal.fahmi'" in finding.message and "not a mobile number" in finding.message


def test_the_same_phone_names_the_first_line(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, [
        Edit("sms-users.yml", '"+62 818-2934-0251"', '"62815 3774 1464"')]))
    assert finding.rule == "S5-PHONE"
    assert finding.line == line_of(signed_registry, "sms-users.yml", '"0815-3774-1464"')
    assert "is also the phone of 'rizal.fahmi' (line %d)" % line_of(
        signed_registry, "sms-users.yml", '"62815 3774 1464"') in finding.message


def test_a_long_blast_text_is_measured_without_counting(signed_registry, approval):
    finding = _only(_errors(signed_registry, approval, _case("gsm-text-longer-than-the-segments")))
    assert "3 SMS segments (city.yml policy.sms.max_segments) hold at most 459" in finding.message
