"""The SIM PIN never shows: the health check's failure message, the daemons' logs, the trail.

The real gammu-smsd (dummy driver) runs on the role's own rendered smsdrc with a PIN; the
health check's own tasks (roles/sms_gateway/tasks/health.yml, read from the file) run with
ansible-playbook against it; the role's own debug-level check (tasks/main.yml) decides
which levels may run with a PIN.
"""
import json
import os
import subprocess

import yaml

from role_smsd import ROLE, RoleSmsd, render_role, run_playbook

from ansible.module_utils.city.operate.masking import mask_pins

# 8 digits: a time stamp or a process id cannot hold it by chance, so finding it means a leak.
PIN = "80917263"
SHORT_PIN = "4321"  # the example, on a second modem


def role_tasks(name):
    with open(os.path.join(ROLE, "tasks", name), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def vars_files(out):
    return [os.path.join(ROLE, "defaults", "main.yml"), os.path.join(ROLE, "vars", "main.yml"),
            os.path.join(str(out), "vars.yml")]


def everything_written(out):
    """The text of every file the playbooks' callback wrote (audit trail, plan)."""
    texts = []
    for sub in ("state", "plan"):
        for base, _dirs, files in os.walk(os.path.join(str(out), sub)):
            for name in files:
                with open(os.path.join(base, name), "rb") as fh:
                    texts.append(fh.read().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_the_pin_is_in_no_output_of_a_failed_health_check_at_the_highest_debug_level(tmp_path):
    """DebugLevel 255 (which the role refuses with a PIN, next test): gammu-smsd-monitor
    prints the PINs; the health check's failure message shows its output without them."""
    out = tmp_path / "gw"
    render_role(out, ("modem1", "modem2"), {"modem1": PIN, "modem2": SHORT_PIN}, debug_level=255,
                sms_gateway__user="root", sms_gateway__health_retries=1, sms_gateway__health_delay=0)
    daemons = [RoleSmsd(out, p).start() for p in ("modem1", "modem2")]
    try:
        raw = subprocess.run(["gammu-smsd-monitor", "--config", str(out / "etc" / "modem1.smsdrc"), "--loops", "1",
                              "--delay", "0"], capture_output=True, text=True, timeout=60, check=False)
        assert PIN in raw.stdout + raw.stderr, "precondition: at this level the monitor prints the PIN"
        active, *rest = role_tasks("health.yml")
        assert "gammu-smsd-monitor" in str(rest[0]) and "fail_msg" in rest[-1]["ansible.builtin.assert"]
        # No systemd here: the first task (systemctl is-active) is replaced by one that finds
        # the daemons inactive, so the role's last task fails and prints its message.
        stand_in = {"name": active["name"], "loop": active["loop"], "register": active["register"],
                    "changed_when": False, "ansible.builtin.command": {"argv": ["echo", "failed"]}}
        play = {"hosts": "localhost", "gather_facts": False, "vars_files": vars_files(out),
                "tasks": [stand_in] + rest}
        for extra in ([], ["-vvv"]):
            proc = run_playbook(str(out), "health.yml", [play], extra)
            shown = proc.stdout + proc.stderr
            assert proc.returncode != 0 and "gammu-smsd-monitor (rc 0)" in shown, shown[-3000:]
            assert "PhoneID: modem1" in shown, "the monitor's output is shown"
            assert PIN not in shown and SHORT_PIN not in shown, [l for l in shown.splitlines() if PIN in l
                                                                  or SHORT_PIN in l][:5]
        assert PIN not in everything_written(out) and SHORT_PIN not in everything_written(out), "trail, plan"
        # The same output through the toolkit's masking (trail, plan): by value and by shape.
        masked = mask_pins(raw.stdout + raw.stderr, [PIN, SHORT_PIN])
        assert PIN not in masked and 'PIN code is "********"' in masked
    finally:
        for daemon in daemons:
            daemon.stop()
    with open(daemons[0].logfile, encoding="utf-8", errors="replace") as fh:
        assert 'PIN code is "%s"' % PIN in fh.read(), "gammu logs it at this level: the role refuses it"


def test_the_role_refuses_every_debug_level_that_logs_the_pin(tmp_path):
    check = next(t for t in role_tasks("main.yml") if "debug level" in t["name"])
    cases = [(level, pins) for level in (0, 1, 2, 4, 5, 8, 250, 255) for pins in ({"modem1": PIN}, {})]
    out = tmp_path / "check"
    render_role(out)  # the role's vars for one modem
    # The PINs stay in a vars file: a failed task's error shows the playbook's lines around it.
    (out / "cases.yml").write_text(yaml.safe_dump({"case_pins": [pins for _level, pins in cases],
                                                   "case_levels": [level for level, _pins in cases]}))
    task = dict(check, ignore_errors=True, register="r", loop="{{ range(case_levels | length) | list }}",
                vars={"sms_gateway__debug_level": "{{ case_levels[item] }}",
                      "sms_gateway__sim_pins": "{{ case_pins[item] }}"})
    plays = [{"hosts": "localhost", "gather_facts": False, "vars_files": vars_files(out) + [str(out / "cases.yml")],
              "tasks": [task, {"ansible.builtin.copy": {
                  "content": "{{ r.results | map(attribute='failed', default=false) | list | to_json }}",
                  "dest": str(out / "refused.json"), "mode": "0600"}}]}]
    proc = run_playbook(str(out), "check.yml", plays)
    assert proc.returncode == 0, proc.stdout[-3000:]
    failed = json.loads((out / "refused.json").read_text())
    refused = {(level, bool(pins)) for (level, pins), no in zip(cases, failed) if no}
    assert refused == {(1, True), (4, True), (5, True), (255, True)}
    assert PIN not in proc.stdout


def test_the_daemon_logs_no_pin_at_the_highest_level_the_role_accepts(tmp_path):
    """250 = every bit but 1 and 4; the log file is the daemon's user's, group-readable only."""
    out = tmp_path / "gw"
    render_role(out, ("modem1",), {"modem1": PIN}, debug_level=250)
    daemon = RoleSmsd(out, "modem1")
    old = os.umask(0o027)  # the unit's UMask
    try:
        daemon.start()
    finally:
        os.umask(old)
    try:
        daemon.drop("+6281234567890", "TANYA apakah PIN tercatat?")
        assert daemon.wait_until(lambda: "Process finished" in daemon.read_log(), 30), daemon.read_log()[-2000:]
    finally:
        daemon.stop()
    text = daemon.read_log()
    assert "Starting phone communication" in text and PIN not in text and "PIN code is" not in text
    assert oct(os.stat(daemon.logfile).st_mode & 0o777) == "0o640"
