"""E10 on a real slapd: unused accounts from lastbind, warnings queued once per period."""
import datetime
import email

from module_runner import run_module


def run(slapd, registry, spool, today, check=False):
    return run_module("mail_unused", dict(registry_dir=str(registry), **slapd.connection_args(),
                                          spool_dir=str(spool), today=today), check=check)


def test_unused_accounts_are_reported_and_warned_once(slapd, registry, apply_mail, tmp_path):
    created = apply_mail(registry)
    assert not created.get("failed"), created.get("msg")
    spool = tmp_path / "spool"
    soon = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
    later = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()
    assert run(slapd, registry, spool, soon)["unused"] == []
    preview = run(slapd, registry, spool, later, check=True)
    assert preview["unused"] and preview["queued"] and preview["changed"], "check mode names what it would queue"
    assert not spool.exists() or not list(spool.iterdir()), "check mode queues nothing"
    result = run(slapd, registry, spool, later)
    addresses = {r["address"] for r in result["unused"]}
    assert "setda@bekasikota.go.id" in addresses and "supardi.wiryo@bekasikota.go.id" not in addresses
    assert len(result["queued"]) == len(result["unused"]) and result["changed"]
    assert sorted(result["queued"]) == sorted(preview["queued"]), "the check-mode plan is what the run queues"
    # The plan names each warning by its file, not the control node's spool: a plan made
    # with another spool directory is the same plan.
    assert sorted(c["after"]["file"] for c in preview["city"]["changes"]) == sorted(
        q.rsplit("/", 1)[-1] for q in preview["queued"])
    warning = email.message_from_bytes(open([q for q in result["queued"] if "-setda.eml" in q][0], "rb").read())
    assert warning["To"] == "setda@bekasikota.go.id" and warning["Cc"], "copied to the agency's admin"
    again = run(slapd, registry, spool, later)
    assert again["queued"] == [] and not again["changed"], "queued once per period"
    assert warning["Message-ID"] == "<city-notice.unused.%s.setda@bekasikota.go.id>" % later[:7], \
        "the same id on the main domain whoever writes it again"
    # A delivery job that removes (or moves) what it delivered does not bring a warning back.
    for queued in result["queued"]:
        (spool / queued.rsplit("/", 1)[-1]).unlink()
    emptied = run(slapd, registry, spool, later)
    assert emptied["queued"] == [] and not emptied["changed"], "the spool's issued/ marks what was queued"
