"""Hand-over by person (P17 Pasal 35, E6): each new password opens for one person only.

Against the real slapd, the module's hand-over files are opened with the real ``age``
command, as each person would: the holder of a head's position account and of a personal
account, the agency's e-mail officer (mail_admin) for its agency account. Every key the
tests hold is tried on the files that are not its owner's, an operator's key included:
none opens them. The passwords that do come out bind to the directory. Modes are those of
the files on disk after a real run with umask 000.
"""
import base64
import os
import re
import stat
import subprocess

import yaml

import handover_files

DINKES_HEAD, DINKES_ADMIN = "197310151997012001", "199207112021102003"


def load(registry, name):
    with open(os.path.join(str(registry), name), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def expected_recipients(registry):
    """{address: person} as P17 Pasal 35 allows, from the registry itself."""
    agencies = {a["code"]: a for a in load(registry, "agencies.yml")["agencies"]}
    out = {}
    for acc in load(registry, "mail.yml")["accounts"]:
        if acc["status"] == "deleted":
            continue
        out[acc["address"]] = (acc["holder"] if acc["kind"] in ("position", "personal")
                               else agencies[acc["owner"]]["mail_admin"])
    return out


def by_recipient(result):
    return {handover_files.recipient(path): path for path in result["handover_files"]}


def stanzas(path):
    """The types of the recipient stanzas of an armored age file's header that a key can
    open (X25519, ssh-ed25519, ssh-rsa); rage's random "...-grease" stanzas open for nobody."""
    with open(path, encoding="ascii") as fh:
        text = fh.read()
    body = re.search(r"-----BEGIN AGE ENCRYPTED FILE-----\n(.*)\n-----END AGE ENCRYPTED FILE-----",
                     text, re.S).group(1)
    header = base64.b64decode("".join(body.split())).split(b"\n---", 1)[0]
    types = [line.split()[1].decode() for line in header.split(b"\n") if line.startswith(b"-> ")]
    assert all(t in ("X25519", "ssh-ed25519", "ssh-rsa") or t.endswith("-grease") for t in types), types
    return [t for t in types if not t.endswith("-grease")]


def dn_of(slapd, address):
    return "uid=%s,%s" % (address.split("@")[0], slapd.base)


def accounts_in(slapd):
    """The DNs under ou=accounts, read by the toolkit over the server's own socket."""
    done = subprocess.run(["ldapsearch", "-LLL", "-x", "-H", slapd.ldapi, "-D", slapd.toolkit_dn,
                           "-w", slapd.passwords[slapd.toolkit_dn], "-b", slapd.base, "-s", "one", "1.1"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode in (0, 32), done.stderr  # 32: no ou=accounts yet
    return [line for line in done.stdout.splitlines() if line.startswith("dn: ")]


def test_each_password_opens_for_its_one_person_only(slapd, registry, apply_mail, keyring):
    result = apply_mail(registry)
    assert not result.get("failed"), result.get("msg")
    expected = expected_recipients(registry)
    files = by_recipient(result)
    assert len(files) == len(set(expected.values())), "one file per person and run"
    if "operator" not in keyring.public:  # who runs the apply: holds a key, like anyone
        keyring.make("operator")
    seen = {}
    for person, path in files.items():
        assert path.endswith(".age") and len(stanzas(path)) == 1, "one recipient key: the person's"
        content = handover_files.read(path, keyring.identity(person))
        for item in content["credentials"]:
            assert expected[item["address"]] == person, (item["address"], person)
            assert item["address"] not in seen, "each password is in one file"
            seen[item["address"]] = item["password"]
        # Nobody else's key opens it: the operator's, every other person's.
        for other in ("operator", DINKES_ADMIN if person != DINKES_ADMIN else DINKES_HEAD):
            refused = handover_files.age_open(path, keyring.identity(other))
            assert refused.returncode != 0 and "no identity matched" in refused.stderr, other
            assert not refused.stdout
    assert sorted(seen) == sorted(expected)

    # A head's password (Pasal 35 ayat (3)) and the agency account's (ayat (2)): every
    # identity the tests hold is tried; exactly the one allowed opens each.
    for address, allowed in (("kepala.dinkes@bekasikota.go.id", DINKES_HEAD),
                             ("dinkes@bekasikota.go.id", DINKES_ADMIN)):
        path = files[allowed]
        opened = [name for name in keyring.files
                  if handover_files.age_open(path, keyring.identity(name)).returncode == 0]
        assert opened == [allowed], (address, opened)
        # The password in the file is the one the directory holds.
        assert slapd.whoami(dn_of(slapd, address), seen[address]) == 0, address
    assert slapd.whoami(dn_of(slapd, "kepala.dinkes@bekasikota.go.id"), seen["dinkes@bekasikota.go.id"]) != 0


def test_one_agency_admin_cannot_open_another_agency_s_hand_over(slapd, registry, apply_mail, keyring):
    # The DINKES officer holds an ssh-rsa key (the example has age and ssh-ed25519 keys).
    keyring.give(registry)
    rsa = keyring.public.get("rsa-officer") or keyring.make("rsa-officer", "ssh-rsa")
    text = (registry / "people.yml").read_text()
    assert text.count(keyring.public[DINKES_ADMIN]) == 1
    (registry / "people.yml").write_text(text.replace(keyring.public[DINKES_ADMIN], rsa))
    officer_key = keyring.identity("rsa-officer")
    result = apply_mail(registry)
    assert not result.get("failed"), result.get("msg")
    agencies = load(registry, "agencies.yml")["agencies"]
    setda_admin = next(a["mail_admin"] for a in agencies if a["code"] == "SETDA")
    assert setda_admin != DINKES_ADMIN
    files = by_recipient(result)
    assert stanzas(files[DINKES_ADMIN]) == ["ssh-rsa"]
    for reader, path in ((keyring.identity(setda_admin), files[DINKES_ADMIN]), (officer_key, files[setda_admin])):
        refused = handover_files.age_open(path, reader)
        assert refused.returncode != 0 and not refused.stdout
    dinkes = handover_files.read(files[DINKES_ADMIN], officer_key)["credentials"]
    assert "dinkes@bekasikota.go.id" in {c["address"] for c in dinkes}
    assert {c["agency"] for c in dinkes} == {a["code"] for a in agencies
                                             if a.get("mail_admin") == DINKES_ADMIN}
    # An SSH key opens its person's file too, as the docs say: age -d -i ~/.ssh/id_ed25519.
    people = load(registry, "people.yml")["people"]
    ssh_person = next(p["id"] for p in people if p["id"] in files
                      and p["handover_keys"][0].startswith("ssh-ed25519 "))
    assert handover_files.read(files[ssh_person], keyring.identity(ssh_person))["person"] == ssh_person


def test_a_reset_goes_to_the_holder_only(slapd, registry, apply_mail, keyring):
    """A head-changed reset of the head's account: the new password reaches the head alone."""
    first = apply_mail(registry)
    assert not first.get("failed"), first.get("msg")
    text = (registry / "mail.yml").read_text()
    anchor = "    display_name: Kepala Dinas Kesehatan Kota Bekasi\n    status: active\n"
    assert text.count(anchor) == 1
    (registry / "mail.yml").write_text(text.replace(anchor, anchor + (
        "    password_resets:\n      - {ticket: TIK-2026-0777, date: 2026-11-20, reason: forgotten}\n")))
    second = apply_mail(registry)
    assert second["plan"]["reset"] == 1 and list(by_recipient(second)) == [DINKES_HEAD]
    [path] = second["handover_files"]
    item = handover_files.read(path, keyring.identity(DINKES_HEAD))["credentials"][0]
    assert item["reason"] == "reset" and item["ticket"] == "TIK-2026-0777"
    assert slapd.whoami(dn_of(slapd, "kepala.dinkes@bekasikota.go.id"), item["password"]) == 0
    assert handover_files.age_open(path, keyring.identity(DINKES_ADMIN)).returncode != 0
    [op] = [op for op in second["operations"] if op["action"] == "reset"]
    assert op["handover_to"] == DINKES_HEAD, "the plan says who can read it"


def _modes(root):
    out = {}
    for folder, dirs, names in os.walk(root):
        out[folder] = stat.S_IMODE(os.lstat(folder).st_mode)
        for name in names:
            out[os.path.join(folder, name)] = stat.S_IMODE(os.lstat(os.path.join(folder, name)).st_mode)
    return out


def test_files_0600_in_0700_directories_whatever_the_umask(slapd, registry, apply_mail, tmp_path):
    handover = tmp_path / "made" / "by" / "module" / "handover"
    archive = tmp_path / "made" / "too" / "archive"
    previous = os.umask(0)  # the module inherits it: the widest a process could have
    try:
        first = apply_mail(registry, handover_dir=str(handover), archive_dir=str(archive))
        assert not first.get("failed"), first.get("msg")
        text = (registry / "mail.yml").read_text()
        address = "budi.santoso@bekasikota.go.id"
        start = text.index("  - address: " + address)
        block = text[start:text.index("  - address:", start + 5)]
        (registry / "mail.yml").write_text(text.replace(block, block.replace(
            "    status: active\n", "    status: deleted\n    deactivation:\n      reason: moved\n"
            "      request: Surat 1\n      validated_by: \"198212122008101001\"\n"
            "      validation_ref: Surat BKPSDM 1\n      date: 2026-11-01\n")))
        second = apply_mail(registry, handover_dir=str(handover), archive_dir=str(archive))
        assert not second.get("failed"), second.get("msg")
    finally:
        os.umask(previous)
    assert second["archives"] and os.path.exists(second["archives"][0] + ".sha256")
    made = tmp_path / "made"
    modes = _modes(made)
    modes[str(made)] = stat.S_IMODE(os.lstat(made).st_mode)
    files = [p for p in modes if os.path.isfile(p)]
    assert len(files) == len(first["handover_files"]) + 2
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o600 if os.path.isfile(p) else 0o700)}
    assert not wrong, wrong
    for path in files:
        assert os.stat(path).st_uid == os.getuid()


def test_an_existing_open_directory_is_made_private(slapd, registry, apply_mail, tmp_path):
    handover = tmp_path / "handover"
    (handover / DINKES_ADMIN).mkdir(parents=True, mode=0o777)
    os.chmod(handover, 0o755)
    os.chmod(handover / DINKES_ADMIN, 0o777)
    result = apply_mail(registry, handover_dir=str(handover))
    assert not result.get("failed"), result.get("msg")
    assert stat.S_IMODE(os.stat(handover).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(handover / DINKES_ADMIN).st_mode) == 0o700


def test_a_recipient_without_a_key_stops_the_run_before_anything(slapd, registry, apply_mail, keyring,
                                                                 tmp_path):
    keyring.give(registry)
    text = (registry / "people.yml").read_text()
    line = next(l for l in text.splitlines(keepends=True)
                if l.startswith("    handover_keys: ") and keyring.public[DINKES_ADMIN] in l)
    (registry / "people.yml").write_text(text.replace(line, "", 1))
    result = apply_mail(registry)
    assert result["failed"] and "nothing applied" in result["msg"]
    assert "dinkes@bekasikota.go.id (%s)" % DINKES_ADMIN in result["msg"]
    assert "E6-HANDOVER-KEY" in result["msg"]
    assert result["handover_files"] == [] and not (tmp_path / "handover").exists()
    assert accounts_in(slapd) == [], "nothing was applied"


def test_no_shared_password_and_a_plan_needs_no_key(slapd, registry, apply_mail, tmp_path):
    refused = apply_mail(registry, handover_vault_password="shared-by-everyone-1")
    assert refused["failed"] and "handover_vault_password" in refused["msg"]
    text = (registry / "people.yml").read_text()
    (registry / "people.yml").write_text(re.sub(r"(?m)^    handover_keys: .*\n", "", text))
    # apply_mail gives keys to the people that have some: here nobody has any.
    plan = apply_mail(registry, check=True, diff=True)
    assert not plan.get("failed"), plan.get("msg")
    assert plan["changed"] and plan["handover_files"] == [] and not (tmp_path / "handover").exists()
    creates = [op for op in plan["operations"] if op["action"] == "create"]
    by_address = {op["address"]: op for op in creates}
    assert by_address["kepala.dinkes@bekasikota.go.id"]["handover_to"] == DINKES_HEAD
    assert by_address["dinkes@bekasikota.go.id"]["handover_to"] == DINKES_ADMIN
