"""The secret scan (E6-SECRET): secrets by shape and by name, in keys, values and
comments, English and Indonesian; what must not be taken for one; the false-positive
marker; the messages (never the secret); and that it stays fast on big and hostile text.
"""
import os

import pytest

from ansible.module_utils.city.registry import secrets_scan
from ansible.module_utils.city.registry.secrets_scan import MARKER, MAX_CANDIDATES, scan
from ansible.module_utils.city.registry.validate import validate
from mutate import Edit, line_of
from paths import EXAMPLE, SCHEMAS
import test_broken_registries
from test_broken_registries import case

SHA256_HEX = "3f2a9c0e5b7d1a4f6e8c2b0d9a7f5e3c1b9d7f5a3e1c9b7d5f3a1e9c7b5d3f1a"
BCRYPT = "$2b$12$" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZa"
ARGON = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
VAULT = ("    pin: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"
         "          61363830393236356565303637\n")
PEM = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
       "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
       "-----END OPENSSH PRIVATE KEY-----\n")


def secret(name, text, span, hidden=None):
    """A text with one secret: the finding's column falls inside ``span`` (the first
    occurrence), at its line, and neither message nor fix shows ``hidden`` (default: the
    span itself)."""
    return pytest.param(text, span, hidden if hidden is not None else span, id=name)


POSITIVE = [
    # --- the examples: comments and values
    secret("password-in-comment", "# password: Dinkes2026\n", "Dinkes2026"),
    secret("pin-in-comment", "# PIN: 4817\n", "4817"),
    secret("token-in-comment", "# token: 8f3c9a0b1c2d3e4f\n", "8f3c9a0b1c2d3e4f"),
    secret("password-after-a-value", "    owner: SETDA  # password: Dinkes2026\n", "Dinkes2026"),
    secret("password-in-display-name", '    display_name: "Budi (password: Dinkes2026)"\n',
           "Dinkes2026"),
    secret("sandi-in-value", '    display_name: "Dinas Kesehatan, sandi: Rahasia123"\n',
           "Rahasia123"),
    secret("kata-sandi-in-prose", "    description: kata sandi Bekasi2026 untuk admin\n",
           "Bekasi2026"),
    secret("kata-sandi-baru", "    description: 'sandi baru Bekasi2026'\n", "Bekasi2026"),
    secret("pwd-assignment", "    note: login admin pwd=hunter2\n", "hunter2"),
    secret("pin-without-colon", "    note: PIN 4817\n", "4817"),
    secret("pinnya", "    note: PINnya: 4817\n", "4817"),
    secret("lowercase-word-password-commented-out", "    # password: rahasia\n", "rahasia"),
    secret("token-quoted-in-value", '    description: "token 8f3c9a0b1c2d3e4f"\n',
           "8f3c9a0b1c2d3e4f"),
    secret("tsig-secret-in-comment",
           '# key "xfer" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0MTIzNA=="; };\n',
           "c2VjcmV0c2VjcmV0MTIzNA=="),
    # --- names as keys, English and Indonesian, with prefixes and suffixes
    secret("password-key", "    password: Rahasia123\n", "Rahasia123"),
    secret("capitalised-key", "    Password: Rahasia\n", "Rahasia"),
    secret("smtp-password", "    smtp_password: Rahasia\n", "Rahasia"),
    secret("camel-case", "    smtpPassword: Rahasia\n", "Rahasia"),
    secret("passwd", "    passwd: x1y2\n", "x1y2"),
    secret("passphrase", "    passphrase: kuda benteng baterai\n", "kuda benteng baterai"),
    secret("pass", "    pass: abcd\n", "abcd"),
    secret("pwd", "    pwd: abcd\n", "abcd"),
    secret("pin-sim", "    pin_sim: 1234\n", "1234"),
    secret("pin-quoted", '    pin: "4817"\n', "4817"),
    secret("pins", "    pins: 1234\n", "1234"),
    secret("puk", "    puk: 12345678\n", "12345678"),
    secret("secret", "    secret: abc\n", "abc"),
    secret("client-secret", "    client_secret: abc\n", "abc"),
    secret("token", "    token: abc\n", "abc"),
    secret("api-key", "    api_key: abc\n", "abc"),
    secret("api-key-camel", "    apiKey: abc\n", "abc"),
    secret("api-key-dash", "    API-Key: abc\n", "abc"),
    secret("credentials", "    credentials: admin/abc\n", "admin/abc"),
    secret("private-key-key", "    private_key: abc\n", "abc"),
    secret("tsig-key", "    tsig_key: c2VjcmV0\n", "c2VjcmV0"),
    secret("sandi", "    sandi: Rahasia\n", "Rahasia"),
    secret("sandi-email", "    sandi_email: abc\n", "abc"),
    secret("kata-sandi-key", "    kata_sandi: abc\n", "abc"),
    secret("katasandi", "    katasandi: abc\n", "abc"),
    secret("kata-sandi-quoted-key", '    "kata sandi": abc\n', "abc"),
    secret("kata-sandi-plain-key", "    kata sandi: abc\n", "abc"),
    secret("kunci-rahasia", "    kunci rahasia: abc\n", "abc"),
    secret("kunci-privat", "    kunci_privat: abc\n", "abc"),
    secret("rahasia", "    rahasia: abc\n", "abc"),
    secret("reset-token", "    password_reset_token: abcd\n", "abcd"),
    secret("vault-password", "    vault_password: abcd\n", "abcd"),
    secret("flow-mapping", "  - {user: admin, password: Rahasia}\n", "Rahasia"),
    secret("list-item", "  - password: Rahasia\n", "Rahasia"),
    secret("block-scalar", "    password: |\n      Rahasia123\n", "|", "Rahasia123"),
    # --- shapes, wherever they stand
    secret("age-private-key", "    # AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY\n",
           "AGE-SECRET-KEY-1Q", "QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQ"),
    secret("vault-value", VAULT, "!vault", "61363830393236356565303637"),
    secret("vault-header", "    x: |\n      $ANSIBLE_VAULT;1.1;AES256\n      6136\n",
           "$ANSIBLE_VAULT", "6136"),
    secret("pem-openssh", PEM, "-----BEGIN", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    secret("pem-commented", "# -----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN", ""),
    secret("pem-pkcs8", "    x: '-----BEGIN ENCRYPTED PRIVATE KEY-----'\n", "-----BEGIN", ""),
    secret("pem-pgp", "# -----BEGIN PGP PRIVATE KEY BLOCK-----\n", "-----BEGIN", ""),
    secret("pem-ec", "    x: |\n      -----BEGIN EC PRIVATE KEY-----\n", "-----BEGIN", ""),
    secret("yescrypt", "    note: $y$j9T$salt$hashhashhashhashhash\n", "$y$",
           "hashhashhashhashhash"),
    secret("pbkdf2", "    note: $pbkdf2-sha256$29000$c2FsdA$aGFzaA\n", "$pbkdf2", "aGFzaA"),
    secret("ssha", "    display_name: Sekretariat  # {SSHA}c2VjcmV0c2FsdA==\n",
           "{SSHA}c2VjcmV0c2FsdA=="),
    secret("dovecot-scheme", "    note: '{SHA512-CRYPT}$6$salt$hash'\n", "{SHA512-CRYPT}",
           "$6$salt$hash"),
    secret("argon2id", "    note: %s\n" % ARGON, ARGON),
    secret("sha512-crypt", "    note: $6$saltsalt$abcdefghijklmnopqrstuv\n",
           "$6$saltsalt$abcdefghijklmnopqrstuv"),
    secret("bcrypt", "    note: %s\n" % BCRYPT, BCRYPT),
    secret("jwt", "    note: Bearer %s\n" % JWT, JWT),
    secret("aws-access-key", "    note: AKIAIOSFODNN7EXAMPLE\n", "AKIAIOSFODNN7EXAMPLE"),
    secret("github-token", "    note: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
           "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    secret("github-pat", "    note: github_pat_11ABCDEFG0123456789_abcdefghijklmnop\n",
           "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"),
    secret("gitlab-token", "    note: glpat-abcdefghij0123456789\n", "glpat-abcdefghij0123456789"),
    secret("slack-token", "    note: xoxb-1234567890-abcdefghij\n", "xoxb-1234567890-abcdefghij"),
    secret("google-api-key", "    note: AIzaSyA1234567890abcdefghijklmnopqrstuv\n",
           "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    # --- on a later line, with CRLF line ends, after non-ASCII text
    secret("later-line", "a: b\nc: d\n# PIN: 4817\n", "4817"),
    secret("crlf", "a: b\r\n    password: Rahasia\r\n", "Rahasia"),
    secret("after-dotted-capital-i", "    name: \u0130stanbul\n    pin: 4817\n", "4817"),
]


@pytest.mark.parametrize("text, span, hidden", POSITIVE)
def test_a_secret_is_found_at_its_line_and_column(text, span, hidden):
    findings = scan(text, "x.yml")
    assert len(findings) == 1, [f.message for f in findings]
    finding = findings[0]
    index = text.index(span)
    line = text.count("\n", 0, index) + 1
    start = index - (text.rfind("\n", 0, index) + 1) + 1
    assert (finding.rule, finding.requirement, finding.file) == ("E6-SECRET", "E6", "x.yml")
    assert finding.line == line
    assert start <= finding.column < start + max(len(span), 1), (finding.column, start)
    for piece in {span, hidden} - {""}:
        if len(piece) >= 3 and piece not in ("|", "!vault", "-----BEGIN", "$ANSIBLE_VAULT",
                                              "{SHA512-CRYPT}", "$y$", "$pbkdf2"):
            assert piece not in finding.message and piece not in finding.fix
    assert "expected no secret" in finding.message
    assert "rotate" in finding.fix and "inventory/<env>/group_vars/all/vault.yml" in finding.fix


NEGATIVE = [
    pytest.param(text, id=name) for name, text in [
        ("nip", '  - id: "198108022010041003"\n'),
        ("phone", '    phone: "0811-1903-2401"\n'),
        ("ssh-public-key", '    key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGRUIJg1xz/apo7dFGc9n5Fqe'
                           'eDPr9HRHexFp+RfoMm ketua-smscenter"\n'),
        ("ssh-signature", "    signature: |\n      -----BEGIN SSH SIGNATURE-----\n      U1NIU0lH"
                          "AAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg4ZFQgmDXHP9qmjt0UZz2fkWp54\n"
                          "      -----END SSH SIGNATURE-----\n"),
        ("public-key-block", "-----BEGIN PUBLIC KEY-----\n"),
        ("sha256-previous", "    previous: %s\n" % SHA256_HEX),
        ("sha256-fingerprint-comment", "# key SHA256:%s\n" % SHA256_HEX),
        ("decree", "    decree: Keputusan Wali Kota Bekasi Nomor 500.05/Kep.215-Diskominfostandi/V/2023\n"),
        ("decree-sandi", "    request: Laporan Insiden Nomor 555/87-Diskominfostandi.Sandi/IX/2025\n"),
        ("password-policy-mapping", "    password_policy:\n      min_length: 12\n"),
        ("password-min-length", "    password_min_length: 8      # E6: Pasal 35 ayat (5)\n"),
        ("password-classes", "    password_classes: [lower, upper, digit]\n"),
        ("password-resets", "    password_resets:\n      - {ticket: TIK-2025-0117, date: 2025-07-14}\n"),
        ("password-resets-flow", "    password_resets: [{ticket: TIK-2025-0117, date: 2025-07-14}]\n"),
        ("vault-key-name", "    pin_vault_key: vault_sim_pin_modem1\n"),
        ("vault-key-name-longer", "    smtp_password_vault_key: vault_smtp\n"),
        ("secret-file", "    secret_file: /etc/bind/transfer.key\n"),
        ("tsig-key-name", "    tsig_key_name: transfer-key\n"),
        ("password-required", "    password_required: true\n"),
        ("pin-length", "    pin_length: 6\n"),
        ("pin-small-number", "    pin: 12\n"),
        ("empty", "    password:\n"),
        ("null", "    password: null\n"),
        ("empty-string", "    password: ''\n"),
        ("alias", "    secret: *other\n"),
        ("template", '    password: "{{ vault_x }}"\n'),
        ("pinjam", "    description: pinjam modem cadangan\n"),
        ("spinner", "    description: spinner\n"),
        ("pinang", "    description: Kelurahan Pinang Ranti 2025\n"),
        ("pimpinan", "    groups: [pimpinan]\n"),
        ("tokenisasi", "    description: tokenisasi data 2025\n"),
        ("pin-in-prose", "    description: ganti PIN secara berkala\n"),
        ("pin-in-comment-prose", "# ganti PIN secara berkala\n"),
        ("pin-few-tries", "    note: PIN 3 kali salah\n"),
        ("pin-stored-in-vault", "# PIN: disimpan di vault\n"),
        ("token-doc", "# Token: lihat dokumentasi di vault\n"),
        ("policy-in-prose", "    description: Kebijakan password: minimal 8 karakter\n"),
        ("name-sandi", "    name: Sandi Pratama\n"),
        ("address-sandi", "  - address: sandi.pratama@bekasikota.go.id\n"),
        ("login-sandi", "    login: sandi\n"),
        ("persandian", "    position: Kepala Bidang Persandian dan Keamanan Informasi\n"),
        ("sandi-negara-year", "    description: Badan Siber dan Sandi Negara 2025\n"),
        ("pukul", "    text: Rapat pukul 09.00 WIB\n"),
        ("diskopukm", "  - code: DISKOPUKM\n"),
        ("secretariat", "secretariat:\n  sms_secretariat_agency: SETDA\n"),
        ("passport", "    passport: A1234567\n"),
        ("bypass", "    bypass: abcd1234\n"),
        ("private-alone", "    note: private school 2025\n"),
        ("braces-template", '    staf-ahli: "staf.ahli.{slug}"\n'),
        ("dollar-amount", "    note: biaya $5 per bulan\n"),
        ("base64-with-pin", "      ZDI1NTE5AAAAQBCL0/ax8ttdEPnw0VPt2QF7+pin==\n"),
        ("marker-word-itself", "    x: y  # e6: not-a-secret\n"),
    ]
]


@pytest.mark.parametrize("text", NEGATIVE)
def test_not_a_secret(text):
    assert scan(text, "x.yml") == []


# --- the marker of a false positive


def test_the_marker_silences_a_name_finding_on_its_line_only():
    text = ("    description: Konfirmasi dengan kata sandi HADIR2026  %s\n"
            "    note: kata sandi HADIR2027\n" % MARKER)
    findings = scan(text, "x.yml")
    assert [(f.line, f.rule) for f in findings] == [(2, "E6-SECRET")]
    assert MARKER in findings[0].fix


@pytest.mark.parametrize("spelling", ["# E6: not-a-secret", "#e6:not-a-secret", "# e6: not-a-secret (kode acara)"])
def test_the_marker_spellings(spelling):
    assert scan("    note: PIN 4817  %s\n" % spelling, "x.yml") == []


@pytest.mark.parametrize("spelling", ["# not a secret", "# e6 not-a-secret", "e6: not-a-secret"])
def test_other_spellings_are_not_the_marker(spelling):
    assert len(scan("    note: PIN 4817  %s\n" % spelling, "x.yml")) == 1


@pytest.mark.parametrize("text", [
    "    note: '-----BEGIN OPENSSH PRIVATE KEY-----'  %s\n" % MARKER,
    "    pin: !vault |  %s\n          $ANSIBLE_VAULT;1.1;AES256\n" % MARKER,
    "    note: '{SSHA}c2VjcmV0c2FsdA=='  %s\n" % MARKER,
    "    note: %s  %s\n" % (BCRYPT, MARKER),
    "    note: AKIAIOSFODNN7EXAMPLE  %s\n" % MARKER,
], ids=["pem", "vault", "ssha", "bcrypt", "aws"])
def test_the_marker_cannot_silence_a_shape(text):
    findings = scan(text, "x.yml")
    assert len(findings) == 1
    assert "cannot be marked" in findings[0].fix


# --- messages


def test_messages_name_the_kind_and_the_place_never_the_secret():
    text = ("    smtp_password: Dinkes2026\n"
            "# PIN: 4817\n"
            '    display_name: "Budi (password: Dinkes2026)"\n'
            "    note: '{SSHA}c2VjcmV0c2FsdA=='\n")
    messages = [f.message for f in scan(text, "x.yml")]
    assert messages[0].startswith("a password under the key 'smtp_password'; expected")
    assert messages[1].startswith("a PIN after 'PIN:' in a comment; expected")
    assert messages[2].startswith("a password after 'password:' inside a value; expected")
    assert messages[3].startswith("a password hash ({SSHA}); expected")
    for message in messages:
        assert "Dinkes2026" not in message and "4817" not in message and "c2Vj" not in message


def test_one_finding_a_line():
    text = "    password: Rahasia123  # token: 8f3c9a0b1c2d, PIN: 4817\n"
    assert len(scan(text, "x.yml")) == 1


def test_a_vault_value_is_one_finding():
    assert [f.line for f in scan(VAULT, "x.yml")] == [1]


def test_a_long_key_name_is_shown_bounded():
    key = "a" * 60 + "_password"
    finding, = scan("    %s: Rahasia\n" % key, "x.yml")
    assert len(finding.message) < 200 and "Rahasia" not in finding.message


# --- speed and bounds


def _example_text():
    texts = []
    for folder, _dirs, files in os.walk(EXAMPLE):
        for name in sorted(files):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                texts.append(fh.read())
    return "".join(texts)


def test_the_example_registry_text_is_clean():
    assert scan(_example_text(), "all.yml") == []


def test_city_sized_text_is_clean():
    # Its speed is measured by bench/validate_bench.py (the scan is part of every row).
    text = _example_text() * 60  # about 7.5 MB, the size of the city-scale registry
    assert len(text) > 7_000_000
    assert scan(text, "big.yml") == []


@pytest.mark.parametrize("unit", ["pin ", "x pin_a ", "token:x ", "sandi 2025 ", "kata sandi baru ",
                                  "pimpinan ", "pin: 1\n"])
def test_hostile_text_without_secrets_is_bounded(unit):
    # 2 MB of near-misses: at most the one "scan stopped" finding, never one per place
    # (the scan's time stays linear: bench/validate_bench.py).
    text = unit * (2_000_000 // len(unit))
    findings = scan(text, "x.yml")
    assert len(findings) <= 1


def test_too_many_candidates_stop_the_scan_with_an_error():
    text = "    password: Rahasia123\n" * (MAX_CANDIDATES + 10)
    findings = scan(text, "x.yml")
    assert len(findings) == MAX_CANDIDATES + 1
    last = findings[-1]
    assert "scan stopped" in last.message and last.line == MAX_CANDIDATES + 1
    assert last.rule == "E6-SECRET"


# --- whole registries: each rejected at the secret's line, with rule, article and fix

MODEM = '        smsc: "+6281100000"\n'
SETDA = "    owner: SETDA\n"
DINKES_NAME = "    display_name: Dinas Kesehatan Kota Bekasi\n"
RETNO = '    name: "dr. Retno Wulandari, M.K.M."\n'
GROUP = "    description: Sekretaris Perangkat Daerah\n"
ARCHIVE = "blasts/archive/2026-11-001.yml"

CASES = [
    case("e6-password-in-a-mail-comment",
         Edit("mail.yml", SETDA, SETDA.rstrip("\n") + "  # password: Dinkes2026\n"),
         "E6-SECRET", "mail.yml", "# password: Dinkes2026"),
    case("e6-pin-in-an-sms-comment", Edit("sms.yml", MODEM, MODEM + "        # PIN: 4817\n"),
         "E6-SECRET", "sms.yml", "# PIN: 4817"),
    case("e6-token-in-a-domain-comment",
         Edit("domain.yml", "  name: bekasikota.go.id\n",
              "  name: bekasikota.go.id\n  # token: 8f3c9a0b1c2d3e4f5a6b\n"),
         "E6-SECRET", "domain.yml", "# token: 8f3c"),
    case("e6-password-in-a-display-name",
         Edit("mail.yml", DINKES_NAME,
              '    display_name: "Dinas Kesehatan Kota Bekasi (password: Dinkes2026)"\n'),
         "E6-SECRET", "mail.yml", "(password: Dinkes2026)"),
    case("e6-sandi-in-a-person-name",
         Edit("people.yml", RETNO, '    name: "dr. Retno Wulandari, M.K.M., sandi: Rahasia123"\n'),
         "E6-SECRET", "people.yml", "sandi: Rahasia123"),
    case("e6-kata-sandi-in-a-description",
         Edit("sms.yml", GROUP, "    description: Sekretaris PD, kata sandi Bekasi2026\n"),
         "E6-SECRET", "sms.yml", "kata sandi Bekasi2026"),
    case("e6-smtp-password-key", Edit("mail.yml", SETDA, SETDA + "    smtp_password: Rahasia\n"),
         "E6-SECRET", "mail.yml", "smtp_password: Rahasia"),
    case("e6-pin-sim-key", Edit("sms.yml", MODEM, MODEM + '        pin_sim: "4817"\n'),
         "E6-SECRET", "sms.yml", "pin_sim:"),
    case("e6-sandi-email-key", Edit("agencies.yml", "  - code: DINKES\n",
                                    "  - code: DINKES\n    sandi_email: Dinkes2026\n"),
         "E6-SECRET", "agencies.yml", "sandi_email:"),
    case("e6-bcrypt-hash", Edit("people.yml", RETNO, RETNO + "    # %s\n" % BCRYPT),
         "E6-SECRET", "people.yml", "$2b$12$"),
    case("e6-jwt-in-a-comment", Edit("sms-users.yml", "users:\n", "users:\n  # %s\n" % JWT),
         "E6-SECRET", "sms-users.yml", "eyJhbGci"),
    case("e6-aws-key", Edit("city.yml", "policy:\n", "# AKIAIOSFODNN7EXAMPLE\npolicy:\n"),
         "E6-SECRET", "city.yml", "AKIAIOSFODNN7EXAMPLE"),
    case("e6-tsig-secret", Edit("domain.yml", "  name: bekasikota.go.id\n",
                                '  name: bekasikota.go.id\n  # secret "c2VjcmV0c2VjcmV0MTIzNA==";\n'),
         "E6-SECRET", "domain.yml", 'secret "c2Vj'),
    case("e6-private-key-in-a-blast", Edit(ARCHIVE, "blast:\n", "# " + PEM.replace("\n", "\n# ")
                                           + "\nblast:\n"),
         "E6-SECRET", ARCHIVE, "BEGIN OPENSSH PRIVATE KEY"),
    case("e6-token-in-approval-trust", Edit("approval-trust.yml", "statements: []\n",
                                            "# github: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
                                            "statements: []\n"),
         "E6-SECRET", "approval-trust.yml", "ghp_"),
]


@pytest.mark.parametrize("edits, rule, file, needle, nth", CASES)
def test_secret_in_a_registry_is_rejected_where_and_why(signed_registry, approval, edits, rule,
                                                        file, needle, nth):
    test_broken_registries.test_broken_registry_is_rejected_where_and_why(
        signed_registry, approval, edits, rule, file, needle, nth)


def _validate(registry, approval):
    return validate(str(registry), SCHEMAS, display_root=str(registry), approval_root=approval.root)


def test_a_secret_under_an_unknown_key_is_one_finding(signed_registry, approval):
    Edit("mail.yml", SETDA, SETDA + "    smtp_password: Rahasia\n").apply(signed_registry)
    line = line_of(signed_registry, "mail.yml", "smtp_password")
    at_line = [f for f in _validate(signed_registry, approval).findings
               if f.file == "mail.yml" and f.line == line]
    assert [f.rule for f in at_line] == ["E6-SECRET"], [f.format() for f in at_line]
    assert at_line[0].column == len("    smtp_password: ") + 1


def test_a_marked_false_positive_passes_and_an_unmarked_one_does_not(signed_registry, approval):
    code_word = "    description: Konfirmasi hadir dengan kata sandi HADIR2026"
    Edit("sms.yml", GROUP, code_word + "\n").apply(signed_registry)
    result = _validate(signed_registry, approval)
    assert [f.rule for f in result.errors] == ["E6-SECRET"], [f.format() for f in result.errors]
    Edit("sms.yml", code_word, code_word + "  " + MARKER).apply(signed_registry)
    result = _validate(signed_registry, approval)
    assert result.ok, [f.format() for f in result.errors]


def test_prose_about_secrets_in_a_registry_passes(signed_registry, approval):
    for edit in (Edit("sms.yml", MODEM, MODEM + "        # ganti PIN secara berkala (disimpan di vault)\n"),
                 Edit("sms.yml", GROUP, "    description: Sekretaris Perangkat Daerah, pinjam modem\n"),
                 Edit("mail.yml", SETDA, SETDA.rstrip("\n") + "  # kata sandi awal dikirim lewat vault\n")):
        edit.apply(signed_registry)
    result = _validate(signed_registry, approval)
    assert result.ok, [f.format() for f in result.errors]


def test_the_patterns_start_with_a_literal():
    """Each expression must skip through the text as a string search does: one that
    starts with a class or an alternation would cost ten times as much."""
    import re._parser as parser  # Python 3.11+
    for expression in list(secrets_scan._WORD_RES) + [s[0] for s in secrets_scan._SHAPES]:
        first = parser.parse(expression.pattern, expression.flags)[0]
        assert first[0] is parser.LITERAL, expression.pattern
