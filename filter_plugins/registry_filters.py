"""Jinja2 filters over the registry helpers in module_utils/city.

Filters (each raises AnsibleFilterError with the reason on bad input):

- ``e164(number, country_code='62')``: "0812-3456-7890" -> "+6281234567890" (S5)
- ``mail_localpart(name, separator='.')``: "Dr. H. Ahmad Fauzi, S.Kom." -> "ahmad.fauzi" (E2)
- ``strip_titles(name)``: "Hj. Dewi Ratna Sari, S.E." -> "Dewi Ratna Sari"
- ``sms_encoding(text)``: "GSM-7" or "UCS-2"
- ``sms_segments(text)``: number of SMS segments
- ``sms_info(text)``: dict of encoding, units, segments, non_gsm_chars
- ``mail_number(seq, month, year)``: ``14 | mail_number(2, 2021)`` -> "014/II/2021" (E8)
- ``to_roman(n)``: 2 -> "II"
- ``in_pool(address, networks)``: whether address lies in one of the CIDRs (D8)
- ``sms_phonebook(sms, sms_users, people, city)``: ``registry_sms | sms_phonebook(registry_sms_users,
  registry_people, registry_city)`` -> the gateway's phonebook.json (S1, S5; docs/sms-design.md)
"""
import functools

from ansible.errors import AnsibleFilterError

from ansible.module_utils.city.registry.gsm import segments, sms_info, encoding
from ansible.module_utils.city.registry.ipam import address_in_pool
from ansible.module_utils.city.registry.names import name_to_localpart, strip_titles
from ansible.module_utils.city.registry.numbering import mail_number, to_roman
from ansible.module_utils.city.registry.phone import to_e164
from ansible.module_utils.city.sms.phonebook import build as sms_phonebook


def _filter(name, function):
    """Wrap a helper so its ValueError reaches the playbook as an AnsibleFilterError."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        """Call the helper; turn a ValueError into an AnsibleFilterError."""
        try:
            return function(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError("%s filter: %s" % (name, exc)) from exc
    return wrapper


_FILTERS = {
    "e164": to_e164,
    "mail_localpart": name_to_localpart,
    "strip_titles": strip_titles,
    "sms_encoding": encoding,
    "sms_segments": segments,
    "sms_info": sms_info,
    "mail_number": mail_number,
    "to_roman": to_roman,
    "in_pool": address_in_pool,
    "sms_phonebook": sms_phonebook,
}


class FilterModule:
    """The registry filters."""

    def filters(self):
        """Map of filter name to function."""
        return {name: _filter(name, function) for name, function in _FILTERS.items()}
