"""E9 through the real servers: a deleted account's entry and its whole mailbox go to the
archives, verified, before either is removed; the archive restores into a fresh mailbox
that Dovecot serves with every message.

Accounts: ayu.lestari (deleted here), anisa.rahmawati (the fresh mailbox it is restored in).
"""
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from clients import Mailbox, message, send, wait_for
from mail_servers import MAIL_UID
from module_runner import run_module
from test_mail_flow import OUTSIDE, edit_status, entry, ready_account, registry_kept_on_failure

DELETED = "ayu.lestari@bekasikota.go.id"
FRESH = "anisa.rahmawati@bekasikota.go.id"
SUBJECTS = ["Arsip satu", "Arsip dua", "Arsip dengan lampiran"]


def accounts_run(directory, check=False, **extra):
    args = dict(registry_dir=str(directory.registry), **directory.slapd.connection_args(),
                handover_dir=str(directory.root / "handover"), archive_dir=str(directory.root / "archive"))
    args.update(extra)
    return run_module("mail_accounts", args, check=check)


def archive_run(mail, accounts, archive_dir, state="archived", check=False):
    return run_module("mailbox_archive", dict(mail_root=mail.vars["mail_server__mail_root"], archive_dir=str(archive_dir),
                                              accounts=accounts, state=state), check=check)


def test_a_deleted_account_goes_to_the_archives_with_its_mail(directory, mail, tmp_path):
    password = ready_account(directory, DELETED)
    for subject in SUBJECTS:
        attachment = os.urandom(64 * 1024) if "lampiran" in subject else None
        send(mail, message(OUTSIDE, DELETED, subject, attachment=attachment))
    assert set(SUBJECTS) <= set(wait_for(mail, DELETED, password, SUBJECTS[-1]))
    uuid = str(entry(directory, DELETED, "entryUUID").entryUUID)
    mailbox = Path(mail.vars["mail_server__mail_root"]) / uuid
    assert mailbox.is_dir()

    with registry_kept_on_failure(directory):
        edit_status(directory, DELETED, "deleted")
        plan = accounts_run(directory, check=True)
        delete = [op for op in plan["operations"] if op["action"] == "delete" and op["address"] == DELETED]
        assert delete and delete[0]["mailbox"] == {"uid": "ayu.lestari", "uuid": uuid}
        boxes = [delete[0]["mailbox"]]

        # Without a verified archive of the mailbox, mail_accounts deletes nothing.
        archives = tmp_path / "mailboxes"
        refused = accounts_run(directory, mailbox_archive_dir=str(archives))
        assert refused.get("failed") and "no verified archive" in refused["msg"], refused.get("msg")
        assert entry(directory, DELETED, "mail") is not None

        preview = archive_run(mail, boxes, archives, check=True)
        assert preview["changed"] and not archives.exists(), "check mode writes nothing"
        made = archive_run(mail, boxes, archives)
        assert not made.get("failed"), made.get("msg")
        assert made["archives"][0]["messages"] == len(SUBJECTS)
        assert not archive_run(mail, boxes, archives)["changed"], "archived once"

        deleted = accounts_run(directory, mailbox_archive_dir=str(archives))
        assert not deleted.get("failed"), deleted.get("msg")
        assert entry(directory, DELETED, "mail") is None
        ldif = [a for a in deleted["archives"] if "ayu.lestari" in a]
        assert ldif and "ayu.lestari" in Path(ldif[0]).read_text(), "the entry is archived too"

        # Mail that reached the mailbox after its archive stops the removal: nothing is lost.
        late = mailbox / "Maildir" / "new" / "1.late.mail"
        late.write_bytes(message(OUTSIDE, DELETED, "Terlambat").as_bytes())
        kept = archive_run(mail, boxes, archives, state="absent")
        assert kept.get("failed") and "lacks 1 file" in kept["msg"] and mailbox.is_dir(), kept.get("msg")
        assert archive_run(mail, boxes, archives)["changed"], "archived again with the late mail"
        removed = archive_run(mail, boxes, archives, state="absent")
        assert not removed.get("failed") and removed["changed"], removed.get("msg")
        assert not mailbox.exists()

        # Restored into a fresh mailbox, Dovecot serves every message of it.
        fresh_password = ready_account(directory, FRESH)
        fresh = Path(mail.vars["mail_server__mail_root"]) / str(entry(directory, FRESH, "entryUUID").entryUUID)
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        with tarfile.open(archives / ("ayu.lestari-%s.mailbox.tar.gz" % uuid)) as tar:
            tar.extractall(fresh, filter="data")
        subprocess.run(["chown", "-R", "%d:%d" % (MAIL_UID, MAIL_UID), str(fresh)], check=True, timeout=30)
        box = Mailbox(mail, FRESH, fresh_password)
        try:
            restored = box.subjects()
        finally:
            box.close()
        assert set(SUBJECTS) | {"Terlambat"} <= set(restored), restored
