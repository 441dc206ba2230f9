"""Hand each new or reset password to the one person allowed to know it (E5, E6).

P17 Pasal 35 ayat (2)-(3): an agency account's password is known to its e-mail officer
(agencies.yml ``mail_admin``), a head's position account's only to the head; a personal
account's is its holder's. Before any password is set in the directory, the passwords of
one run are written into one ``age`` file per recipient person, encrypted to that person's
public keys from people.yml (``handover_keys``) and to nobody else's: no shared password,
so neither another agency's admin nor the toolkit's operators can open it. A crash after
writing loses no password. The person opens it with ``age -d -i KEYFILE FILE``.

Encryption is pyrage (Python bindings of rage, an implementation of the age format): in the
module's own process, so that no password or registry value goes through a command line,
an environment or a temporary recipients file, and each key is parsed by the same code
that encrypts to it. The files are read with the age command (tests/ldap).
"""
import json

from ansible.module_utils.city.registry import destinations
from ansible.module_utils.city.registry import handover_keys
from ansible.module_utils.city import fsutil
from ansible.module_utils.city.errors import ToolkitError

SUFFIX = ".age"


class HandoverError(ToolkitError):
    """A password that could not be handed over: nothing was written, nothing is applied."""


def _recipients(person, keys):
    """pyrage recipients of ``keys`` (the person's handover_keys), or HandoverError."""
    import pyrage  # only an apply needs it: a check-mode plan encrypts nothing
    out = []
    for key in keys:
        try:
            kind, unused_identity = handover_keys.parse(key)
            line = key.strip()
            out.append(pyrage.x25519.Recipient.from_str(line) if kind == "age"
                       else pyrage.ssh.Recipient.from_str(line))
        except (handover_keys.HandoverKeyError, pyrage.RecipientError, ValueError) as exc:
            raise HandoverError("a hand-over key of %s is not one age can encrypt to: %s" % (
                person, exc))
    return out


def plan(credentials, keys):
    """Check that every recipient can be encrypted to; {person: [pyrage recipients]}.

    credentials: {person: [items]}; keys: {person: [key lines]}. Raises HandoverError
    naming every account whose recipient has no usable key, before anything is written."""
    missing = sorted((item["address"], person) for person, items in credentials.items()
                     if person is None or not keys.get(person) for item in items)
    if missing:
        raise HandoverError(
            "nothing applied: %d new password(s) have nobody to be handed to: %s; give each "
            "holder and each agency's mail_admin a handover_keys entry in people.yml (rule "
            "E6-HANDOVER-KEY)" % (len(missing), ", ".join(
                "%s (%s)" % (address, person or "no holder or mail_admin")
                for address, person in missing[:10])))
    return {person: _recipients(person, keys[person]) for person in credentials}


def write(directory, stamp, credentials, keys):
    """credentials: {person id: [{address, agency, password, reason, ticket}]}, keys: {person
    id: [public key lines]}; one file ``<directory>/<person>/<stamp>.age`` per person, 0600
    in 0700 directories, each synced to disk before the next. Returns the paths."""
    if not credentials:
        return []
    import pyrage
    recipients = plan(credentials, keys)
    # Every name is checked before anything is written: a person id or a run stamp that
    # would leave the hand-over directory writes no file at all.
    name = destinations.file_component(str(stamp), "run stamp") + SUFFIX
    targets = [(person, items, destinations.path_inside(directory, person, field="person id"))
               for person, items in sorted(credentials.items())]
    # The hand-over directory itself lists who received passwords in which run: private too.
    fsutil.private_dir(directory)
    paths = []
    for person, items, folder in targets:
        body = json.dumps({"person": person, "run": stamp, "credentials": items}, indent=2,
                          ensure_ascii=False) + "\n"
        try:
            data = pyrage.encrypt(body.encode("utf-8"), recipients[person], armored=True)
        except pyrage.EncryptError as exc:
            raise HandoverError("cannot encrypt the hand-over of %s: %s" % (person, exc))
        paths.append(fsutil.write_private(folder, name, data))
    return paths
