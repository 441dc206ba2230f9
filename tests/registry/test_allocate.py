"""bin/dns-allocate and registry.allocate: the lowest free pool address(es) into domain.yml (D8)."""
import difflib
import fcntl
import ipaddress
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ansible.module_utils.city.dns import allocate as alloc
from ansible.module_utils.city.registry.findings import ERROR, Finding
from ansible.module_utils.city.registry.loader import load_file
from ansible.module_utils.city.sms import trust
from ansible.module_utils.city.registry.validate import validate
from paths import LAB_INVENTORY, ROOT, SCHEMAS
from mutate import Edit

LAB_ROOT = trust.load_root(LAB_INVENTORY)

COMMAND = os.path.join(ROOT, "bin", "dns-allocate")
DECREE = "Keputusan Wali Kota Bekasi Nomor 500.05/Kep.88-Diskominfostandi/II/2025"


# --- helpers -------------------------------------------------------------------------

def domain_path(registry):
    return os.path.join(registry, "domain.yml")


def read_bytes(registry):
    with open(domain_path(registry), "rb") as fh:
        return fh.read()


def add_subdomain(registry, name, records="    records: []\n"):
    """Append a subdomain (kind application, owner Diskominfostandi) to the copy."""
    Edit("domain.yml", None,
         "  - name: %s\n    owner: DISKOMINFOSTANDI\n    kind: application\n"
         "    decree: %s\n    status: active\n    description: Aplikasi uji %s\n%s"
         % (name, DECREE, name, records)).apply(registry)


def run_allocate(registry, subdomain, **kwargs):
    kwargs.setdefault("approval_root", LAB_ROOT)
    return alloc.allocate(str(registry), subdomain, SCHEMAS, **kwargs)


def run_cli(*args, timeout=120):
    return subprocess.run([sys.executable, COMMAND, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def expected_free(registry, version, count=1, pool_index=0):
    """The count lowest free addresses, computed by brute force from the YAML alone."""
    data = load_file(domain_path(registry)).data
    pool = data["pools"][pool_index]

    def blocks(items):
        out = []
        for item in items or []:
            if "-" in item:
                low, high = (ipaddress.ip_address(x) for x in item.split("-"))
                out.append((low, high))
            else:
                net = ipaddress.ip_network(item, strict=False)
                out.append((net[0], net[-1]))
        return out

    blocked = [(low, high) for low, high in blocks(pool.get("reserved")) + blocks(
        pool.get("shared")) if low.version == version]
    used = set()
    records = list(data["domain"].get("apex", {}).get("records") or [])
    for sub in data["subdomains"]:
        records.extend(sub.get("records") or [])
    for record in records:
        if record.get("type") in ("A", "AAAA"):
            used.add(ipaddress.ip_address(record["value"]))
    for p in data["pools"]:
        used.update(ipaddress.ip_address(v) for v in (p.get("suspension_target") or {}).values())
    nets = sorted((ipaddress.ip_network(n) for n in pool["networks"]),
                  key=lambda n: int(n.network_address))
    found = []
    for net in (n for n in nets if n.version == version):
        first, last = int(net.network_address), int(net.broadcast_address)
        if version == 4 and net.prefixlen < 31:
            first, last = first + 1, last - 1
        elif version == 6 and net.prefixlen < 127:
            first += 1
        for number in range(first, last + 1):
            address = ipaddress.ip_address(number)
            if address in used or any(low <= address <= high for low, high in blocked):
                continue
            found.append(str(address))
            if len(found) == count:
                return found
    return found


def records_of(registry, subdomain):
    data = load_file(domain_path(registry)).data
    (sub,) = [s for s in data["subdomains"] if s["name"] == subdomain]
    return sub.get("records")


def diff_ops(before, after):
    """(removed lines, added lines) between two byte strings."""
    old = before.decode("utf-8").splitlines(keepends=True)
    new = after.decode("utf-8").splitlines(keepends=True)
    removed, added = [], []
    for line in difflib.ndiff(old, new):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def assert_valid(registry):
    result = validate(str(registry), SCHEMAS, approval_root=LAB_ROOT)
    assert result.ok, "\n".join(f.format() for f in result.errors)


# --- allocation and the text edit ----------------------------------------------------

def test_new_subdomain_with_empty_flow_records(registry):
    add_subdomain(registry, "ujiflow", "    records: []   # diisi dns-allocate\n")
    before = read_bytes(registry)
    expected = expected_free(registry, 4)
    outcome = run_allocate(registry, "ujiflow")
    assert [a.value for a in outcome.allocations] == expected == ["192.0.2.8"]
    removed, added = diff_ops(before, read_bytes(registry))
    assert removed == ["    records: []   # diisi dns-allocate\n"]
    assert added == ["    records:   # diisi dns-allocate\n",
                     "      - {type: A, value: 192.0.2.8}\n"]
    assert records_of(registry, "ujiflow") == [{"type": "A", "value": "192.0.2.8"}]
    assert_valid(registry)


def test_new_subdomain_with_a_records_block(registry):
    add_subdomain(registry, "ujiblok", "    records:\n"
                  "      - {type: TXT, value: \"v=spf1 -all\"}   # tanpa surat\n"
                  "      - {name: www, type: CNAME, value: ujiblok.bekasikota.go.id.}\n")
    before = read_bytes(registry)
    expected = expected_free(registry, 4)
    outcome = run_allocate(registry, "ujiblok")
    after = read_bytes(registry)
    assert [a.value for a in outcome.allocations] == expected
    removed, added = diff_ops(before, after)
    assert removed == [] and added == ["      - {type: A, value: %s}\n" % expected[0]]
    # No A/AAAA yet: the address goes first, before the TXT record.
    assert records_of(registry, "ujiblok")[0] == {"type": "A", "value": expected[0]}
    assert after.decode().count("\n") == before.decode().count("\n") + 1
    assert_valid(registry)


def test_new_subdomain_without_records_key_and_with_an_empty_one(registry):
    # One at a time: the whole registry must validate after each allocation, and an
    # active name without records does not.
    add_subdomain(registry, "ujitanpa", "")
    before = read_bytes(registry)
    assert run_allocate(registry, "ujitanpa").allocations[0].value == "192.0.2.8"
    assert diff_ops(before, read_bytes(registry)) == (
        [], ["    records:\n", "      - {type: A, value: 192.0.2.8}\n"])
    add_subdomain(registry, "ujikosong", "    records:\n")
    before = read_bytes(registry)
    assert run_allocate(registry, "ujikosong").allocations[0].value == "192.0.2.11"
    assert diff_ops(before, read_bytes(registry)) == (
        [], ["      - {type: A, value: 192.0.2.11}\n"])
    assert records_of(registry, "ujitanpa") == [{"type": "A", "value": "192.0.2.8"}]
    assert records_of(registry, "ujikosong") == [{"type": "A", "value": "192.0.2.11"}]
    assert_valid(registry)


def test_non_empty_flow_records_are_appended_inside_the_brackets(registry):
    add_subdomain(registry, "ujiflow", "    records: [{type: TXT, value: \"v=spf1 -all\"}]\n")
    outcome = run_allocate(registry, "ujiflow", family="both")
    text = read_bytes(registry).decode()
    assert ('    records: [{type: TXT, value: "v=spf1 -all"}, {type: A, value: 192.0.2.8}, '
            '{type: AAAA, value: "2001:db8:b3c::4"}]\n') in text
    assert [a.value for a in outcome.allocations] == ["192.0.2.8", "2001:db8:b3c::4"]
    assert_valid(registry)


def test_existing_subdomain_new_name_is_the_lowest_free_and_only_lines_are_inserted(registry):
    before = read_bytes(registry)
    expected = expected_free(registry, 4)
    outcome = run_allocate(registry, "rsud", name="simrs-2")
    (allocation,) = outcome.allocations
    assert (allocation.value, allocation.type, allocation.name, allocation.pool) == (
        expected[0], "A", "simrs-2", "central")
    after = read_bytes(registry)
    removed, added = diff_ops(before, after)
    assert removed == [] and added == ["      - {name: simrs-2, type: A, value: %s}\n"
                                       % expected[0]]
    # Inserted right after rsud's last address record (simrs, the last line of rsud).
    lines = after.decode().splitlines()
    at = lines.index("      - {name: simrs-2, type: A, value: %s}" % expected[0])
    assert lines[at - 1] == "      - {name: simrs, type: A, value: 192.0.2.47}"
    assert_valid(registry)


def test_reserved_shared_used_and_suspension_targets_are_skipped(registry):
    # .8 becomes shared; a deactivated name and a suspended name keep theirs (.11, .12).
    Edit("domain.yml", "      - 192.0.2.10\n", "      - 192.0.2.10\n      - 192.0.2.8\n"
         ).apply(registry)
    Edit("domain.yml", "    records: []\n", "    records:\n"
         "      - {type: A, value: 192.0.2.11}\n").apply(registry)  # sipkd, deactivated
    Edit("domain.yml", "Pasal 20 (3) d)\n    records:\n      - {type: A, value: 192.0.2.10}",
         "Pasal 20 (3) d)\n    records:\n      - {type: A, value: 192.0.2.12}").apply(registry)
    assert_valid(registry)
    expected = expected_free(registry, 4, count=3)
    outcome = run_allocate(registry, "setda", name="api", count=3)
    values = [a.value for a in outcome.allocations]
    assert values == expected == ["192.0.2.13", "192.0.2.14", "192.0.2.15"]
    pool = alloc.Pool(["192.0.2.0/24"], reserved=["192.0.2.0/29", "192.0.2.255"],
                      shared=["192.0.2.10", "192.0.2.8"])
    assert not any(pool.is_reserved(v) or pool.is_shared(v) for v in values)
    assert "192.0.2.9" not in values  # the suspension target
    assert_valid(registry)


def test_ipv6(registry):
    expected = expected_free(registry, 6)
    outcome = run_allocate(registry, "dinkes", family="6")
    (allocation,) = outcome.allocations
    assert (allocation.type, allocation.value) == ("AAAA", expected[0])
    assert expected[0] == "2001:db8:b3c::4"
    assert '      - {type: AAAA, value: "2001:db8:b3c::4"}\n' in read_bytes(registry).decode()
    assert {"type": "AAAA", "value": "2001:db8:b3c::4"} in records_of(registry, "dinkes")
    assert_valid(registry)


def test_count_two_and_both_families(registry):
    before = read_bytes(registry)
    expected4, expected6 = expected_free(registry, 4, 2), expected_free(registry, 6, 2)
    outcome = run_allocate(registry, "rsud", name="pacs", count=2, family="both")
    assert [(a.type, a.value) for a in outcome.allocations] == (
        [("A", v) for v in expected4] + [("AAAA", v) for v in expected6])
    removed, added = diff_ops(before, read_bytes(registry))
    assert removed == [] and added == [
        "      - {name: pacs, type: A, value: %s}\n" % expected4[0],
        "      - {name: pacs, type: A, value: %s}\n" % expected4[1],
        '      - {name: pacs, type: AAAA, value: "%s"}\n' % expected6[0],
        '      - {name: pacs, type: AAAA, value: "%s"}\n' % expected6[1]]
    assert_valid(registry)


def test_add_allows_another_address_at_a_name_that_has_one(registry):
    outcome = run_allocate(registry, "dinkes", add=True)
    values = [r["value"] for r in records_of(registry, "dinkes") if r["type"] == "A"]
    assert values == ["192.0.2.41", outcome.allocations[0].value]
    assert_valid(registry)


def test_allocations_follow_one_another(registry):
    seen = [run_allocate(registry, "setda", name="app%d" % i).allocations[0].value
            for i in range(3)]
    assert seen == ["192.0.2.8", "192.0.2.11", "192.0.2.12"]


def test_named_pool_and_file_mode_kept(registry):
    os.chmod(domain_path(registry), 0o640)
    Edit("domain.yml", "subdomains:\n", "  - name: kecil\n    networks: [203.0.113.0/29]\n"
         "    reserved: [203.0.113.1]\n    suspension_target:\n      A: 203.0.113.2\n"
         "subdomains:\n").apply(registry)
    outcome = run_allocate(registry, "setda", name="api", pool="kecil")
    assert [(a.value, a.pool) for a in outcome.allocations] == [("203.0.113.3", "kecil")]
    assert stat.S_IMODE(os.stat(domain_path(registry)).st_mode) == 0o640
    assert_valid(registry)


def test_crlf_file_keeps_its_line_endings(registry):
    path = domain_path(registry)
    with open(path, "rb") as fh:
        data = fh.read().replace(b"\n", b"\r\n")
    with open(path, "wb") as fh:
        fh.write(data)
    run_allocate(registry, "dinkes", family="6")
    after = read_bytes(registry)
    assert after.count(b"\n") == after.count(b"\r\n") == data.count(b"\r\n") + 1
    assert b'      - {type: AAAA, value: "2001:db8:b3c::4"}\r\n' in after


# --- refusals ------------------------------------------------------------------------

@pytest.mark.parametrize("subdomain, kwargs, error, words", [
    ("tidakada", {}, alloc.UsageError, "no subdomain 'tidakada'"),
    ("sipkd", {}, alloc.UsageError, "deactivated"),
    ("tirtapatriot", {}, alloc.UsageError, "exception"),
    ("dinkes", {}, alloc.UsageError, "already has A 192.0.2.41 at @"),
    ("mail", {"family": "both"}, alloc.UsageError, "A 192.0.2.25, AAAA 2001:db8:b3c::25"),
    ("dinkes", {"name": "www"}, alloc.UsageError, "has a CNAME"),
    ("dinkes", {"name": "bad name"}, alloc.UsageError, "not a valid relative name"),
    ("dinkes", {"name": "api", "pool": "tiada"}, alloc.UsageError, "no pool named 'tiada'"),
    ("dinkes", {"name": "api", "count": 0}, alloc.UsageError, "count must be"),
])
def test_refusals_leave_the_file_alone(registry, subdomain, kwargs, error, words):
    before = read_bytes(registry)
    with pytest.raises(error) as info:
        run_allocate(registry, subdomain, **kwargs)
    assert words in str(info.value)
    assert info.value.exit_code == 2
    assert read_bytes(registry) == before


def test_exhausted_pool(registry):
    Edit("domain.yml", "subdomains:\n", "  - name: kecil\n    networks: [203.0.113.0/29]\n"
         "    reserved: [203.0.113.1]\n    shared: [203.0.113.4]\n    suspension_target:\n"
         "      A: 203.0.113.2\n  - name: enam\n    networks: [\"2001:db8:ffff::/64\"]\n"
         "    suspension_target:\n      AAAA: \"2001:db8:ffff::9\"\n"
         "subdomains:\n").apply(registry)
    before = read_bytes(registry)
    # .1 reserved, .2 target, .4 shared: .3, .5, .6 are free.
    assert expected_free(registry, 4, count=5, pool_index=1) == [
        "203.0.113.3", "203.0.113.5", "203.0.113.6"]
    with pytest.raises(alloc.PoolExhausted) as info:
        run_allocate(registry, "setda", name="api", pool="kecil", count=4)
    assert info.value.exit_code == 1 and "pool exhausted" in str(info.value)
    with pytest.raises(alloc.UsageError, match="pool kecil has no IPv6 network"):
        run_allocate(registry, "setda", name="api", pool="kecil", family="6")
    with pytest.raises(alloc.UsageError, match="pool enam has no IPv4 network"):
        run_allocate(registry, "setda", name="api", pool="enam")
    assert read_bytes(registry) == before
    proc = run_cli("--registry", str(registry), "setda", "--name", "api", "--pool", "kecil",
                   "--count", "4")
    assert proc.returncode == 1 and "pool exhausted" in proc.stderr
    assert read_bytes(registry) == before


# --- dry run, validation, restore ----------------------------------------------------

def test_dry_run_writes_nothing(registry):
    before = read_bytes(registry)
    listing = sorted(os.listdir(registry))
    outcome = run_allocate(registry, "dinkes", family="both", add=True, dry_run=True)
    assert outcome.dry_run and len(outcome.allocations) == 2
    proc = run_cli("--registry", str(registry), "dinkes", "--add", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "would allocate 192.0.2.8 to dinkes (A at @) from pool central\n"
    assert read_bytes(registry) == before
    assert sorted(os.listdir(registry)) == listing  # not even a lock file


def test_restored_when_the_registry_is_invalid_after_the_edit(registry, monkeypatch):
    before = read_bytes(registry)

    class Failed:
        ok = False
        errors = [Finding(ERROR, "D8-POOL", "D8", "domain.yml", (), "forced", "fix it",
                          line=3, column=1)]
        warnings = []

    seen = []

    def failing(registry_dir, schema_dir, today=None, approval_root=None):
        seen.append(read_bytes(registry))  # the edit is on disk while validating
        return Failed()

    monkeypatch.setattr(alloc, "_validate", failing)
    with pytest.raises(alloc.RegistryInvalid) as info:
        run_allocate(registry, "dinkes", name="api")
    assert info.value.exit_code == 1 and info.value.findings == Failed.errors
    assert "restored" in str(info.value)
    assert seen and b"{name: api, type: A, value: 192.0.2.8}" in seen[0]
    assert read_bytes(registry) == before


def test_command_restores_a_registry_that_does_not_validate(registry):
    Edit("domain.yml", "value: 192.0.2.41}", "value: 203.0.113.41}").apply(registry)
    before = read_bytes(registry)
    proc = run_cli("--registry", str(registry), "setda", "--name", "api")
    assert proc.returncode == 1
    assert "[D8-POOL]" in proc.stderr and "restored" in proc.stderr
    assert proc.stdout == ""
    assert read_bytes(registry) == before


# --- the command ---------------------------------------------------------------------

def test_command_output_and_json(registry):
    proc = run_cli("--registry", str(registry), "dinkes", "--family", "6")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("allocated 2001:db8:b3c::4 to dinkes (AAAA at @) from pool "
                           "central\n")
    proc = run_cli("--registry", str(registry), "rsud", "--name", "pacs", "--count", "2",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["dry_run"] is False
    assert [a["value"] for a in report["allocations"]] == ["192.0.2.8", "192.0.2.11"]
    assert report["allocations"][0] == {"subdomain": "rsud", "name": "pacs", "type": "A",
                                        "value": "192.0.2.8", "pool": "central"}
    proc = run_cli("--registry", str(registry), "sipkd", "--json")
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report["ok"] is False and "deactivated" in report["error"]
    assert_valid(registry)


def test_command_usage_errors(registry):
    assert run_cli("--registry", str(registry), "dinkes", "--family", "5").returncode == 2
    assert run_cli("--registry", str(registry), "dinkes", "--count", "0").returncode == 2
    assert run_cli("--registry", "/nonexistent/registry", "dinkes").returncode == 2
    proc = run_cli("--registry", str(registry), "tidakada")
    assert proc.returncode == 2 and "no subdomain 'tidakada'" in proc.stderr
    proc = run_cli("--help")
    assert proc.returncode == 0 and "--dry-run" in proc.stdout and "--family" in proc.stdout


# --- concurrency ---------------------------------------------------------------------

def test_concurrent_allocations_never_collide(registry):
    names = ["paralel%d" % i for i in range(4)]
    for name in names:
        add_subdomain(registry, name, "    records:\n      - {type: TXT, value: \"v=spf1 -all\"}\n")
    expected = expected_free(registry, 4, count=len(names))
    procs = [subprocess.Popen([sys.executable, COMMAND, "--registry", str(registry), name],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for name in names]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    given = [out.split()[1] for out in outputs]
    assert len(set(given)) == len(given)
    assert sorted(given, key=ipaddress.ip_address) == expected
    for name, value in zip(names, given):
        assert {"type": "A", "value": value} in records_of(registry, name)
    assert_valid(registry)


def test_allocation_waits_for_the_lock(registry):
    before = read_bytes(registry)
    with open(domain_path(registry) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, COMMAND, "--registry", str(registry),
                                 "dinkes", "--name", "api"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        assert proc.poll() is None, "allocated while another process held the lock"
        assert read_bytes(registry) == before
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out == "allocated 192.0.2.8 to dinkes (A at api) from pool central\n"
