"""Plant Jinja payloads in a registry copy: the registry must stay data (docs/security.md).

Each payload, if Ansible ever evaluated it, would create a file next to ``canary``
(``<canary>.1`` ...). Tests plant them, run playbooks with validation bypassed and
assert that no such file appears; a positive control proves the payloads are live.
"""
import glob
import os

import yaml

from ansible.module_utils.city.registry.loader import load_file

PAYLOADS = (
    "{{ lookup('ansible.builtin.pipe', 'touch %(canary)s.1') }}",
    "{%% set _c = lookup('pipe', 'touch %(canary)s.2') %%}",
    "{{ query('ansible.builtin.pipe', 'touch %(canary)s.3') | join }}",
)

# Free-text fields: poisoning them leaves every reference and identifier intact, so
# the playbooks run to their end and every registry value reaches its destination.
FREE_TEXT = {
    "agencies.yml": {"name"},
    "city.yml": {"name", "short_name"},
    "domain.yml": {"description", "decree"},
    "mail.yml": {"display_name"},
    "people.yml": {"name", "position"},
    "sms-users.yml": {"login"},
    "sms.yml": {"description", "decree", "authorisation"},
    "approval-trust.yml": {"reason"},
    "blast": {"text"},
}


def payload(canary):
    return " ".join(p % {"canary": canary} for p in PAYLOADS)


def _poison(data, keys, text, everything):
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if isinstance(value, str) and (everything or key in keys):
                out[key] = value + " " + text
            else:
                out[key] = _poison(value, keys, text, everything)
        return out
    if isinstance(data, list):
        return [(item + " " + text) if (everything and isinstance(item, str))
                else _poison(item, keys, text, everything) for item in data]
    return data


def plant(registry_dir, canary, everything=False):
    """Poison every YAML file of ``registry_dir`` in place; returns the files changed.

    ``everything``: every string value, identifiers included (the playbooks then fail
    early, yet must not evaluate anything on the way); otherwise the free-text fields.
    """
    text = payload(canary)
    changed = []
    for path in sorted(glob.glob(os.path.join(str(registry_dir), "**", "*.yml"), recursive=True)):
        name = os.path.relpath(path, str(registry_dir))
        kind = "blast" if name.startswith("blasts" + os.sep) else name
        data = load_file(path).data  # the toolkit's loader: dates stay text, numbers numbers
        poisoned = _poison(data, FREE_TEXT.get(kind, set()), text, everything)
        if poisoned == data:
            continue
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(poisoned, fh, allow_unicode=True, sort_keys=False, width=1000)
        changed.append(name)
    return changed


def fired(canary):
    """The canary files that exist: one per payload that was evaluated."""
    return sorted(glob.glob(str(canary) + ".*"))
