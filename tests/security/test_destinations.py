"""A hostile registry value for every injection destination (issue 11, item 2).

Each case plants one value, made by a registry edit alone, that would change the
meaning of the file, name or command it reaches (docs/registry-destinations.md):

(a) validation refuses it, at the edited line, with its rule id and article;
(b) the role's own template, rendered from that registry with validation bypassed
    (tests/security/role_render.py: the playbook's own registry read, the role's own
    variables, assert and template files, the project's filter plugins), refuses it
    (a destination filter names the field) or still yields a well-formed file: udev
    rules parsed into KEY{attr}OP"value" tokens with exactly the expected keys, the
    smsdrc through the role's smsdrc-check (Gammu's own reader) and configparser,
    named.conf through named-checkconf, the zone through named-checkzone and
    dnspython, the LDIF through an LDIF parser and slapadd; the smsdrc's destination
    stays in the configuration directory. Each check is also shown to catch an
    injection;
(c) the Python code that builds paths from registry values (hand-over files, LDIF
    archives, warnings, outbox files and folders, reports) refuses a value that would
    leave its directory.
"""
import configparser
import datetime
import importlib.machinery
import importlib.util
import io
import os
import re
import shutil
import subprocess

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import ldif
import pytest
import yaml

from ansible.module_utils.city.registry import destinations
from ansible.module_utils.city.registry.destinations import DestinationError
from ansible.module_utils.city.registry.findings import BUILTIN_ARTICLES
from ansible.module_utils.city.registry.loader import load_file
from ansible.module_utils.city.mail import handover, unused
from ansible.module_utils.city.mail.desired import desired_accounts
from ansible.module_utils.city.mail.directory import Directory
from ansible.module_utils.city.sms import outbox
from ansible.module_utils.city.registry.validate import validate
from paths import EXAMPLE, ROOT, SCHEMAS

import role_render

SMSDRC_CHECK = os.path.join(ROOT, "roles", "sms_gateway", "files", "smsdrc-check")
MODEM1_SERIAL = 'serial: "HWE173-4F2A91C0"'
MODEM1_ID = "phone_id: modem1\n"
DOMAIN_NAME = "  name: bekasikota.go.id\n"


class Hostile:
    """One planted value: the edit, what validation says, what the templates must do.

    ``refused``: (role, template key, field) that must be refused by a destination
    filter naming ``field`` (key ``smsdrc:<n>``: the n-th modem's smsdrc).
    ``check``: roles whose own "Check the variables" task must fail too.
    """

    def __init__(self, id, file, old, new, rule, needle, refused=(), check=()):
        self.id, self.file, self.old, self.new = id, file, old, new
        self.rule, self.needle, self.refused, self.check = rule, needle, refused, check

    def apply(self, registry):
        path = os.path.join(registry, self.file)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert text.count(self.old) >= 1, (self.id, self.old)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(self.old, self.new, 1))


RUN = '*\\", RUN+=\\"/bin/sh -c \'touch /tmp/x\'\\", ATTRS{serial}==\\"*'
SERIAL = "sms.yml modems[].usb.serial"
PHONE_ID = "sms.yml modems[].phone_id"
ZONE = "dns_server__zone"

CASES = [
    # --- udev: a value between double quotes of a rule
    Hostile("udev-serial-adds-a-run-key", "sms.yml", MODEM1_SERIAL, 'serial: "%s"' % RUN,
            "S8-PATTERN", "RUN+=", refused=[("sms_gateway", "udev", SERIAL)]),
    Hostile("udev-vendor-adds-a-run-key", "sms.yml", 'vendor: "12d1", product: "1436"',
            'vendor: "12d1\\", RUN+=\\"/bin/true", product: "1436"', "S8-PATTERN", "/bin/true",
            refused=[("sms_gateway", "udev", "sms.yml modems[].usb.vendor")]),
    Hostile("udev-serial-glob-matches-any-modem", "sms.yml", MODEM1_SERIAL, 'serial: "HWE173-*"',
            "S8-PATTERN", "HWE173-*", refused=[("sms_gateway", "udev", SERIAL)]),
    Hostile("udev-phone-id-adds-a-run-key", "sms.yml", MODEM1_ID,
            "phone_id: 'modem1\", RUN+=\"/bin/true'\n", "S8-PATTERN", "phone_id: 'modem1",
            refused=[("sms_gateway", "udev", PHONE_ID), ("sms_gateway", "smsdrc:0", PHONE_ID)],
            check=["sms_gateway"]),
    # --- gammu-smsdrc: a line break starts a new key or [section]
    Hostile("smsdrc-smsc-adds-runonreceive", "sms.yml", 'smsc: "+6281100000"',
            'smsc: "+6281100000\\nrunonreceive = /bin/sh -c id"', "S8-PATTERN", "runonreceive",
            refused=[("sms_gateway", "smsdrc:0", "sms.yml modems[].smsc")]),
    Hostile("smsdrc-connection-adds-a-section", "sms.yml", "connection: at115200",
            'connection: "at115200\\n[gammu]\\ndevice = /dev/ttyS0"', "S8-ENUM", "connection: \"at115200",
            refused=[("sms_gateway", "smsdrc:1", "sms.yml modems[].connection")]),
    Hostile("smsdrc-serial-in-a-comment-adds-a-key", "sms.yml", MODEM1_SERIAL,
            'serial: "HWE173\\nrunonreceive = /bin/sh -c id"', "S8-PATTERN", "runonreceive",
            refused=[("sms_gateway", "udev", SERIAL), ("sms_gateway", "smsdrc:0", SERIAL)]),
    Hostile("smsdrc-phone-id-trailing-newline", "sms.yml", MODEM1_ID, 'phone_id: "modem1\\n"\n',
            "S8-PATTERN", 'phone_id: "modem1\\n"',
            refused=[("sms_gateway", "udev", PHONE_ID), ("sms_gateway", "smsdrc:0", PHONE_ID)],
            check=["sms_gateway"]),
    # --- unit instance and file names
    Hostile("name-phone-id-leaves-its-directory", "sms.yml", MODEM1_ID, 'phone_id: "m1/../../etc"\n',
            "S8-PATTERN", "m1/../../etc",
            refused=[("sms_gateway", "udev", PHONE_ID), ("sms_gateway", "smsdrc:0", PHONE_ID)],
            check=["sms_gateway"]),
    Hostile("name-user-id-leaves-the-outbox", "sms-users.yml", "  - id: rizal.fahmi\n",
            '  - id: "rizal.fahmi/../../x"\n', "S4-PATTERN", "rizal.fahmi/../../x"),
    Hostile("name-user-id-trailing-newline", "sms-users.yml", "  - id: rizal.fahmi\n",
            '  - id: "rizal.fahmi\\n"\n', "S4-PATTERN", 'id: "rizal.fahmi\\n"'),
    Hostile("name-agency-code-with-a-path", "agencies.yml", "  - code: DINKES\n",
            '  - code: "../../DINKES"\n', r"[A-Z0-9]+-PATTERN", "../../DINKES"),
    Hostile("name-person-id-leaves-the-handover-dir", "people.yml", '  - id: "199207112021102003"\n',
            '  - id: "../../199207112021102003"\n', r"[A-Z0-9]+-PATTERN", "../../199207112021102003"),
    Hostile("name-mail-uid-leaves-the-archive-dir", "mail.yml", "  - address: dinkes@bekasikota.go.id\n",
            '  - address: "../../dinkes@bekasikota.go.id"\n', "E1-PATTERN", "../../dinkes@"),
    # --- named.conf and the zone file
    Hostile("named-zone-closes-the-statement", "domain.yml", DOMAIN_NAME,
            '  name: \'bekasikota.go.id"; }; zone "evil.example\'\n', "D1-PATTERN", "evil.example",
            refused=[("dns_server", "named_local", ZONE), ("dns_server", "named_options", ZONE),
                     ("dns_server", "zone", ZONE), ("ldap_directory", "ldif", "ldap_directory__suffix")],
            check=["dns_server", "ldap_directory"]),
    Hostile("named-zone-trailing-newline", "domain.yml", DOMAIN_NAME, '  name: "bekasikota.go.id\\n"\n',
            "D1-PATTERN", 'name: "bekasikota.go.id\\n"',
            refused=[("dns_server", "named_local", ZONE), ("dns_server", "named_options", ZONE),
                     ("dns_server", "zone", ZONE)],
            check=["dns_server", "ldap_directory"]),
    Hostile("zone-nameserver-adds-a-record", "domain.yml", "ns2.bekasikota.go.id.]",
            '"ns2.bekasikota.go.id.\\n@ IN NS evil.example."]', "D8-PATTERN", "evil.example",
            refused=[("dns_server", "zone", "dns_server__")]),
    Hostile("zone-ttl-includes-a-file", "domain.yml", "  default_ttl: 3600\n",
            '  default_ttl: "3600\\n$INCLUDE /etc/shadow"\n', r"[A-Z0-9]+-TYPE", "$INCLUDE",
            refused=[("dns_server", "zone", "dns_server__default_ttl")]),
    # --- LDIF: the suffix comes from the main domain
    Hostile("ldif-suffix-adds-an-entry", "domain.yml", DOMAIN_NAME,
            '  name: "bekasikota.go.id\\ndn: cn=evil,cn=config"\n', "D1-PATTERN", "cn=evil",
            refused=[("ldap_directory", "ldif", "ldap_directory__suffix")],
            check=["dns_server", "ldap_directory"]),
]
CASE_IDS = [c.id for c in CASES]
BY_ID = {c.id: c for c in CASES}


def _articles():
    with open(os.path.join(EXAMPLE, "city.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["articles"]


def _copy(target, case=None):
    shutil.copytree(EXAMPLE, target)
    if case is not None:
        case.apply(target)
    return str(target)


def _line_of(path, needle):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text.count("\n", 0, text.index(needle)) + 1


# --- (a) validation ---------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_validation_refuses_the_hostile_value_at_its_line(tmp_path, case):
    registry = _copy(tmp_path / "registry", case)
    result = validate(registry, SCHEMAS, display_root=registry)
    assert not result.ok
    matching = [f for f in result.errors if re.fullmatch(case.rule, f.rule) and f.file == case.file]
    assert matching, "no %s error in %s; got:\n%s" % (
        case.rule, case.file, "\n".join(f.format() for f in result.findings))
    line = _line_of(os.path.join(registry, case.file), case.needle)
    assert line in {f.line for f in matching}, [f.format() for f in matching]
    articles = _articles()
    for finding in matching:
        article = articles.get(finding.requirement) or BUILTIN_ARTICLES.get(finding.requirement)
        assert article and finding.article == article
        assert finding.format().startswith("%s:%d:%d: error [%s] %s" % (
            case.file, finding.line, finding.column, finding.rule, article))
        assert finding.fix
        # One line: the value's line break is shown escaped, never as a new line.
        assert "\n" not in finding.format().split("\n    fix: ")[0]


def test_the_example_registry_passes_every_destination_pattern():
    result = validate(EXAMPLE, SCHEMAS, display_root=EXAMPLE)
    assert not [f for f in result.errors if f.rule.endswith(("-PATTERN", "-ENUM", "-TYPE", "-SCHEMA"))]


# --- (b) the roles' own templates -------------------------------------------------

def _roles_of(case):
    return sorted({role for role, _, _ in case.refused} | set(case.check))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every case, for the roles it concerns, and the untouched example, for every
    role, rendered by one ansible-playbook run."""
    base = tmp_path_factory.mktemp("destinations")
    cases = {"example": (_copy(base / "registries" / "example"), list(role_render.ROLE_TEMPLATES))}
    for case in CASES:
        if _roles_of(case):
            cases[case.id] = (_copy(base / "registries" / case.id, case), _roles_of(case))
    return role_render.render(cases, str(base / "out"))


UDEV_TOKEN = re.compile(r'\s*([A-Z_]+)(\{[^{}"]*\})?(==|!=|\+=|-=|:=|=)"([^"\\]*)"\s*(?:,|$)')
UDEV_MATCH = ["SUBSYSTEM==", "ATTRS{idVendor}==", "ATTRS{idProduct}==", "ATTRS{serial}=="]
UDEV_RULES = [UDEV_MATCH + ["ENV{ID_MM_DEVICE_IGNORE}=", "GROUP=", "MODE="],
              UDEV_MATCH + ["ENV{ID_USB_INTERFACE_NUM}==", "SYMLINK+="]]


def udev_rules(text):
    """Every rule line as [(KEY{attr}OP, value)]; fails on anything that is not a token."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert not line.endswith("\\"), "line %d continues a rule" % number
        tokens, pos = [], 0
        while pos < len(line):
            match = UDEV_TOKEN.match(line, pos)
            assert match and match.end() > pos, "line %d is not KEY{attr}OP\"value\": %r" % (number, line)
            tokens.append((match.group(1) + (match.group(2) or "") + match.group(3), match.group(4)))
            pos = match.end()
        rules.append(tokens)
    return rules


def assert_udev_well_formed(path, modems):
    with open(path, encoding="utf-8") as handle:
        rules = udev_rules(handle.read())
    assert [[key for key, _ in rule] for rule in rules] == UDEV_RULES * len(modems)
    for rule in rules:
        keys = {key.split("{")[0].rstrip("=+-:!") for key, _ in rule}
        assert not keys & {"RUN", "PROGRAM", "IMPORT"}
    for index, modem in enumerate(modems):
        for rule in rules[2 * index:2 * index + 2]:
            values = dict(rule)
            assert values["ATTRS{idVendor}=="] == modem["usb"]["vendor"]
            assert values["ATTRS{idProduct}=="] == modem["usb"]["product"]
            assert values["ATTRS{serial}=="] == modem["usb"]["serial"]
        assert dict(rules[2 * index + 1])["SYMLINK+="] == "sms-" + modem["phone_id"]


SMSDRC_KEYS = {
    "gammu": {"device", "connection", "logformat"},
    "smsd": {"service", "phoneid", "smsc", "inboxpath", "outboxpath", "sentsmspath", "errorsmspath",
             "transmitformat", "inboxformat", "deliveryreport", "runonreceive", "commtimeout", "sendtimeout",
             "loopsleep", "receivefrequency", "statusfrequency", "checksecurity", "checkbattery",
             "checksignal", "checknetwork", "logfile", "debuglevel"},
}


def _smsdrc_check():
    loader = importlib.machinery.SourceFileLoader("smsdrc_check", SMSDRC_CHECK)
    spec = importlib.util.spec_from_loader("smsdrc_check", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def assert_smsdrc_well_formed(path, modem):
    checker = _smsdrc_check()
    assert checker.layout_problems(path, modem["phone_id"]) == []
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    # Gammu's own reader too (gammu-smsd-monitor), as the role's validate runs it; it
    # wants the spool folders, which the role makes and the render points into the case.
    case_dir = os.path.dirname(os.path.dirname(path))
    for key in checker.PATH_KEYS:
        folder = parser["smsd"][key]
        assert os.path.realpath(folder).startswith(case_dir + os.sep), (key, folder)
        os.makedirs(folder, exist_ok=True)
    proc = subprocess.run([SMSDRC_CHECK, "--phone-id", modem["phone_id"], path], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert parser.sections() == ["gammu", "smsd"]
    for section, keys in SMSDRC_KEYS.items():
        expected = keys - ({"smsc"} if not modem.get("smsc") else set())
        assert set(parser[section]) == expected, section
    assert parser["gammu"]["connection"] == modem["connection"]
    assert parser["smsd"]["phoneid"] == modem["phone_id"]
    if modem.get("smsc"):
        assert parser["smsd"]["smsc"] == modem["smsc"]


def assert_named_conf_well_formed(path, zones=1):
    proc = subprocess.run(["named-checkconf", path], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert len(re.findall(r"(?m)^\s*zone\b", text)) == zones


def assert_zone_well_formed(path, zone, nameservers):
    proc = subprocess.run(["named-checkzone", "-k", "fail", "-n", "fail", zone, path],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert not re.search(r"(?m)^\$(INCLUDE|GENERATE)", text)
    # Exactly the initial zone: SOA and NS at the apex, glue of the NS names inside it.
    parsed = dns.zone.from_text(text, origin=zone, relativize=False, check_origin=True)
    origin = dns.name.from_text(zone)
    apex = parsed.get_node(origin)
    assert sorted(r.rdtype for r in apex.rdatasets) == [dns.rdatatype.NS, dns.rdatatype.SOA]
    ns = apex.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
    assert sorted(r.target.to_text() for r in ns) == sorted(nameservers)
    glue = {dns.name.from_text(n) for n in nameservers if dns.name.from_text(n).is_subdomain(origin)}
    assert set(parsed.nodes) == {origin} | glue
    for name in glue:
        assert {r.rdtype for r in parsed.get_node(name).rdatasets} <= {dns.rdatatype.A, dns.rdatatype.AAAA}


LDIF_DNS = ["cn=config", "cn=module{0},cn=config", "cn=schema,cn=config",
            "olcDatabase={-1}frontend,cn=config", "olcDatabase={0}config,cn=config",
            "olcDatabase={1}mdb,cn=config", "olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config"]


def ldif_entries(text):
    """[(dn, {attribute: [values]})] of an LDIF file (RFC 2849), includes left out."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("include:"))
    parser = ldif.LDIFRecordList(io.StringIO(body))
    parser.parse()
    return parser.all_records


def assert_ldif_well_formed(path, suffix):
    with open(path, encoding="utf-8") as handle:
        records = ldif_entries(handle.read())
    assert [dn for dn, _ in records] == LDIF_DNS
    mdb = dict(records)["olcDatabase={1}mdb,cn=config"]
    assert mdb["olcSuffix"] == [suffix.encode()]
    # slapd's own reader, as the role loads it (slapadd -n 0 into an empty directory).
    config_dir = path + ".slapd.d"
    shutil.rmtree(config_dir, ignore_errors=True)
    os.makedirs(config_dir)
    proc = subprocess.run(["slapadd", "-n", "0", "-F", config_dir, "-l", path], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _registry_data(registry_dir, name):
    return load_file(os.path.join(registry_dir, name)).data


def _modems(registry_dir):
    sms = _registry_data(registry_dir, "sms.yml")
    return [m for g in sms["gateways"] if g["host"] == role_render.SMS_HOST for m in g["modems"]]


def _files_under(directory):
    return sorted(os.path.relpath(os.path.join(d, f), directory)
                  for d, _, files in os.walk(directory) for f in files)


FILE_NAMES = {key: name for _, templates in role_render.ROLE_TEMPLATES.values()
              for key, _, name in templates}


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _materialise(role, found):
    """Write what the template lookup rendered where the role would, and return
    [(key, modem index or None, path or None, result)] (path None: refused).

    The smsdrc goes to the destination the role's own task computed, which must stay
    inside the role's configuration directory whatever the PhoneID says.
    """
    out = []
    for key, result in found.items():
        if key in ("check", "dir"):
            continue
        if key == "smsdrc":
            for index, item in enumerate(result):
                path = None
                if not item.get("failed"):
                    dest = item["msg"]["dest"]
                    config_dir = os.path.join(found["dir"], "etc")
                    assert os.path.dirname(os.path.normpath(dest)) == config_dir, dest
                    path = _write(dest, item["msg"]["content"])
                out.append(("smsdrc:%d" % index, index, path, item))
        else:
            path = None if result.get("failed") else _write(
                os.path.join(found["dir"], FILE_NAMES[key]), result["msg"])
            out.append((key, None, path, result))
    return out


def _assert_well_formed(role, key, path, registry_dir, index=None):
    """The checks of one rendered file of ``role`` for the registry it came from."""
    if key == "udev":
        assert_udev_well_formed(path, _modems(registry_dir))
    elif key.startswith("smsdrc"):
        assert_smsdrc_well_formed(path, _modems(registry_dir)[index])
    elif key == "named_local":
        assert_named_conf_well_formed(path)
    elif key == "named_options":
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        # Only a comment names the zone: it stays one comment line.
        zone = _registry_data(registry_dir, "domain.yml")["domain"]["name"]
        assert [line[:3] for line in text.splitlines() if zone in line] == ["// "]
        if os.path.exists("/etc/bind/rndc.key"):
            assert_named_conf_well_formed(path, zones=0)
    elif key == "zone":
        domain = _registry_data(registry_dir, "domain.yml")["domain"]
        assert_zone_well_formed(path, domain["name"], [ns.rstrip(".") + "." for ns in domain["nameservers"]])
    elif key == "ldif":
        domain = _registry_data(registry_dir, "domain.yml")["domain"]
        assert_ldif_well_formed(path, "dc=" + ",dc=".join(domain["name"].split(".")))
    else:
        raise AssertionError("no check for %s %s" % (role, key))


def test_the_example_renders_well_formed_files(rendered):
    found = rendered["example"]
    assert set(found) == set(role_render.ROLE_TEMPLATES)
    for role in role_render.ROLE_TEMPLATES:
        assert not found[role]["check"].get("failed"), found[role]["check"]
        rendered_files = _materialise(role, found[role])
        assert len(rendered_files) == len(role_render.ROLE_TEMPLATES[role][1]) + (
            len(_modems(EXAMPLE)) if role == "sms_gateway" else 0)
        for key, index, path, result in rendered_files:
            assert path, (role, key, result.get("msg"))
            _assert_well_formed(role, key, path, EXAMPLE, index)


def test_the_template_action_writes_what_the_lookup_rendered(rendered):
    """The cases render through the template lookup; the action itself writes the same bytes."""
    action = os.path.join(os.path.dirname(os.path.dirname(rendered["example"]["sms_gateway"]["dir"])),
                          role_render.ACTION)
    for role in role_render.ROLE_TEMPLATES:
        for key, index, path, _ in _materialise(role, rendered["example"][role]):
            by_action = os.path.join(action, role, os.path.relpath(path, rendered["example"][role]["dir"]))
            with open(path, encoding="utf-8") as a, open(by_action, encoding="utf-8") as b:
                lookup_text, action_text = a.read(), b.read()
            # Only the case's own directory differs between the two renders.
            assert lookup_text.replace("/example/", "/example-by-action/") == action_text, (role, key)
            _assert_well_formed(role, key, by_action, EXAMPLE, index)


# What an unescaped template would have written for some of the cases: each check
# must see it (so a test that passes is not a check that cannot fail).
INJECTIONS = [
    ("udev", "HWE173-4F2A91C0", RUN.replace("\\", "")),
    ("udev", 'GROUP="dialout"', 'GROUP="dialout", PROGRAM="/bin/true"'),
    ("smsdrc:0", "smsc = +6281100000", "smsc = +6281100000\nrunonreceive = /bin/sh -c id"),
    ("smsdrc:1", "connection = at115200", "connection = at115200\n[gammu]\ndevice = /dev/ttyS0"),
    ("smsdrc:0", "phoneid = modem1", "phoneid = modem1\n inboxpath = /tmp/"),
    ("named_local", 'zone "bekasikota.go.id"', 'zone "bekasikota.go.id" { type hint; file "x"; };\nzone "evil.example"'),
    ("zone", "@\tIN\tNS\tns2.bekasikota.go.id.", "@\tIN\tNS\tns2.bekasikota.go.id.\n@ IN NS evil.example."),
    ("zone", "$TTL 3600", "$TTL 3600\n$INCLUDE /etc/hostname"),
    ("ldif", "olcSuffix: dc=bekasikota,dc=go,dc=id",
     "olcSuffix: dc=bekasikota,dc=go,dc=id\n\ndn: cn=evil,cn=config\nobjectClass: olcGlobal\ncn: evil"),
]


@pytest.mark.parametrize("key, old, new", INJECTIONS,
                         ids=["%s-%d" % (key, i) for i, (key, _, _) in enumerate(INJECTIONS)])
def test_the_well_formedness_checks_catch_an_injection(rendered, key, old, new):
    role = {"udev": "sms_gateway", "named_local": "dns_server", "zone": "dns_server",
            "ldif": "ldap_directory"}.get(key.split(":")[0], "sms_gateway")
    files = {k: (i, p) for k, i, p, _ in _materialise(role, rendered["example"][role])}
    index, path = files[key]
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert old in text
    injected = path + ".injected"
    _write(injected, text.replace(old, new, 1))
    if key.startswith("smsdrc"):
        # The role's checker reads the file named after the modem: same folder.
        os.replace(injected, path)
        injected = path
    with pytest.raises(AssertionError):
        _assert_well_formed(role, key, injected, EXAMPLE, index)
    _materialise(role, rendered["example"][role])  # put the example back


RENDERED = [c for c in CASES if _roles_of(c)]


@pytest.mark.parametrize("case", RENDERED, ids=[c.id for c in RENDERED])
def test_templates_refuse_the_hostile_value_or_stay_well_formed(rendered, case):
    found = rendered[case.id]
    some_role = next(iter(found.values()))
    registry_dir = os.path.join(os.path.dirname(os.path.dirname(some_role["dir"])), "..", "registries",
                                case.id)
    refused = {(role, key): field for role, key, field in case.refused}
    assert sorted(found) == _roles_of(case)
    for role in found:
        check = found[role]["check"]
        assert bool(check.get("failed")) == (role in case.check), (role, check.get("msg"))
        for key, index, path, result in _materialise(role, found[role]):
            field = refused.pop((role, key), None)
            if field is not None:
                assert result.get("failed"), (role, key, "rendered a hostile value")
                assert re.search(r"[a-z_]+ filter: %s" % re.escape(field), result.get("msg", "")), (
                    role, key, result.get("msg"))
            elif path:
                _assert_well_formed(role, key, path, registry_dir, index)
            else:
                # Refused elsewhere than expected: still by a destination filter.
                assert " filter: " in result.get("msg", ""), (role, key, result.get("msg"))
    assert not refused, "templates that were expected to refuse: %s" % sorted(refused)


# --- (c) paths built in Python ----------------------------------------------------

def _hostile_registry(tmp_path, case_id):
    return _copy(tmp_path / "registry", BY_ID[case_id])


def test_outbox_names_refuse_hostile_user_ids(tmp_path):
    for case_id in ("name-user-id-leaves-the-outbox", "name-user-id-trailing-newline"):
        registry = _copy(tmp_path / case_id, BY_ID[case_id])
        users = _registry_data(registry, "sms-users.yml")["users"]
        hostile = [u["id"] for u in users if u["id"].startswith("rizal.fahmi")]
        assert hostile and hostile[0] != "rizal.fahmi"
        with pytest.raises(ValueError, match="user id"):
            outbox.file_name("20261101_080000", "+6281829340251", "2026-11-001", hostile[0])
    assert outbox.file_name("20261101_080000", "+6281829340251", "2026-11-001", "rizal.fahmi").endswith(
        "-urizal.fahmi.txt")
    for blast_id in ("2026-11-001\n", "../2026-11-001"):
        with pytest.raises(ValueError, match="blast id"):
            outbox.file_name("20261101_080000", "+6281829340251", blast_id, "rizal.fahmi")


@pytest.mark.parametrize("phone_id", ["..", "../x", "a/b", "", "modem1\n"])
def test_outbox_folders_refuse_phone_ids_that_leave_the_spool(tmp_path, phone_id):
    with pytest.raises(DestinationError):
        outbox.folder(str(tmp_path), phone_id, "outbox")
    with pytest.raises(DestinationError):
        outbox.where(str(tmp_path), phone_id, "x.txt")
    assert not outbox.PHONE_ID_RE.match(phone_id)
    assert outbox.folder(str(tmp_path), "modem1", "outbox") == os.path.join(str(tmp_path), "modem1", "outbox")


def test_handover_refuses_a_person_id_that_leaves_its_directory(tmp_path):
    """A hand-over file is <handover_dir>/<person id>/<run>.age: an id that is a path is
    refused before anything is written, the well-formed person's file included."""
    registry = _hostile_registry(tmp_path, "name-person-id-leaves-the-handover-dir")
    people = _registry_data(registry, "people.yml")["people"]
    hostile = [p["id"] for p in people if "/" in p["id"]]
    assert hostile
    key = next(p["handover_keys"][0] for p in people if p.get("handover_keys"))
    directory = tmp_path / "work" / "handover"
    directory.mkdir(parents=True)
    for person in hostile + ["..", "/tmp/elsewhere", "199207112021102003\n"]:
        with pytest.raises(DestinationError):
            handover.write(str(directory), "20261101T080000Z",
                           {"198804092012021004": [{"address": "a@b", "password": "x"}],
                            person: [{"address": "c@d", "password": "y"}]},
                           {"198804092012021004": [key], person: [key]})
    assert _files_under(str(tmp_path / "work")) == []


def test_archive_refuses_a_uid_that_leaves_its_directory(tmp_path):
    registry = _hostile_registry(tmp_path, "name-mail-uid-leaves-the-archive-dir")
    docs = {n: _registry_data(registry, n + ".yml") for n in ("mail", "agencies", "people")}
    accounts = desired_accounts(docs["mail"], docs["agencies"], docs["people"], "bekasikota.go.id")
    hostile = [a.dn for a in accounts.values() if "/" in a.dn]
    assert hostile == ["uid=../../dinkes,ou=accounts,dc=bekasikota,dc=go,dc=id"]
    # No server at this address: the name is refused before the directory is asked.
    directory = Directory("ldap://127.0.0.1:1", "cn=x", "x", timeout=1)
    with pytest.raises(DestinationError, match="archive of"):
        directory.archive(hostile[0], str(tmp_path / "archive"), "20261101T080000Z")
    assert not (tmp_path / "archive").exists()


def test_unused_warnings_refuse_a_uid_that_leaves_the_spool(tmp_path):
    now = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    row = {"address": "x@bekasikota.go.id", "uid": "../../x", "ou": "DINKES",
           "last_used": now - datetime.timedelta(days=40), "locked": False}
    with pytest.raises(DestinationError):
        unused.spool_warnings([row], str(tmp_path / "spool"), "2026-11", "noreply@b", {}, 30, now, "b")
    assert _files_under(str(tmp_path)) == []


def test_report_files_named_after_agencies_stay_in_the_reports(tmp_path):
    from ansible.module_utils.city.reports import build
    reports = tmp_path / "reports"
    for rel in ("domain-2026/../../escaped.html", "domain-2026/../escaped.csv", "/tmp/escaped.html"):
        with pytest.raises(DestinationError):
            build.write(str(reports), {"index.html": "ok", rel: "x"})
    assert _files_under(str(tmp_path)) == []
    build.write(str(reports), {"domain-2026/DINKES.html": "ok"})
    assert _files_under(str(tmp_path)) == [os.path.join("reports", "domain-2026", "DINKES.html")]


# --- the checks themselves --------------------------------------------------------

GOOD = {
    "udev_value": ["12d1", "HWE173-4F2A91C0", "dialout", "00", "sn:1.2_3"],
    "smsdrc_value": ["+6281100000", "at115200", "/usr/bin/python3 /x.py --data-dir /y", "a#b;c"],
    "named_string": ["bekasikota.go.id", "/var/lib/bind/db.bekasikota.go.id"],
    "dns_name": ["bekasikota.go.id", "ns1.bekasikota.go.id.", "a-b.c1"],
    "ldif_value": ["dc=bekasikota,dc=go,dc=id", "m=12288 t=3 p=1", "to * by self read"],
    "ldap_dn": ["dc=bekasikota,dc=go,dc=id", "ou=accounts,dc=example,dc=org"],
    "systemd_instance": ["modem1", "m-2", "a.b_c:d"],
    "file_component": ["DINKES", "modem1.smsdrc", "agus.wahyudi-20261101T080000Z.ldif"],
}
BAD = {
    "udev_value": ['a"b', "a,b", "a=b", "*", "a?", "[a]", "a|b", "a b", "a\nb", "", "a/b", "$kernel",
                   "%k", "ä"],
    "smsdrc_value": ["a\nb", "a\rb", "a\x00b", " a", "a ", "", "a\u2028b", "a\x85b"],
    "named_string": ['a"b', "a\\b", "a;b", "a{b", "a}b", "a\nb", ""],
    "dns_name": ["a..b", "-a.b", "a b", "a;b", "a\nb", "a\\.b", "a" * 64 + ".b", "", ".", "a_b.c"],
    "ldif_value": ["a\nb", "a\rb", " a", ":a", "<a", "a ", "a\x00"],
    "ldap_dn": ["dc=a\n", "dc=a,cn=\"x\"", "dc=a+cn=b", "dc=a\\,b", "dc=", "=a", "dc=a;b"],
    "systemd_instance": ["a/b", "a b", "a\nb", "-a", ".a", "a\\x2d", "", "a@b"],
    "file_component": ["", ".", "..", "a/b", "a\\b", "-a", "a\nb", "a\x00b", "x" * 256],
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_checks_return_a_good_value_unchanged(name):
    for value in GOOD[name]:
        expected = '"%s"' % value if name == "named_string" else value
        assert getattr(destinations, name)(value, "f") == expected


@pytest.mark.parametrize("name", sorted(BAD))
def test_checks_refuse_a_bad_value_naming_the_field(name):
    for value in BAD[name]:
        with pytest.raises(DestinationError, match="^the field"):
            getattr(destinations, name)(value, "the field")


def test_a_refusal_never_shows_the_whole_value():
    with pytest.raises(DestinationError) as info:
        destinations.smsdrc_value("1234\n[x]", "sms_gateway__sim_pins")
    assert "1234" not in str(info.value)


def test_dns_ttl():
    assert destinations.dns_ttl(3600, "ttl") == 3600
    assert destinations.dns_ttl("60", "ttl") == "60"
    for bad in ("3600\n$INCLUDE /etc/shadow", -1, 2 ** 31, True, "1e3", None):
        with pytest.raises(DestinationError):
            destinations.dns_ttl(bad, "ttl")


def test_path_inside():
    assert destinations.path_inside("/srv/h", "DINKES", "x.vault") == "/srv/h/DINKES/x.vault"
    for parts in (("..",), ("a", ".."), ("/etc",), ("a/../..",)):
        with pytest.raises(DestinationError):
            destinations.path_inside("/srv/h", *parts)


def test_the_filter_plugin_names_the_field():
    from ansible.errors import AnsibleFilterError
    path = os.path.join(ROOT, "filter_plugins", "destination_filters.py")
    spec = importlib.util.spec_from_file_location("destination_filters_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    filters = module.FilterModule().filters()
    assert set(filters) == set(GOOD) | {"dns_ttl"}
    assert filters["named_string"]("bekasikota.go.id", "z") == '"bekasikota.go.id"'
    with pytest.raises(AnsibleFilterError, match=r"^udev_value filter: sms.yml modems\[\].usb.serial: "):
        filters["udev_value"]('*", RUN+="/bin/true', "sms.yml modems[].usb.serial")
