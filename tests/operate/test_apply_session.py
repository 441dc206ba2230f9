"""The callback plugin apply_session with real ansible-playbook runs.

A small playbook (playbooks/apply.yml) writes two files on a host that is the control
node under another name; the tests start it as real processes, together, killed, or
failing, and read the lock, the audit trail and the plan it leaves.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLAYBOOK = HERE / "playbooks" / "apply.yml"
INVENTORY = HERE / "playbooks" / "inventory.yml"
SECRET = "s3cret-value-that-must-never-be-written"
TIMEOUT = 300


def ansible_playbook():
    tool = Path(sys.executable).parent / "ansible-playbook"
    return str(tool) if tool.exists() else "ansible-playbook"


@pytest.fixture
def session(tmp_path):
    """Environment of one test: its own state, plan and output directories."""
    env = dict(os.environ, CITY_STATE_DIR=str(tmp_path / "state"), CITY_PLAN_DIR=str(tmp_path / "plan"),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", CITY_LOCK_WAIT="0")
    (tmp_path / "out").mkdir()
    return {"env": env, "tmp": tmp_path, "trail": tmp_path / "state" / "audit-trail.jsonl",
            "lock": tmp_path / "state" / "apply.lock", "plan": tmp_path / "plan"}


def command(session, *args, pause=0, playbook=PLAYBOOK):
    return [ansible_playbook(), "-i", str(INVENTORY), str(playbook), "-e", "out=%s" % (session["tmp"] / "out"),
            "-e", "pause_seconds=%d" % pause, "-e", "secret_value=%s" % SECRET, *args]


def run(session, *args, pause=0, operator="alice", **kwargs):
    env = dict(session["env"], CITY_OPERATOR=operator, **kwargs)
    return subprocess.run(command(session, *args, pause=pause), env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def start(session, *args, pause=0, operator="alice", **kwargs):
    env = dict(session["env"], CITY_OPERATOR=operator, **kwargs)
    return subprocess.Popen(command(session, *args, pause=pause), env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def trail(session):
    if not session["trail"].exists():
        return []
    return [json.loads(line) for line in session["trail"].read_text().splitlines()]


def wait_for(predicate, what, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail("gave up waiting for " + what)


def kill_apply(session):
    """SIGKILL the apply and its workers (Ansible's workers leave its process group)."""
    mark = ("out=%s" % (session["tmp"] / "out")).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark in (proc / "cmdline").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    assert pids, "no process of the apply found"
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not any(Path("/proc/%d" % pid).exists() and
                             b"Z" not in (Path("/proc/%d/stat" % pid).read_bytes().split(b") ")[1][:1])
                             for pid in pids), "the killed processes to be gone")


def test_apply_records_every_change_between_its_start_and_its_end(session):
    result = run(session, "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    records = trail(session)
    assert [r["event"] for r in records] == ["run-start", "change", "change", "run-end"]
    start_, first, second, end = records
    assert {r["run"] for r in records} == {start_["run"]}
    assert start_["operator"] == "alice" and start_["playbook"] == "tests/operate/playbooks/apply.yml"
    assert start_["commit"] and len(start_["commit"]) == 40, "the registry's git commit is recorded"
    assert (first["module"], first["host"], first["action"]) == ("copy", "target1", "change")
    assert "first" in first["after"], first
    assert end["status"] == "ok" and end["changes"] == 2
    assert SECRET not in session["trail"].read_text(), "a secret reached the trail"
    assert "password = ********" in first["after"]
    assert "Audit trail (%s, 2 change(s) recorded)" % start_["run"] in result.stderr, "said on stderr"
    assert session["lock"].read_text() == "", "a clean end leaves no holder behind"


def test_second_run_changes_nothing_and_says_so(session):
    assert run(session).returncode == 0
    again = run(session)
    assert again.returncode == 0
    runs = [r for r in trail(session) if r["event"] == "run-end"]
    assert [r["changes"] for r in runs] == [2, 0]


def test_check_mode_writes_the_plan_and_no_trail(session):
    result = run(session, "--check", "--diff")
    assert result.returncode == 0, result.stdout
    assert not session["trail"].exists() and not session["lock"].exists(), "a plan takes no lock, writes no trail"
    plan = json.loads((session["plan"] / "plan.json").read_text())
    assert [(c["module"], c["object"], c["action"]) for c in plan["changes"]] == [
        ("copy", "Operate | Write the first file", "change"), ("copy", "Operate | Write the second file", "change")]
    markdown = (session["plan"] / "plan.md").read_text()
    assert "## Server configuration" in markdown and "2 to change" in markdown
    assert SECRET not in markdown and SECRET not in (session["plan"] / "plan.json").read_text()
    assert run(session).returncode == 0
    run(session, "--check")
    empty = json.loads((session["plan"] / "plan.json").read_text())
    assert empty["empty"] and empty["changes"] == []
    assert "**No changes.**" in (session["plan"] / "plan.md").read_text()


def test_plan_lists_the_changes_the_apply_records(session):
    run(session, "--check", "--diff")
    planned = json.loads((session["plan"] / "plan.json").read_text())["changes"]
    assert run(session, "--diff").returncode == 0
    applied = [r for r in trail(session) if r["event"] == "change"]
    key = ("module", "host", "object", "action")
    assert [tuple(c[k] for k in key) for c in planned] == [tuple(r[k] for k in key) for r in applied]


def test_a_second_apply_fails_at_once_naming_the_holder(session):
    first = start(session, pause=8, operator="alice")
    try:
        wait_for(lambda: any(r["event"] == "change" for r in trail(session)), "the first apply's first change")
        second = run(session, operator="bob")
    finally:
        output, _ = first.communicate(timeout=TIMEOUT)
    assert second.returncode == 75, second.stdout + second.stderr
    holder = trail(session)[0]
    message = second.stdout + second.stderr
    for part in ("apply refused", holder["run"], "by alice", "pid %d" % first.pid, "apply.yml"):
        assert part in message, (part, message)
    assert first.returncode == 0, output
    assert [r["operator"] for r in trail(session) if r["event"] == "run-start"] == ["alice"], \
        "the refused apply recorded nothing"


def test_two_applies_started_together_never_interleave(session):
    runs = [start(session, pause=3, operator=name, CITY_LOCK_WAIT="120") for name in ("alice", "bob")]
    outputs = [p.communicate(timeout=TIMEOUT)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    assert any("waiting up to 120" in out for out in outputs), "one of them waited for the other"
    records = trail(session)
    order = [r["run"] for r in records]
    # Each run's records form one block: start, its changes, end, and only then the other run.
    blocks = [run_id for i, run_id in enumerate(order) if i == 0 or order[i - 1] != run_id]
    assert len(blocks) == 2 and len(set(blocks)) == 2, order
    for run_id in blocks:
        events = [r["event"] for r in records if r["run"] == run_id]
        assert events[0] == "run-start" and events[-1] == "run-end"
    assert [r["status"] for r in records if r["event"] == "run-end"] == ["ok", "ok"]


def test_a_killed_apply_is_detected_and_recorded_as_interrupted(session):
    killed = start(session, pause=60, operator="alice")
    try:
        wait_for(lambda: any(r["event"] == "change" for r in trail(session)), "the first change")
    finally:
        kill_apply(session)
        killed.communicate(timeout=TIMEOUT)
    holder = json.loads(session["lock"].read_text())
    assert holder["operator"] == "alice" and holder["pid"] == killed.pid, "the lock says who held it"
    assert not (session["tmp"] / "out" / "second.txt").exists()

    after = run(session, operator="bob")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "did not finish: recorded as interrupted" in after.stdout + after.stderr
    records = trail(session)
    ends = {r["run"]: r for r in records if r["event"] == "run-end"}
    starts = [r["run"] for r in records if r["event"] == "run-start"]
    assert ends[starts[0]]["status"] == "interrupted" and ends[starts[0]]["detected_by"] == starts[1]
    assert ends[starts[1]]["status"] == "ok"
    assert (session["tmp"] / "out" / "second.txt").exists(), "the next apply converged"
    assert run(session).returncode == 0
    assert sum(1 for r in trail(session) if r.get("status") == "interrupted") == 1, "recorded once"


def test_a_failed_apply_is_recorded_as_failed(session):
    os.chmod(session["tmp"] / "out", 0o500)
    try:
        if os.access(session["tmp"] / "out", os.W_OK):  # root writes anyway: use a file as the directory
            os.chmod(session["tmp"] / "out", 0o700)
            os.rmdir(session["tmp"] / "out")
            (session["tmp"] / "out").write_text("not a directory")
        result = run(session)
    finally:
        if (session["tmp"] / "out").is_dir():
            os.chmod(session["tmp"] / "out", 0o700)
    assert result.returncode != 0
    end = trail(session)[-1]
    assert end["event"] == "run-end" and end["status"] == "failed"
    assert end["errors"] and end["errors"][0]["task"] == "Operate | Write the first file"
    assert session["lock"].read_text() == ""


def test_an_apply_that_cannot_be_recorded_does_not_start(session):
    blocker = session["tmp"] / "not-a-directory"
    blocker.write_text("a file where the state directory should be")
    result = run(session, CITY_STATE_DIR=str(blocker / "state"))
    assert result.returncode == 73, result.stdout + result.stderr
    assert "apply refused: the apply lock and audit trail cannot be set up" in result.stdout + result.stderr
    assert not (session["tmp"] / "out" / "first.txt").exists(), "nothing ran unrecorded"
    planned = run(session, "--check", CITY_STATE_DIR=str(blocker / "state"))
    assert planned.returncode == 0, "a plan needs neither the lock nor the trail"
