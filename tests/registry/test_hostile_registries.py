"""Validation holds against what a merge request can contain (issue 12, item 1 and 4).

Each hostile registry is validated in a child process under a limit of address space
and of time, as CI would run it on an unreviewed merge request: it must be rejected
with file:line, rule, article and fix, quickly and within bounded memory, and no
message may embed an unbounded value.
"""
import json
import os
import resource
import subprocess
import sys
import textwrap

import pytest

from paths import LAB_INVENTORY, ROOT, SCHEMAS
from mutate import Edit, line_of

CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, %(bench)r)
    from bench_common import use_toolkit
    use_toolkit()
    from ansible.module_utils.city.sms import trust
    from ansible.module_utils.city.registry.validate import validate
    limits = json.loads(sys.argv[3]) or None
    root = trust.load_root(sys.argv[2])
    def hwm_kb():
        # The peak resident size of this process: /proc's VmHWM starts afresh at exec,
        # where getrusage's ru_maxrss keeps the forking parent's.
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    before = hwm_kb()
    start = time.perf_counter()
    result = validate(sys.argv[1], %(schemas)r, display_root=sys.argv[1], approval_root=root,
                      limits=limits)
    seconds = time.perf_counter() - start
    after = hwm_kb()
    print(json.dumps({"ok": result.ok, "seconds": seconds, "grown_kb": after - before,
                      "findings": [f.as_dict() for f in result.findings]}))
""") % {"bench": os.path.join(ROOT, "bench"), "schemas": SCHEMAS}

MEMORY_LIMIT = 1 << 30   # address space of the child: far below what the bombs would need
TIME_LIMIT = 60          # seconds; each case takes well under one


def validate_limited(registry, limits=None):
    def confine():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(registry), LAB_INVENTORY,
                           json.dumps(limits or {})], capture_output=True, text=True,
                          timeout=TIME_LIMIT, preexec_fn=confine, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]
    return json.loads(proc.stdout)


def errors_of(outcome, rule=None, file=None):
    return [f for f in outcome["findings"] if f["severity"] == "error"
            and (rule is None or f["rule"] == rule) and (file is None or f["file"] == file)]


def assert_rejected(outcome, rule, file, line=None):
    assert not outcome["ok"], "a hostile registry validated"
    found = errors_of(outcome, rule, file)
    assert found, "no %s in %s; got %s" % (rule, file, [(f["rule"], f["file"], f["message"])
                                                      for f in outcome["findings"]])
    for finding in outcome["findings"]:
        assert len(finding["message"]) < 400, finding["message"][:400]
        assert len(finding["fix"]) < 600, finding["fix"][:600]
        assert finding["article"]
    if line is not None:
        assert line in {f["line"] for f in found}, found
    assert all(f["fix"] for f in found)
    return found


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "wb") as fh:
        fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))


def alias_bomb(levels=40, width=30):
    lines = ['  l0: &l0 ["%s"]' % '", "'.join(["lol"] * width)]
    for level in range(1, levels):
        lines.append("  l%d: &l%d [%s]" % (level, level, ", ".join(["*l%d" % (level - 1)] * width)))
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_its_alias_in_bounded_time_and_memory(registry):
    bomb = alias_bomb()
    text = (registry / "agencies.yml").read_text(encoding="utf-8")
    (registry / "agencies.yml").write_text(text + "bomb:\n" + bomb, encoding="utf-8")
    assert len(bomb) < 8000
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-LIMIT", "agencies.yml")
    assert "alias" in found[0]["message"]
    assert outcome["seconds"] < 2 and outcome["grown_kb"] < 100 * 1024, outcome


def test_a_few_aliases_are_data_and_merge_keys_are_not_duplicates(registry):
    Edit("sms.yml", "groups:\n", "x-defaults: &group\n  description: Grup\ngroups:\n").apply(
        registry)
    outcome = validate_limited(registry)
    assert not errors_of(outcome, "REG-DUPLICATE-KEY")
    assert not errors_of(outcome, "REG-LIMIT")
    # The merge itself: the data the rules see holds the merged key.
    from ansible.module_utils.city.registry.loader import load_file
    path = registry / "m.yml"
    write(path, "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n")
    loaded = load_file(str(path))
    assert loaded.data["m"] == {"x": 3, "y": 2} and not loaded.duplicate_keys


@pytest.mark.parametrize("depth, style", [(20000, "flow"), (200, "block")])
def test_deep_nesting_is_refused_not_a_traceback(registry, depth, style):
    if style == "flow":
        nested = "[" * depth + "]" * depth
        Edit("sms.yml", "description: Staf Ahli Wali Kota",
             "description: " + nested).apply(registry)
    else:
        nested = "".join("\n" + "  " * (i + 3) + "k%d:" % i for i in range(depth)) + " x"
        Edit("sms.yml", "description: Staf Ahli Wali Kota", "description:" + nested).apply(
            registry)
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-LIMIT", "sms.yml")
    assert "levels" in found[0]["message"]
    assert found[0]["line"] >= line_of(registry, "sms.yml", "description: " if style == "flow"
                                       else "description:\n", 1) - 40


def test_a_blast_linked_to_dev_zero_is_refused_without_reading_it(registry):
    os.symlink("/dev/zero", str(registry / "blasts" / "2026-12-900.yml"))
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-FILE", "blasts/2026-12-900.yml")
    assert "symbolic link" in found[0]["message"]


def test_a_symlink_loop_and_a_link_out_of_the_registry_are_refused(registry, tmp_path):
    os.symlink("loop.yml", str(registry / "loop.yml"))
    os.symlink(str(registry / "blasts"), str(registry / "blasts" / "again"))
    outside = tmp_path / "outside.yml"
    outside.write_text((registry / "people.yml").read_text(encoding="utf-8"), encoding="utf-8")
    os.remove(str(registry / "people.yml"))
    os.symlink(str(outside), str(registry / "people.yml"))
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-FILE", "loop.yml")
    assert_rejected(outcome, "REG-FILE", "blasts/again")
    assert_rejected(outcome, "REG-FILE", "people.yml")
    # people.yml was not read: its absence is reported once, not every reference into it.
    assert len(outcome["findings"]) < 10, [(f["rule"], f["file"]) for f in outcome["findings"]]


def test_a_fifo_is_refused_without_waiting_on_it(registry):
    os.mkfifo(str(registry / "blasts" / "2026-12-901.yml"))
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-FILE", "blasts/2026-12-901.yml")


@pytest.mark.parametrize("relname", ["blasts/2026/2026-12-902.yml", "blasts/archive/old/x.yaml",
                                     "extra/people.yml"])
def test_a_yaml_file_anywhere_else_is_refused(registry, relname):
    archived = (registry / "blasts" / "archive" / "2026-11-001.yml").read_text(encoding="utf-8")
    write(registry / relname, archived)
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-UNKNOWN-FILE", relname)
    if relname.startswith("blasts/"):
        assert "never be checked or sent" in found[0]["message"]


def test_a_file_of_another_kind_is_refused(registry):
    write(registry / "README.md", "# notes\n")
    assert_rejected(validate_limited(registry), "REG-UNKNOWN-FILE", "README.md")


def test_size_and_count_limits_are_the_inventorys_not_the_registrys(registry):
    for index in range(5):
        write(registry / "blasts" / "archive" / ("2026-01-%03d.yml" % index), "blast: {}\n")
    outcome = validate_limited(registry, {"max_files": 10, "max_file_bytes": 20000})
    assert_rejected(outcome, "REG-LIMIT", "people.yml")  # larger than 20,000 bytes
    found = errors_of(outcome, "REG-LIMIT")
    assert any("more than 10 files" in f["message"] for f in found), found


def test_a_huge_file_is_refused_before_it_is_read(registry):
    with open(str(registry / "mail.yml"), "ab") as fh:
        fh.truncate(70 * 1024 * 1024)  # sparse: 70 MB of NUL past the default limit
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-LIMIT", "mail.yml")
    assert "at most" in found[0]["message"]
    assert outcome["grown_kb"] < 50 * 1024


@pytest.mark.parametrize("raw, what", [(b"\x00", "NUL"), (b"\x1b[2J", "ESC"),
                                       (b"\xc2\x85\xc2\x9b", "control")])
def test_a_control_character_is_reported_at_its_own_line(registry, raw, what):
    text = (registry / "sms.yml").read_bytes()
    needle = b"description: Staf Ahli Wali Kota"
    write(registry / "sms.yml", text.replace(needle, needle + raw, 1))
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-YAML", "sms.yml",
                            line=line_of(registry, "sms.yml", "Staf Ahli Wali Kota"))
    assert what in found[0]["message"] or "U+" in found[0]["message"]


def test_an_escaped_nul_in_a_quoted_value_is_refused_at_its_line(registry):
    Edit("sms.yml", "description: Staf Ahli Wali Kota",
         'description: "Staf Ahli\\0Wali Kota"').apply(registry)
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-YAML", "sms.yml",
                    line=line_of(registry, "sms.yml", "Staf Ahli\\0"))


@pytest.mark.parametrize("value, rule", [("!!python/object:os.system {}", "REG-YAML"),
                                         ("!!str 5", "REG-YAML")])
def test_tags_are_refused(registry, value, rule):
    Edit("sms.yml", "description: Staf Ahli Wali Kota", "description: " + value).apply(registry)
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, rule, "sms.yml",
                            line=line_of(registry, "sms.yml", "description: !!"))
    assert "tag" in found[0]["message"]


def test_a_second_document_is_refused_where_it_starts(registry):
    Edit("sms.yml", None, "---\nextra: 1\n").apply(registry)
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-YAML", "sms.yml", line=line_of(registry, "sms.yml", "extra: 1"))


def test_yaml_11_booleans_stay_text_and_the_schema_says_what_it_expects(registry):
    from ansible.module_utils.city.registry.loader import load_file
    path = registry / "x.yml"
    write(path, "a: yes\nb: on\nc: ~\nd: 0777\ne: 1_000\nf: true\ng: 12\nh: 1.5\ni: null\n")
    assert load_file(str(path)).data == {"a": "yes", "b": "on", "c": "~", "d": "0777",
                                         "e": "1_000", "f": True, "g": 12, "h": 1.5, "i": None}


def test_a_duplicate_key_is_reported_at_the_second_one(registry):
    Edit("sms.yml", "  - name: staf-ahli\n", "  - name: staf-ahli\n    name: staf-ahli2\n").apply(
        registry)
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-DUPLICATE-KEY", "sms.yml",
                    line=line_of(registry, "sms.yml", "name: staf-ahli2"))


def test_a_list_shaped_file_is_one_error_not_hundreds(registry):
    text = (registry / "people.yml").read_text(encoding="utf-8")
    body = text.split("people:\n", 1)[1]
    write(registry / "people.yml", text.split("people:\n", 1)[0] + body.replace("\n  ", "\n"))
    outcome = validate_limited(registry)
    found = assert_rejected(outcome, "REG-TYPE", "people.yml")
    assert "a list of" in found[0]["message"] and "people:" in found[0]["fix"]
    assert len(errors_of(outcome)) == 1, [(f["rule"], f["file"], f["message"][:80])
                                          for f in errors_of(outcome)]


def test_a_long_value_is_never_repeated_whole_in_a_message(registry):
    huge = "x" * 1000000
    Edit("sms.yml", "sender_id: PEMKOBKS", "sender_id: " + huge).apply(registry)
    Edit("people.yml", 'id: "196905221997011002"', 'id: "%s"' % huge).apply(registry)
    outcome = validate_limited(registry)
    assert not outcome["ok"]
    for finding in outcome["findings"]:
        assert len(finding["message"]) < 400 and len(finding["fix"]) < 600


def test_a_plain_number_with_a_plus_is_located(registry):
    Edit("city.yml", "max_segments: 3", "max_segments: +3").apply(registry)
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-YAML", "city.yml",
                    line=line_of(registry, "city.yml", "max_segments: +3"))


PARITY = ["a: yes\nb: on\nc: ~\nd: 0777\ne: 1_000\nf: true\ng: 12\nh: 1.5\ni: null\nj:\n",
          "k: .5\nl: 5.\nm: -0\nn: 3e5\no: 1.5e-3\np: '08'\nq: 007\nr: 1:30\ns: 0x1F\nt: -.5\n",
          'u: "quoted \\t tab"\nv: |\n  lit\n  eral\nw: >-\n  folded\n  text\nx: [1, two, "3"]\n',
          "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\nlist: [*b, *b]\n",
          "- a\n- b: [c, {d: e}]\n", "just text\n", "", "# only a comment\n", "---\na: 1\n",
          "date: 2026-12-03\ntime: 2026-12-03T10:00:00+07:00\nnip: 198108022010041003\n",
          "vault: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", "'1': one\n2: two\n",
          "phone: +62 859-3417-688\nplus: +\nsign: +-1\nunder: +1_0\n",
          "anchored: &a +62 812-1000-0001\nagain: *a\n"]


@pytest.mark.parametrize("text", PARITY)
def test_both_readers_give_the_same_data(tmp_path, text):
    """The gateway reads a blast with PyYAML (Debian's python3-yaml, no rapidyaml): in
    the registry's dialect, the data is the validator's."""
    from ansible.module_utils.city.registry import loader
    from ansible.module_utils.city.registry import yaml_json
    from ansible.module_utils.city.registry.limits import DEFAULT_LIMITS
    path = tmp_path / "f.yml"
    write(path, text)
    fast = loader.load_file(str(path))
    slow = yaml_json.load(text, str(path), "f.yml", DEFAULT_LIMITS)
    assert fast.data == slow.data
    assert type(fast.data) is type(slow.data)
    assert fast.duplicate_keys == slow.duplicate_keys


@pytest.mark.parametrize("text, rule", [
    ("bomb:\n" + alias_bomb(), "REG-LIMIT"), ("a: " + "[" * 100 + "]" * 100 + "\n", "REG-LIMIT"),
    ("a: !!python/object:os.system {}\n", "REG-YAML"), ("a: !!str 5\n", "REG-YAML"),
    ("a: +5\n", "REG-YAML"), ("phone: +6281234\n", "REG-YAML"), ("a: +0x1\n", "REG-YAML"),
    ("x: &a 1\nphone: +1.5\n", "REG-YAML"), ("a: 1\n---\nb: 2\n", "REG-YAML")])
def test_both_readers_refuse_the_same_hostile_input(tmp_path, monkeypatch, text, rule):
    from ansible.module_utils.city.registry import loader
    path = tmp_path / "f.yml"
    write(path, text)
    with pytest.raises(loader.LoadError) as fast:
        loader.load_file(str(path))
    monkeypatch.setattr(loader, "ryml", None)
    with pytest.raises(loader.LoadError) as slow:
        loader.load_file(str(path))
    assert fast.value.rule == slow.value.rule == rule
    # (a second document: rapidyaml names its first line, PyYAML its '---')
    assert abs(fast.value.line - slow.value.line) <= 1 or rule == "REG-LIMIT"


def test_a_duplicate_key_is_found_by_both_readers(tmp_path, monkeypatch):
    from ansible.module_utils.city.registry import loader
    path = tmp_path / "f.yml"
    write(path, "a: 1\nb: 2\na: 3\n")
    fast = loader.load_file(str(path))
    monkeypatch.setattr(loader, "ryml", None)
    slow = loader.load_file(str(path))
    assert fast.duplicate_keys == slow.duplicate_keys == [("a", loader.Mark(2, 0))]
    assert fast.data == slow.data == {"a": 3, "b": 2}


def test_a_secret_in_a_file_that_does_not_parse_is_found_at_once(registry):
    Edit("sms.yml", "groups:\n", "# password: Dinkes2026\ngroups: [\n").apply(registry)
    outcome = validate_limited(registry)
    assert_rejected(outcome, "REG-YAML", "sms.yml")
    assert_rejected(outcome, "E6-SECRET", "sms.yml", line=line_of(registry, "sms.yml", "# password"))
