"""A finding of the validator: where, which rule, which article, what to do."""

ERROR = "error"
WARNING = "warning"

# Requirements that come from technical standards rather than a city regulation:
# their "article" is the same in every city.
BUILTIN_ARTICLES = {
    "REG": "registry format, docs/registry-format.md",
    "DNS": "RFC 1034 3.6.2, RFC 1035, RFC 2181 10.1",
    "GSM": "3GPP TS 23.038 (SMS alphabets and segments)",
}


class Finding:
    __slots__ = ("severity", "rule", "requirement", "file", "path", "at", "message", "fix",
                 "line", "column", "article")

    def __init__(self, severity, rule, requirement, file, path, message, fix, at="value",
                 line=0, column=0):
        self.severity = severity
        self.rule = rule
        self.requirement = requirement
        self.file = file
        self.path = tuple(path)
        self.at = at
        self.message = message
        self.fix = fix
        self.line = line
        self.column = column
        self.article = ""

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__ if name != "path"} | {
            "path": "/".join(str(p) for p in self.path)}

    def format(self):
        where = "%s:%d:%d" % (self.file, self.line, self.column)
        text = "%s: %s [%s] %s: %s" % (where, self.severity, self.rule, self.article,
                                       self.message)
        if self.fix:
            text += "\n    fix: " + self.fix
        return text

    def sort_key(self):
        return (self.file, self.line, self.column, self.rule, self.message)


SHOWN_LIMIT = 60


def shown(value, limit=SHOWN_LIMIT):
    """``repr`` of a registry value cut to ``limit`` characters: a message never embeds an
    unbounded value (an alias bomb, a 50 MB string) however large the input."""
    if isinstance(value, (dict, list, tuple)):
        return "a %s of %d item%s" % ("mapping" if isinstance(value, dict) else "list",
                                      len(value), "" if len(value) == 1 else "s")
    text = repr(value) if isinstance(value, str) else repr(value)[:limit + 1]
    if len(text) <= limit:
        return text
    return text[:limit - 3] + "...'"
