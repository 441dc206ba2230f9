"""gammu-smsd configured by the role sms_gateway itself, for the inbox and PIN tests.

``render_role`` runs ansible-playbook on localhost with the role's own defaults and vars
and the real ``template`` action over the role's templates (smsdrc.j2, the daemons'
unit, the sweep's unit and command), every path of the contract moved under one test
directory and the dummy driver. ``RoleSmsd`` runs the real gammu-smsd on the rendered
configuration, with the role's RunOnReceive (the system's python3 and the role's
router, copied to the rendered lib dir) and the unit's ExecStartPre rescue.
Import explicitly (conftest.py belongs to another module's tests).
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import yaml

from paths import ROOT
from server_process import ServerProcess

ROLE = os.path.join(ROOT, "roles", "sms_gateway")
ROUTER_SRC = os.path.join(ROLE, "files", "sms_router.py")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
DIRS = {"config_dir": "etc", "spool_dir": "spool", "data_dir": "data", "log_dir": "log", "lib_dir": "lib"}


def ansible_env(out):
    """ansible-playbook's environment: the project's configuration, this test's state dirs."""
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                CITY_STATE_DIR=os.path.join(out, "state"), CITY_PLAN_DIR=os.path.join(out, "plan"))


def run_playbook(out, name, plays, extra_args=()):
    path = os.path.join(out, name)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(plays, fh, sort_keys=False)
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", path] + list(extra_args),
                          cwd=ROOT, env=ansible_env(out), capture_output=True, text=True, timeout=300,
                          check=False)


def role_vars(out, phone_ids, pins, debug_level=0, **extra):
    """The inventory's side of the role for a test gateway under ``out``."""
    variables = {"sms_gateway__" + key: os.path.join(out, sub) for key, sub in DIRS.items()}
    variables.update({
        "sms_gateway__driver": "dummy",
        "sms_gateway__modems": [{"phone_id": p, "usb": {"vendor": "12d1", "product": "1001", "serial": "T" + p},
                                 "connection": "at", "smsc": "+6281100000"} for p in phone_ids],
        "sms_gateway__sim_pins": dict(pins),
        "sms_gateway__debug_level": debug_level,
        "sms_gateway__commtimeout": 1, "sms_gateway__sendtimeout": 5, "sms_gateway__loopsleep": 1,
        "sms_gateway__receive_frequency": 1, "sms_gateway__status_frequency": 1,
        "sms_gateway__rate_per_minute": 60, "ansible_python_interpreter": sys.executable,
    })
    variables.update(extra)
    return variables


def render_role(out, phone_ids=("modem1",), pins=None, debug_level=0, **extra):
    """The role's smsdrc of every modem, its units and its sweep command, rendered by the
    template action under ``out``; returns the variables used."""
    out = str(out)
    variables = role_vars(out, phone_ids, pins or {}, debug_level, **extra)
    for sub in DIRS.values():
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for phone_id in phone_ids:
        for sub in ("inbox", "outbox", "sent", "error", "tmp", "rescue"):
            os.makedirs(os.path.join(out, "spool", phone_id, sub), exist_ok=True)
        for folder in range(1, 6):
            dummy = extra.get("_sms_gateway__dummy_dir") or os.path.join(out, "data", "dummy")
            os.makedirs(os.path.join(dummy, phone_id, "sms", str(folder)), exist_ok=True)
    shutil.copy(ROUTER_SRC, os.path.join(out, "lib", "sms_router.py"))
    with open(os.path.join(out, "vars.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(variables, fh)
    templates = os.path.join(ROLE, "templates")
    tasks = [
        {"name": "smsdrc", "loop": "{{ sms_gateway__modems }}", "loop_control": {"loop_var": "modem"},
         "no_log": True, "ansible.builtin.template": {
             "src": os.path.join(templates, "smsdrc.j2"), "mode": "0640",
             "dest": "{{ sms_gateway__config_dir }}/{{ modem.phone_id }}.smsdrc"}},
    ] + [{"name": name, "ansible.builtin.template": {"src": os.path.join(templates, name + ".j2"),
                                                       "dest": os.path.join(out, name), "mode": "0644"}}
         for name in ("sms-center-smsd@.service", "sms-center-sweep.service", "sms-center-sweep")]
    play = {"hosts": "localhost", "gather_facts": False,
            "vars_files": [os.path.join(ROLE, "defaults", "main.yml"), os.path.join(ROLE, "vars", "main.yml"),
                           os.path.join(out, "vars.yml")], "tasks": tasks}
    proc = run_playbook(out, "render.yml", [play])
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return variables


def unit_lines(out, unit, key):
    """The values of ``key=`` lines of a rendered unit (systemd's prefixes kept)."""
    with open(os.path.join(str(out), unit), encoding="utf-8") as fh:
        return [line.split("=", 1)[1].strip() for line in fh if line.startswith(key + "=")]


def unit_command(value, phone_id=None):
    """A unit's command line as an argument list, without systemd's prefixes, %i filled in."""
    value = value.lstrip("-+!@:")
    if phone_id:
        value = value.replace("%i", phone_id)
    return shlex.split(value)


class RoleSmsd(ServerProcess):
    """gammu-smsd on the role's rendered configuration of ``phone_id``."""

    def __init__(self, out, phone_id):
        self.out = self.dir = str(out)
        self.phone_id = phone_id
        self.name = "smsd-" + phone_id
        self.config = os.path.join(self.out, "etc", phone_id + ".smsdrc")
        self.spool = os.path.join(self.out, "spool", phone_id)
        with open(self.config, encoding="utf-8") as fh:
            self.device = next(line.split("=", 1)[1].strip() for line in fh if line.startswith("device ="))
        self.data_dir = os.path.join(self.out, "data")
        self.logfile = os.path.join(self.out, "log", phone_id + ".log")
        self.count = 0

    def command(self):
        return unit_command(unit_lines(self.out, "sms-center-smsd@.service", "ExecStart")[0], self.phone_id)

    def ready(self):
        return os.path.exists(self.logfile) and "Starting phone communication" in self.read_log()

    def read_log(self):
        with open(self.logfile, errors="replace") as fh:
            return fh.read()

    def start(self, timeout=20):
        """As systemd does: the unit's ExecStartPre (the rescue), then the daemon."""
        env = dict(os.environ, LANG="C.UTF-8")
        for pre in unit_lines(self.out, "sms-center-smsd@.service", "ExecStartPre"):
            subprocess.run(unit_command(pre, self.phone_id), env=env, capture_output=True, timeout=180,
                           check=False)
        if os.path.exists(self.logfile):
            os.rename(self.logfile, self.logfile + ".%d" % time.time_ns())  # ready() looks at this run
        old = os.environ.get("LANG")
        os.environ["LANG"] = "C.UTF-8"  # the unit's Environment=
        try:
            return super().start(timeout)
        finally:
            if old is None:
                os.environ.pop("LANG", None)
            else:
                os.environ["LANG"] = old

    def drop(self, number, text, udh=None, raw_number_hex=None, raw_text_hex=None):
        """An incoming SMS part: a Gammu SMS backup in the dummy phone's inbox folder. The
        sender and the text go as UTF-16 hexadecimal (NumberUnicode), so any character can."""
        folder = os.path.join(self.device, "sms", "1")
        self.count += 1
        index = self.count  # the dummy phone reads small locations only (100001 is never read)
        number_hex = raw_number_hex or number.encode("utf-16-be", "surrogatepass").hex().upper()
        text_hex = raw_text_hex or text.encode("utf-16-be", "surrogatepass").hex().upper()
        lines = ["[SMSBackup000]", 'SMSC = "+6281100000"', 'Number = "x"', "NumberUnicode = " + number_hex,
                 "Coding = Unicode", "Folder = 1", "State = UnRead", "Class = -1",
                 "Sent = %s" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())]
        if udh:
            lines.append("UDH = " + udh)
        lines += ["Text%02d = %s" % (i, text_hex[o:o + 200]) for i, o in enumerate(range(0, len(text_hex), 200))]
        tmp = os.path.join(self.out, "incoming.tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write("\n".join(lines) + "\n")
        os.rename(tmp, os.path.join(folder, str(index)))

    def drop_parts(self, number, parts, reference):
        for seq, text in enumerate(parts, 1):
            self.drop(number, text, udh="050003%02X%02X%02X" % (reference, len(parts), seq))

    def on_phone(self):
        return os.listdir(os.path.join(self.device, "sms", "1"))


def router(out, *args, env=None, timeout=120, preexec_fn=None):
    """The role's router with the role's data and spool dirs (the sweep's own command line)."""
    out = str(out)
    return subprocess.run(["/usr/bin/python3", os.path.join(out, "lib", "sms_router.py"), "--data-dir",
                           os.path.join(out, "data"), "--spool-dir", os.path.join(out, "spool")] + list(args),
                          env=env, capture_output=True, timeout=timeout, check=False, preexec_fn=preexec_fn)


def sweep_commands(out):
    """The sweep service's ExecStart lines as argument lists (the first as the user, the
    second with systemd's '+', as root)."""
    return [unit_command(v) for v in unit_lines(out, "sms-center-sweep.service", "ExecStart")]


def dump(value):
    return json.dumps(value, ensure_ascii=True)[:3000]
