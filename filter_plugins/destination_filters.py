"""Jinja2 filters that let a value into a configuration file only in a shape safe there.

The roles put every registry-derived value through the filter of the syntax it is
written into; the logic is in module_utils/city/registry/destinations.py (the tests import
it), the inventory of fields in docs/registry-destinations.md. Each filter takes the
name of the field as its argument, returns the value unchanged (``named_string`` adds
the double quotes) and raises AnsibleFilterError, naming the field, for a value that
would change the meaning of the file:

- ``udev_value(field)``: inside "..." of a udev rule, or a udev comment
- ``smsdrc_value(field)``: a gammu-smsdrc ``key = value`` or comment
- ``named_string(field)``: a double-quoted named.conf string
- ``dns_name(field)``: a host name in a zone file or a named.conf comment
- ``dns_ttl(field)``: a TTL in a zone file
- ``ldif_value(field)``: an attribute value in an LDIF file
- ``ldap_dn(field)``: a DN with no RDN value that needs escaping
- ``systemd_instance(field)``: the instance of ``unit@instance.service``
- ``file_component(field)``: one component of a path
"""
import functools

from ansible.errors import AnsibleFilterError

from ansible.module_utils.city.registry import destinations

_FILTERS = ("udev_value", "smsdrc_value", "named_string", "dns_name", "dns_ttl", "ldif_value",
            "ldap_dn", "systemd_instance", "file_component")


def _filter(name):
    function = getattr(destinations, name)

    @functools.wraps(function)
    def wrapper(value, field="value"):
        """Check the value for its destination; refuse it with an AnsibleFilterError."""
        try:
            return function(value, str(field))
        except destinations.DestinationError as exc:
            raise AnsibleFilterError("%s filter: %s" % (name, exc)) from exc
    return wrapper


class FilterModule:
    """The destination filters."""

    def filters(self):
        """Map of filter name to function."""
        return {name: _filter(name) for name in _FILTERS}
