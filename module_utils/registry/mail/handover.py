"""Hand new credentials to each agency's admin (E4, E5) without printing them.

New and reset passwords are written, before they are set in the directory, into one
ansible-vault encrypted file per agency and run; a crash after writing loses no
password, and the admin reads the file with ``ansible-vault view``.
The files are written by the module itself (module_utils/registry/vault_file.py).
"""
import json
import os

from ansible.module_utils.registry import destinations, vault_file


def write(directory, stamp, credentials, vault_password):
    """credentials: {agency: [{address, password, reason, ticket}]}; returns the paths."""
    paths = []
    # Every name is checked before anything is written: an agency code or a run stamp
    # that would leave the hand-over directory writes no file at all.
    targets = [(agency, items,
                destinations.path_inside(directory, str(agency), field="agency code"),
                "%s.vault" % destinations.file_component(str(stamp), "run stamp"))
               for agency, items in sorted(credentials.items())]
    for agency, items, folder, name in targets:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        path = os.path.join(folder, name)
        body = json.dumps({"agency": agency, "run": stamp, "credentials": items}, indent=2,
                          ensure_ascii=False)
        data = vault_file.encrypt(body, vault_password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        paths.append(path)
    return paths

