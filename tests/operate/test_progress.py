"""Progress of long work: module_utils/city/service/progress.py and the callback city_progress.

The unit tests read the files a Progress writes and the lines the plugin's watcher makes
of them. The end-to-end tests run ansible-playbook: the real mail_accounts module
(delegated to localhost, as playbooks/mail.yml runs it) applies a generated registry to
the role's slapd, hashing with an argon2 cost that makes the apply last seconds; the
output must show progress lines while it ran and the accounts must be in the directory.
"""
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.city.service import progress as progress_module
from ansible.module_utils.city.service.progress import ENV, Progress
from paths import EXAMPLE
from role_servers import RoleSlapd, directory_rendered

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INVENTORY = HERE / "playbooks" / "inventory.yml"
TIMEOUT = 600
# Dearer than the tests' usual argon2, far below the role's: slapd's hashing, not the
# client, sets the pace, so the apply lasts seconds on a fast machine too.
ARGON2 = "m=4096 t=2 p=1"
ACCOUNTS = 800
INTERVAL = "0.5"
PROGRESS_LINE = re.compile(r"^  (?P<what>[^:]+): (?P<done>[\d,]+) of (?P<total>[\d,]+)(?: \w+)? \((?P<pct>\d+)%\)"
                           r", (?P<rate>[\d.,]+/(?:s|min)), about (?P<left>.+) left$")

sys.path.insert(0, str(ROOT / "bench"))
from generate_registry import generate  # noqa: E402


def _plugin():
    path = ROOT / "callback_plugins" / "city_progress.py"
    spec = importlib.util.spec_from_file_location("city_progress_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = _plugin()


def wait_for(predicate, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def files(folder):
    return sorted(p for p in Path(folder).iterdir())


# -- Progress ---------------------------------------------------------------------------
def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with Progress("mail accounts", 100) as progress:
        for _ in range(100):
            progress.advance()
        assert progress.path is None
    assert files(tmp_path) == []


def test_the_file_holds_counts_and_a_label_only_and_goes_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    before = time.time()
    with Progress("mail accounts", 20000, unit="changes"):
        [path] = files(tmp_path)
        assert re.fullmatch(r"%d-\d+\.json" % os.getpid(), path.name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        state = json.loads(path.read_text())
        assert state == {"what": "mail accounts", "unit": "changes", "done": 0, "total": 20000,
                         "started": state["started"], "updated": state["updated"], "pid": os.getpid()}
        assert before <= state["started"] <= state["updated"] <= time.time()
        with Progress("DNS record sets", 5) as other:  # a second one in the same process: its own file
            assert len(files(tmp_path)) == 2
            other.advance(5)
        assert files(tmp_path) == [path]
    assert files(tmp_path) == []


def test_many_threads_count_exactly_and_the_file_is_written_at_most_twice_a_second(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    writes = []
    real_write = progress_module.fsutil.atomic_write

    def counting_write(*args, **kwargs):
        writes.append(time.monotonic())
        return real_write(*args, **kwargs)

    monkeypatch.setattr(progress_module.fsutil, "atomic_write", counting_write)
    start = time.monotonic()
    with Progress("mail accounts", 8 * 5000) as progress:
        path = progress.path

        def work():
            for _ in range(5000):
                progress.advance()
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        elapsed = time.monotonic() - start
        assert progress.done == 8 * 5000
        # The first write at the start, then one per MIN_INTERVAL at most.
        assert len(writes) <= 2 + elapsed / progress_module.MIN_INTERVAL, (len(writes), elapsed)
        time.sleep(progress_module.MIN_INTERVAL + 0.05)
        progress.advance(0)
        assert json.loads(Path(path).read_text())["done"] == 8 * 5000
        assert all(b - a >= progress_module.MIN_INTERVAL - 0.01 for a, b in zip(writes, writes[1:]))


def test_a_directory_that_went_away_stops_the_reporting_not_the_work(tmp_path, monkeypatch):
    folder = tmp_path / "progress"
    folder.mkdir()
    monkeypatch.setenv(ENV, str(folder))
    with Progress("mail accounts", 10) as progress:
        for path in files(folder):
            path.unlink()
        folder.rmdir()
        time.sleep(progress_module.MIN_INTERVAL + 0.05)
        progress.advance()
        assert progress.path is None and not folder.exists()


# -- the plugin's lines -------------------------------------------------------------------
def test_a_line_says_done_of_total_rate_and_time_left():
    state = {"what": "mail accounts", "unit": "", "done": 4000, "total": 20000}
    assert plugin.line(state, 22.2) == "  mail accounts: 4,000 of 20,000 (20%), 22/s, about 12 min left"
    state = dict(state, unit="changes", done=19990)
    assert plugin.line(state, 2.5) == "  mail accounts: 19,990 of 20,000 changes (99%), 2.5/s, about 4 s left"
    assert plugin.line(dict(state, done=0), 0) == "  mail accounts: 0 of 20,000 changes (0%), starting"
    assert plugin.duration(3 * 3600 + 300) == "3 h 5 min"
    assert PROGRESS_LINE.match(plugin.line(state, 0.5))


def test_the_watcher_prints_running_work_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    shown = []
    watcher = plugin.Watcher(str(tmp_path), 0.2, shown.append).start()
    try:
        time.sleep(0.5)
        assert shown == []  # no work reports progress: no line
        # A file left by a process that is gone (killed before its close) is not shown, and removed.
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, timeout=30, check=True)
        stale = tmp_path / ("%s-1.json" % dead.stdout.strip())
        stale.write_text(json.dumps({"what": "old", "done": 1, "total": 2, "started": 0, "updated": 0,
                                     "pid": int(dead.stdout)}))
        (tmp_path / "garbage.json").write_text("{not json")
        with Progress("mail accounts", 1000, unit="changes") as progress:
            for _ in range(20):
                progress.advance(10)
                time.sleep(0.03)
            assert wait_for(lambda: any("of 1,000 changes" in s for s in shown))
        assert not stale.exists()
        count = len(shown)
        time.sleep(0.6)
        assert len(shown) == count  # the work ended: no more lines
    finally:
        watcher.stop()
    assert not watcher.thread.is_alive()
    assert shown and all(PROGRESS_LINE.match(s) or s.endswith("starting") for s in shown), shown
    assert not any("old" in s for s in shown)


# -- ansible-playbook ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    server = RoleSlapd(directory_rendered(), workdir=tmp_path_factory.mktemp("progress-slapd"),
                       argon2_parameters=ARGON2).start()
    yield server
    server.stop()


def playbook_env(tmp_path):
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CITY_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", CITY_STATE_DIR=str(tmp_path / "state"),
               CITY_PLAN_DIR=str(tmp_path / "plan"), CITY_PROGRESS_INTERVAL=INTERVAL, TMPDIR=str(tmp_path / "tmp"))
    return env


def run_playbook(tmp_path, plays, *args):
    """Run ``plays`` (a list) with ansible-playbook; (exit status, output of both streams in order)."""
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(INVENTORY), str(path),
                           *args], cwd=ROOT, env=playbook_env(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT, check=False)
    # The plugin removed its directory at the end.
    assert list((tmp_path / "tmp").glob("city-progress-*")) == []
    return proc.returncode, proc.stdout


def sections(output):
    """{task name: the lines between its banner and the next one}."""
    found, name = {}, None
    for text in output.splitlines():
        banner = re.match(r"^TASK \[(.*)\] \**$", text)
        if banner or text.startswith(("PLAY RECAP", "PLAY [")):
            name = banner.group(1) if banner else None
            continue
        if name is not None:
            found.setdefault(name, []).append(text)
    return found


def accounts_on_server(slapd):
    proc = slapd.ldap_tool("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", slapd.base, "-s", "one",
                           "(objectClass=inetOrgPerson)", "mail")
    return {line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("mail: ")}


def test_a_long_mail_apply_shows_its_progress_and_the_accounts_exist(slapd, tmp_path):
    registry = tmp_path / "registry"
    generate(EXAMPLE, str(registry), accounts=ACCOUNTS, subdomains=0, sms_users=0)
    with open(registry / "mail.yml", encoding="utf-8") as fh:
        active = {a["address"] for a in yaml.safe_load(fh)["accounts"] if a["status"] == "active"}
    args = {"registry_dir": str(registry), **slapd.connection_args(), "handover_dir": str(tmp_path / "handover"),
            "archive_dir": str(tmp_path / "archive")}
    plays = [{"name": "Progress", "hosts": "target1", "gather_facts": False, "tasks": [
        {"name": "Something long without progress", "ansible.builtin.command": {"argv": ["sleep", "2"]},
         "changed_when": False},
        {"name": "Apply the mail accounts", "mail_accounts": args, "delegate_to": "localhost",
         "register": "applied"},
        {"name": "Save the result", "ansible.builtin.copy": {
            "content": "{{ applied | to_json }}", "dest": str(tmp_path / "result.json"), "mode": "0600"},
         "delegate_to": "localhost"}]}]
    status, output = run_playbook(tmp_path, plays, "--forks", "5")
    assert status == 0, output[-4000:]
    result = json.loads((tmp_path / "result.json").read_text())
    creates = result["plan"]["create"]
    assert creates > ACCOUNTS / 2
    parts = sections(output)
    lines = [m for m in map(PROGRESS_LINE.match, parts["Apply the mail accounts"]) if m]
    assert lines, output[-4000:]
    assert {m["what"] for m in lines} == {"mail accounts"}
    assert {m["total"].replace(",", "") for m in lines} == {str(creates)}
    assert all(0 <= int(m["done"].replace(",", "")) <= creates for m in lines)
    # Tasks that report no progress print none, even a long one.
    assert not any("of " in s and "%)" in s for s in parts["Something long without progress"])
    assert not any(PROGRESS_LINE.match(s) for s in parts["Save the result"])
    # The apply really happened: every active account of the registry is in the directory.
    assert active <= accounts_on_server(slapd)
    # The lines hold counts only: no address, no password of the hand-over.
    assert not any("@" in m.group(0) for m in lines)


WORKER = """
import sys, time
from ansible.module_utils.city.service.progress import Progress
with Progress("work of " + sys.argv[1], 40, unit="steps") as progress:
    for _ in range(40):
        time.sleep(0.06)
        progress.advance()
"""


def test_several_forks_each_report_their_own_progress(tmp_path):
    inventory = tmp_path / "two.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"node1": host, "node2": host}}}))
    plays = [{"name": "Two at once", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Work on both",
         "ansible.builtin.command": {"argv": [sys.executable, "-c", WORKER, "{{ inventory_hostname }}"]},
         "changed_when": False}]}]
    path = tmp_path / "playbook.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(path),
                           "--forks", "2"], cwd=ROOT, env=playbook_env(tmp_path), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert list((tmp_path / "tmp").glob("city-progress-*")) == []
    lines = [m for m in map(PROGRESS_LINE.match, sections(proc.stdout)["Work on both"]) if m]
    # Two worker processes at once, each with a file of its own: both are shown.
    assert {m["what"] for m in lines} == {"work of node1", "work of node2"}, proc.stdout[-4000:]
