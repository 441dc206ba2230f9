"""How much a registry may hold: the policy that keeps validation bounded.

The registry is untrusted input (every merge request is validated before review), so
these bounds are the toolkit's, not the registry's: a registry edit cannot raise them.
An inventory may (``registry_validate`` option ``limits``, docs/registry-format.md).
Each default is far above a city ten times Bekasi's size (200,000 accounts make a
mail.yml of about 27 MB) and far below what would exhaust the control node.
"""

DEFAULTS = {
    # Bytes of one registry file, and of all of them together.
    "max_file_bytes": 64 * 1024 * 1024,
    "max_total_bytes": 512 * 1024 * 1024,
    # Registry files (blasts and their archive included) and directories.
    "max_files": 50000,
    "max_dirs": 64,
    # Nesting of mappings and sequences in one file (the registry's own is below 10;
    # it is also the depth rapidyaml's emitter accepts).
    "max_depth": 64,
    # Nodes that aliases may add to one file once expanded (an alias bomb of 7 KB would
    # add billions): the registry does not need aliases; a few save typing.
    "max_alias_nodes": 10000,
}


class Limits:
    """The bounds in force: :data:`DEFAULTS`, with an inventory's overrides."""

    __slots__ = tuple(DEFAULTS)

    def __init__(self, overrides=None):
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(DEFAULTS))
        if unknown:
            raise ValueError("unknown registry limit(s): %s (known: %s)"
                             % (", ".join(unknown), ", ".join(DEFAULTS)))
        for name, default in DEFAULTS.items():
            value = overrides.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError("registry limit %s must be a positive integer, not %r"
                                 % (name, value))
            setattr(self, name, value)
        if self.max_depth > DEFAULTS["max_depth"]:
            raise ValueError("registry limit max_depth cannot exceed %d (rapidyaml's emitter)"
                             % DEFAULTS["max_depth"])


DEFAULT_LIMITS = Limits()
