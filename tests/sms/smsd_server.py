"""Real gammu-smsd daemons with Gammu's dummy driver, one per modem, for the tests.

Same layout as the role sms_gateway makes on the gateway (docs/sms-design.md):
<root>/spool/<phone_id>/{inbox,outbox,sent,error}/, one configuration per modem,
RunOnReceive optional. No modem, no network: the dummy phone "transmits" every
outbox file and smsd moves it to sent/ within a second or two.
"""
import os
import shutil
import time

from server_process import ServerProcess

SMSD_CONFIG = """[gammu]
connection = none
model = dummy
device = {device}/

[smsd]
service = files
phoneid = {phone_id}
inboxpath = {spool}/inbox/
outboxpath = {spool}/outbox/
sentsmspath = {spool}/sent/
errorsmspath = {spool}/error/
transmitformat = auto
commtimeout = 1
sendtimeout = 5
loopsleep = 1
receivefrequency = 1
checksecurity = 0
checkbattery = 0
checksignal = 0
logfile = {root}/{phone_id}.smsd.log
debuglevel = 1
{run_on_receive}"""


class Smsd(ServerProcess):
    """One gammu-smsd instance (one modem) under ``root``."""

    def __init__(self, root, phone_id, run_on_receive=None):
        self.root, self.phone_id = str(root), phone_id
        self.dir = self.root
        self.name = "smsd-" + phone_id
        self.spool = os.path.join(self.root, "spool", phone_id)
        self.device = os.path.join(self.root, "dummy", phone_id)
        for sub in ("inbox", "outbox", "sent", "error"):
            os.makedirs(os.path.join(self.spool, sub), exist_ok=True)
        for folder in range(1, 6):  # the dummy phone's SMS folders (incoming ones go to 1)
            os.makedirs(os.path.join(self.device, "sms", str(folder)), exist_ok=True)
        self.config = os.path.join(self.root, phone_id + ".smsdrc")
        with open(self.config, "w") as fh:
            fh.write(SMSD_CONFIG.format(device=self.device, phone_id=phone_id, spool=self.spool,
                                        root=self.root, run_on_receive=(
                                            "runonreceive = %s\n" % run_on_receive if run_on_receive else "")))

    def command(self):
        return [shutil.which("gammu-smsd") or "/usr/bin/gammu-smsd", "-c", self.config]

    def ready(self):
        path = os.path.join(self.root, self.phone_id + ".smsd.log")
        return os.path.exists(path) and "Starting phone communication" in open(path, errors="replace").read()

    def folder(self, name):
        return sorted(os.listdir(os.path.join(self.spool, name)))

    def receive(self, number, text):
        """Simulate an incoming SMS: a Gammu backup file in the dummy phone's inbox folder (1)."""
        folder = os.path.join(self.device, "sms", "1")
        index = 1 + max([int(n) for n in os.listdir(folder) if n.isdigit()] or [0])
        # Gammu's SMS backup format: the text as hexadecimal UCS-2 (big-endian), <= 200 hex digits a line.
        hexa = text.encode("utf-16-be").hex().upper()
        lines = ["Text%02d = %s" % (i, hexa[o:o + 200]) for i, o in enumerate(range(0, len(hexa), 200))]
        body = "\n".join(["[SMSBackup000]", "SMSC = \"+6281100000\"", "Number = \"%s\"" % number,
                          "Coding = Unicode", "Folder = 1", "State = UnRead", "Class = -1",
                          "Sent = %s" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())] + lines) + "\n"
        tmp = os.path.join(self.root, "incoming.tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(body)
        os.rename(tmp, os.path.join(folder, str(index)))  # the daemon never sees half a file
