"""A renamed address keeps its entry, its entryUUID and so its mailbox (role mail_server
names a mailbox by entryUUID): mail_accounts renames the entry (modrdn) when the registry
says ``renamed_from``, instead of deleting it and creating another.

Account: krenova (BAPPELITBANGDA's event account), renamed to inovasi.daerah here.
"""
import re

from clients import Mailbox, Refused, message, send, wait_for
from test_mail_flow import OUTSIDE, entry, ready_account, registry_kept_on_failure

OLD = "krenova@bekasikota.go.id"
NEW = "inovasi.daerah@bekasikota.go.id"


def test_a_renamed_address_keeps_its_mail(directory, mail):
    password = ready_account(directory, OLD)
    send(mail, message(OUTSIDE, OLD, "Sebelum berganti nama"))
    assert "Sebelum berganti nama" in wait_for(mail, OLD, password, "Sebelum berganti nama")
    before = entry(directory, OLD, "entryUUID", "secretary")
    uuid, delegates = str(before.entryUUID), [str(d) for d in before.secretary]
    assert delegates, "BAPPELITBANGDA's officer and head may open it"

    path = directory.registry / "mail.yml"
    with registry_kept_on_failure(directory):
        text = path.read_text()
        path.write_text(text.replace("  - address: %s\n" % OLD,
                                     "  - address: %s\n    renamed_from: %s\n" % (NEW, OLD), 1))
        result = directory.apply()
        assert not result.get("failed"), result.get("msg")
        assert result["plan"]["rename"] == 1 and result["plan"]["create"] == 0 and result["plan"]["delete"] == 0
        directory.passwords[NEW] = password

        after = entry(directory, NEW, "entryUUID", "mail", "uid")
        assert after is not None and entry(directory, OLD, "mail") is None
        assert (str(after.entryUUID), str(after.mail), str(after.uid)) == (uuid, NEW, "inovasi.daerah")
        for delegate in delegates:  # the delegates' seeAlso follows the new DN
            see = [str(v).lower() for v in entry(directory, delegate_address(delegate), "seeAlso").seeAlso]
            assert directory.dn(NEW).lower() in see and directory.dn(OLD).lower() not in see, see

        # Its old mail under the new address; new mail arrives; the old address receives nothing.
        box = Mailbox(mail, NEW, password)
        try:
            assert "Sebelum berganti nama" in box.subjects()
        finally:
            box.close()
        send(mail, message(OUTSIDE, NEW, "Sesudah berganti nama"))
        assert "Sesudah berganti nama" in wait_for(mail, NEW, password, "Sesudah berganti nama")
        try:
            send(mail, message(OUTSIDE, OLD, "Ke alamat lama"))
            raise AssertionError("the old address still receives")
        except Refused as refused:
            assert (refused.step, refused.code) == ("RCPT", 550)

        again = directory.apply()
        assert not again["changed"], again["plan"]  # renamed once: nothing left to do


def delegate_address(dn):
    return re.match(r"uid=([^,]+),", dn).group(1) + "@bekasikota.go.id"
