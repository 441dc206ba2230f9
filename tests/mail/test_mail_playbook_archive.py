"""E9 through playbooks/mail.yml itself: an inventory whose directory is the tests' slapd
and whose mail server is this machine (local connections), run by ansible-playbook.
An account the registry deletes has its mailbox archived on the mail server, fetched
beside its entry's LDIF, then its entry deleted and its mailbox removed.

Account: arif.rahman.hakim (deleted here).
"""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from clients import message, send, wait_for
from paths import ROOT
from test_mail_flow import OUTSIDE, edit_status, entry, ready_account, registry_kept_on_failure

ADDRESS = "arif.rahman.hakim@bekasikota.go.id"


def inventory(directory, mail, tmp):
    python = sys.executable
    local = {"ansible_connection": "local", "ansible_python_interpreter": python, "ansible_become": False}
    slapd = directory.slapd
    # The pins validate.yml requires (S2-TRUST), as the lab's inventory has them.
    pins = yaml.safe_load((Path(ROOT) / "inventory" / "lab" / "group_vars" / "all" / "sms_approval.yml").read_text())
    inv = {"all": {"vars": pins, "children": {
        "control": {"hosts": {"localhost": dict(local)}},
        "directory": {"hosts": {"test-ldap": dict(
            local, ldap_apply__uri=slapd.uri, ldap_apply__start_tls=True, ldap_apply__ca_file=slapd.ca_file,
            ldap_apply__bind_dn=slapd.toolkit_dn, ldap_apply__bind_password=slapd.passwords[slapd.toolkit_dn],
            ldap_apply__base=slapd.base, mail_apply__handover_dir=str(tmp / "handover"),
            mail_apply__archive_dir=str(tmp / "archive"), mail_apply__warning_spool_dir=str(tmp / "warnings"))}},
        "mail_servers": {"hosts": {"test-mail": dict(
            local, mail_server__mail_root=mail.vars["mail_server__mail_root"],
            mail_server__mailbox_archive_dir=str(tmp / "server-archive"))}},
    }}}
    path = tmp / "hosts.yml"
    path.write_text(yaml.safe_dump(inv))
    os.chmod(path, 0o600)
    return path


def test_the_playbook_archives_the_mailbox_before_it_deletes(directory, mail, tmp_path):
    password = ready_account(directory, ADDRESS)
    send(mail, message(OUTSIDE, ADDRESS, "Sebelum dihapus"))
    assert "Sebelum dihapus" in wait_for(mail, ADDRESS, password, "Sebelum dihapus")
    uuid = str(entry(directory, ADDRESS, "entryUUID").entryUUID)
    mailbox = Path(mail.vars["mail_server__mail_root"]) / uuid
    assert mailbox.is_dir()
    with registry_kept_on_failure(directory):
        edit_status(directory, ADDRESS, "deleted")
        directory.keyring.give(directory.registry)

        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory(directory, mail, tmp_path)),
             os.path.join(ROOT, "playbooks", "mail.yml"), "--skip-tags", "city_server",
             "-e", json.dumps({"registry_dir": str(directory.registry)})],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
        assert directory.slapd.passwords[directory.slapd.toolkit_dn] not in proc.stdout + proc.stderr

        assert entry(directory, ADDRESS, "mail") is None, "the entry is deleted"
        assert not mailbox.exists(), "and its mailbox removed"
        fetched = tmp_path / "archive" / "mailboxes" / ("arif.rahman.hakim-%s.mailbox.tar.gz" % uuid)
        assert oct(os.stat(fetched.parent).st_mode & 0o777) == "0o700"
        with tarfile.open(fetched) as tar:
            bodies = [tar.extractfile(m).read() for m in tar if m.isfile() and "/cur/" in "/" + m.name
                      or m.isfile() and "/new/" in "/" + m.name]
        assert any(b"Sebelum dihapus" in body for body in bodies), "the archive holds the message"
        assert list((tmp_path / "archive").glob("arif.rahman.hakim-*.ldif")), "beside the entry's LDIF"
