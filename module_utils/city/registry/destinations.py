"""Registry values checked for the syntax of the file, name or command they are written into.

The schemas give every registry field that reaches a server a strict shape
(docs/registry-destinations.md); these checks are the second line of defence, in the
templates (filter_plugins/destination_filters.py) and in the code that builds paths.
They are for a value that got past validation (a playbook run with a registry that was
never validated, a variable set in an inventory): such a value is refused, never
repaired, because a "repaired" serial number or zone name would configure something
else than the registry says.

Each check returns the value as it is (so a template renders byte for byte what it
rendered before) or raises :class:`DestinationError` naming the field, the offending
character and its position, never the whole value (it may be a SIM PIN).
"""
import os
import re
import unicodedata
from ansible.module_utils.city.errors import ToolkitError


class DestinationError(ToolkitError, ValueError):
    """A value that would change the meaning of the file, name or command it goes into."""


# Unicode categories that end a line or hide in one: controls (CR, LF, NUL, ...),
# line and paragraph separators, and format characters (zero-width, bidi overrides).
_INVISIBLE = frozenset(("Cc", "Cf", "Zl", "Zp"))


def _text(value, field):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DestinationError("%s must be a string, not %s" % (field, type(value).__name__))
    return value if isinstance(value, str) else str(value)


def _refuse(field, text, index, where, why=""):
    raise DestinationError("%s: character %s at position %d cannot go into %s%s"
                           % (field, ascii(text[index]), index + 1, where, why))


def _invisible(text, field, where):
    for index, char in enumerate(text):
        if unicodedata.category(char) in _INVISIBLE:
            _refuse(field, text, index, where, " (a control or line-breaking character)")


def _charset(text, field, allowed, where, description):
    if not text:
        raise DestinationError("%s is empty; %s needs a value" % (field, where))
    for index, char in enumerate(text):
        if not allowed(char):
            _refuse(field, text, index, where, " (allowed: %s)" % description)


def _ascii_in(chars):
    return lambda char: char.isascii() and (char.isalnum() or char in chars)


# udev has no escape for '"' inside a value (before systemd 250's e"..."), treats
# ',' and '=' as separators, and reads '*', '?', '[', '|' in a match value as a glob:
# only characters with no meaning at all are let through.
_UDEV_CHARS = "._:-"


def udev_value(value, field="value"):
    """A value between the double quotes of a udev rule, or a udev comment."""
    text = _text(value, field)
    _charset(text, field, _ascii_in(_UDEV_CHARS), "a udev rule", "A-Z a-z 0-9 . _ : -")
    return value


def smsdrc_value(value, field="value"):
    """The value of a ``key = value`` line of a gammu-smsdrc (INI) file, or a comment there.

    Gammu's INI reader ends a line at CR or LF and keeps everything else after the
    '=' but the surrounding blanks; a NUL cuts the value short. So no control or
    line-breaking character (which would start a new key or a new [section]), and no
    leading or trailing blank (Gammu would read another value than the one meant).
    """
    text = _text(value, field)
    if not text:
        raise DestinationError("%s is empty; gammu-smsd would ignore the key" % field)
    _invisible(text, field, "a gammu-smsdrc value")
    if text != text.strip():
        raise DestinationError("%s starts or ends with a blank, which gammu-smsd drops" % field)
    return value


# Inside a named.conf string '\' escapes and '"' ends it; ';', '{' and '}' are what an
# injection needs once outside. None of them has a place in a zone or file name.
_NAMED_FORBIDDEN = '"\\;{}'


def named_string(value, field="value"):
    """The value as a double-quoted named.conf string (quotes included)."""
    text = _text(value, field)
    if not text:
        raise DestinationError("%s is empty; named.conf needs a name here" % field)
    _invisible(text, field, "a named.conf string")
    for index, char in enumerate(text):
        if char in _NAMED_FORBIDDEN:
            _refuse(field, text, index, "a named.conf string", ' (none of " \\ ; { })')
    return '"%s"' % text


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(r"(?:%s\.)*%s\.?\Z" % (_LABEL, _LABEL))


def dns_name(value, field="value"):
    """A host name of LDH labels (an optional final dot) for a zone file or named.conf.

    A zone file gives ';', '(', ')', '"', '$', '@', '\\' and blanks a meaning of their
    own: a name made of letters, digits, inner hyphens and dots has none of them.
    """
    text = _text(value, field)
    if len(text.rstrip(".")) > 253 or not _HOST_NAME.match(text):
        _invisible(text, field, "a DNS name")
        raise DestinationError("%s is not a host name of letters, digits and inner hyphens "
                               "(labels of 1 to 63 characters, at most 253 in all)" % field)
    return value


def dns_ttl(value, field="value"):
    """A TTL in seconds (RFC 2181: 0 to 2^31 - 1), as the integer it is."""
    if isinstance(value, bool):
        raise DestinationError("%s must be a number of seconds" % field)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,10}", value):
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise DestinationError("%s must be a number of seconds" % field)
    if not 0 <= number <= 2 ** 31 - 1:
        raise DestinationError("%s is not a TTL between 0 and 2147483647 seconds" % field)
    return value


def ldif_value(value, field="value"):
    """An attribute value written after ``name: `` in an LDIF file (RFC 2849 SAFE-STRING).

    A line break would end the attribute (and a blank line the entry); a value that
    begins with a blank, ':' or '<' is read as continued, base64 or a URL.
    """
    text = _text(value, field)
    _invisible(text, field, "an LDIF value")
    if text[:1] in (" ", ":", "<"):
        _refuse(field, text, 0, "the start of an LDIF value")
    if text.endswith(" "):
        raise DestinationError("%s ends with a blank, which LDIF readers may drop" % field)
    return value


_RDN = re.compile(r"[A-Za-z][A-Za-z0-9-]*=[A-Za-z0-9._-](?:[A-Za-z0-9 ._-]*[A-Za-z0-9._-])?\Z")


def ldap_dn(value, field="value"):
    """A DN of plain ``attr=value`` RDNs, none of which needs escaping (RFC 4514).

    The role writes DNs into LDIF and into the double-quoted DNs of access rules:
    ',', '+', '"', '\\', '<', '>', ';', '#' and '=' in a value would change which entry
    or rule is meant, so a DN that needs them is refused rather than escaped.
    """
    text = _text(value, field)
    ldif_value(text, field)
    rdns = text.split(",")
    for rdn in rdns:
        if not _RDN.match(rdn):
            raise DestinationError("%s: RDN %s is not attr=value of letters, digits, blanks, "
                                   "'.', '_' and '-'" % (field, ascii(rdn)))
    return value


# systemd's unit name characters are ASCII letters, digits, ':', '-', '_', '.' and '\'
# (the last only as systemd-escape writes it): an instance name with none of the
# escapes is the same name for systemctl, for %i and for a file name.
_SYSTEMD_CHARS = ":-_."


def systemd_instance(value, field="value"):
    """The instance part of ``unit@instance.service``."""
    text = _text(value, field)
    _charset(text, field, _ascii_in(_SYSTEMD_CHARS), "a systemd unit name",
             "A-Z a-z 0-9 : - _ .")
    if text.startswith("-") or text.startswith("."):
        _refuse(field, text, 0, "the start of a systemd unit name")
    if len(text) > 200:
        raise DestinationError("%s is longer than a systemd unit name allows" % field)
    return value


def file_component(value, field="value"):
    """One component of a path: never '.', '..', empty, nor with '/', NUL or a line break.

    A leading '-' is refused too, so the name can never be read as an option by a
    command that gets the path as an argument.
    """
    text = _text(value, field)
    if text in ("", ".", ".."):
        raise DestinationError("%s %s is not a file name" % (field, ascii(text)))
    _invisible(text, field, "a file name")
    for index, char in enumerate(text):
        if char in "/\\":
            _refuse(field, text, index, "a file name", " (a path separator)")
    if text.startswith("-"):
        _refuse(field, text, 0, "the start of a file name")
    if len(text.encode("utf-8")) > 255:
        raise DestinationError("%s is longer than a file name may be (255 bytes)" % field)
    return value


def path_inside(directory, *components, field="value"):
    """``directory/c1/c2...``, each component a :func:`file_component`, checked to stay inside.

    The result is also compared, once normalised, with ``directory``: a caller that
    passes a component with a separator by mistake still never leaves it.
    """
    for component in components:
        file_component(component, field)
    path = os.path.join(directory, *[str(c) for c in components])
    base = os.path.normpath(directory)
    if os.path.commonpath([base, os.path.normpath(path)]) != base:
        raise DestinationError("%s leaves %s" % (field, directory))
    return path
