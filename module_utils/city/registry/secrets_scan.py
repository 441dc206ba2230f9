"""Find secrets written into registry text (E6): by shape and by name, in keys, values
and comments alike.

It reads the raw text rather than the parsed data: a password pasted into a comment
leaks as surely as one in a value, and a few regular expressions over the text are far
cheaper than a walk over every parsed string.

Two kinds of evidence:

* **Shapes** that are secrets wherever they stand: an ansible-vault value, a PEM or age
  private key, a password hash (``{SSHA}...``, ``$6$...``, bcrypt, argon2), a JSON Web Token, a
  token with a well-known prefix (AWS ``AKIA...``, GitHub ``ghp_...``, Slack ``xox?-``,
  Google ``AIza...``, GitLab ``glpat-``). These cannot be marked as false positives.
* **Names** of secrets, English and Indonesian (password, passwd, passphrase, pass, pwd,
  PIN, PUK, secret, token, credentials, API key, private key, TSIG, sandi, kata sandi,
  rahasia, kunci rahasia, kunci privat, ...), with a value after them: a YAML key
  (``smtp_password: x``, ``pin_sim: 1234``, also commented out or in a flow mapping)
  holding a scalar; in prose (a comment, a display name) the word followed by ``:``,
  ``=`` or a space and something shaped like a password (``PIN: 4817``, ``pwd=x``,
  ``kata sandi Bekasi2026``, ``secret "c2VjcmV0..."``). A key that holds a mapping, a
  list, a boolean or a small number holds no secret; nor does a key whose name ends in
  what it describes (``password_min_length``, ``password_resets``, ``pin_vault_key``).
  A line that carries the comment ``# e6: not-a-secret`` gives no name finding.

The scan runs a handful of regular expressions, each starting with a literal so that it
skips through the text at the speed of a string search, and looks closer only at their
few hits: it is linear in the text and stays far below the time of parsing it.
"""
import re

from ansible.module_utils.city.registry.findings import ERROR, Finding, shown

RULE = "E6-SECRET"
REQUIREMENT = "E6"
MARKER = "# e6: not-a-secret"
_MARKER = re.compile(r"(?:^|[ \t])#[^\n]*?\be6:[ \t]*not-a-secret\b",
                     re.IGNORECASE | re.MULTILINE)

# --- names -------------------------------------------------------------------------
# Components of a key that, after the secret's name, say the key describes the secret or
# where it lives rather than holds it: password_min_length, password_resets, pin_vault_key.
_META = frozenset((
    "policy", "policies", "min", "max", "minimum", "maximum", "length", "len", "size",
    "class", "classes", "complexity", "strength", "reset", "resets", "history", "age",
    "expiry", "expires", "expire", "expiration", "lifetime", "ttl", "rotation", "rotated",
    "rotate", "change", "changed", "required", "require", "enabled", "enable", "disabled",
    "rule", "rules", "vault", "file", "path", "ref", "reference", "count", "retries",
    "attempts", "lockout", "format", "pattern", "type", "kind", "name", "id", "user",
    "username", "owner", "url", "uri", "endpoint", "algorithm", "algo", "digits",
    "chars", "days", "panjang", "minimal", "maksimal", "kebijakan", "jenis", "nama",
    "berkas", "lokasi",
))


def _trie(words):
    """One regular expression for ``words`` that tests a character at a time (an
    alternation of 90 words would try each of them)."""
    heads = {}
    for word in words:
        heads.setdefault(word[0], []).append(word[1:])
    parts = []
    for head in sorted(heads):
        rests = heads[head]
        empty = "" in rests
        rests = [r for r in rests if r]
        if not rests:
            parts.append(re.escape(head))
            continue
        inner = _trie(rests)
        parts.append("%s(?:%s)%s" % (re.escape(head), inner, "?" if empty else ""))
    return "|".join(parts)


# On the lowercased text. Each expression starts with a literal (fast search) and
# decides what it can without leaving the regular expression engine: the word must end
# there ("pimpinan", "pinjam", "tokenisasi", "pukul", "secretariat" do not), must not be
# followed by a word saying the key describes it (password_min_length: a legitimate
# registry may hold thousands), and must have something after it that can be a value
# (a ":" or "=", or a digit or a quote close by: "PIN 4817", not "PIN secara berkala").
_END = (r"(?:s|nya)?(?![a-z])(?![_.-](?:%s)(?![a-z]))"
        r"(?=[a-z0-9_.-]{0,64}[\"'`)]?[ \t]*(?:[:=][^\n]|"
        r"[ \t]+(?:[a-z]{2,10}:?[ \t]+)?(?:[\"'`]|[^\s]{0,24}?[0-9])))" % _trie(_META))
_WORD_RES = (
    re.compile(r"p(?:ass(?:word|wd|phrase|code)?|wd?|in|uk|rivate?(?:[ _.-]?key)?)" + _END),
    re.compile(r"s(?:ecret|andi)" + _END),
    re.compile(r"t(?:oken|sig)" + _END),
    re.compile(r"credential" + _END),
    re.compile(r"api[ _.-]?key" + _END),
    re.compile(r"rahasia" + _END),
)
# Words that may follow anything (smtppassword, smtpPassword); the others need a word
# boundary before them ("spin", "persandian", "kapi key").
_GLUED = ("password", "passwd", "passphrase", "passcode", "credential")
_KINDS = {
    "pass": "a password", "password": "a password", "passwd": "a password",
    "passphrase": "a passphrase", "passcode": "a passcode", "pw": "a password",
    "pwd": "a password", "sandi": "a password", "pin": "a PIN", "puk": "a PUK",
    "secret": "a secret", "rahasia": "a secret", "token": "a token",
    "credential": "credentials", "tsig": "a TSIG key", "private": "a private key",
    "privat": "a private key", "privatekey": "a private key", "privatkey": "a private key",
    "apikey": "an API key",
}
_BOOL_NULL = frozenset(("true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
                        "none", "-"))
_CONNECTORS = ("adalah", "ialah", "yaitu", "yakni", "is", "baru", "lama", "awal",
               "sementara", "default", "bawaan")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_KEY_TAIL = re.compile(r"[a-z0-9_.-]{0,64}")
# Where a YAML key starts: after indentation and "- ", or in a flow mapping after "{" or
# ","; and a key commented out: at the start of a comment.
_KEY_POSITION = re.compile(r"(?:[ \t]*(?:-[ \t]+)*|[^\n#]*[{,][ \t]*)[\"']?\Z")
_COMMENTED_KEY = re.compile(r"(?:^|[ \t])#[ \t]*(?:-[ \t]+)*[\"']?\Z")
_COMMENT_START = re.compile(r"(?:^|[ \t])#")
_TOKEN = re.compile(r"[^\s\"'`,;()\[\]{}<>]{1,512}")
_INDENT = re.compile(r"[ \t]{0,512}")
_SPACES = re.compile(r"[ \t]*")
_WORD = re.compile(r"[^ \t]*")
_NUMBER = re.compile(r"[-+]?[0-9][0-9_]*(?:\.[0-9]+)?")
_WINDOW = 512  # how far from a hit the scan looks for its line, key and value
# Places the scan looks closer at, in one file, before it gives up with an error: the
# example city has a dozen; a text made of nothing but secret-looking words would
# otherwise cost a few microseconds each.
MAX_CANDIDATES = 20000

# --- shapes ------------------------------------------------------------------------
# On the text as written (case matters). Each starts with a literal.
_HASH_SCHEMES = (r"ssha(?:256|512)?|sha(?:256|512)?|s?md5|crypt|argon2(?:id|i|d)?|"
                 r"pbkdf2[-a-z0-9]*|blf-crypt|(?:sha256|sha512|md5|des)-crypt|bcrypt|"
                 r"cram-md5|digest-md5|plain(?:-md5)?|clear(?:text)?|ldap-md5|"
                 r"scram-sha-(?:1|256)")
_SHAPES = (  # (expression, kind): always a secret, whatever a marker says
    (re.compile(r"\$(?:(ANSIBLE_VAULT);|(argon2(?:id|i|d)|2[abxy]?|[1567]|y|gy|apr1|sha1|md5|"
                r"pbkdf2(?:-sha[0-9]+)?|scrypt)\$[./A-Za-z0-9=,+$-]{8,})"), "dollar"),
    (re.compile(r"!vault\b"), "vault-tag"),
    (re.compile(r"\{(%s)\}[^\s\"',}]{4,}" % _HASH_SCHEMES, re.IGNORECASE), "scheme"),
    (re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----"), "pem"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "jwt"),
    (re.compile(r"A(?:(KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA)[0-9A-Z]{16}(?![0-9A-Za-z])|"
                r"(Iza)[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-]))"), "aws-google"),
    (re.compile(r"gh([pousr]_)[A-Za-z0-9]{36,}"), "github"),
    (re.compile(r"github_pat_[A-Za-z0-9_]{22,}"), "github-pat"),
    (re.compile(r"glpat-[A-Za-z0-9_-]{20,}"), "gitlab"),
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), "slack"),
    # The private half of a hand-over key (handover_keys holds the public "age1...").
    (re.compile(r"AGE-(SECRET-KEY|PLUGIN-[A-Z0-9]+)-1[0-9A-Z]{20,}"), "age"),
)
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

_WHERE = {"key": "under the key %s", "comment": "after %s in a comment",
          "value": "after %s inside a value"}
_EXPECTED = "expected no secret anywhere in the registry text, comments included"
_FIX_COMMON = ("remove it and rotate it (a secret that reached a merge request is known); "
               "secrets live in ansible-vault, inventory/<env>/group_vars/all/vault.yml, "
               "never in the registry")
_FIX_NAME = _FIX_COMMON + ("; if it is not a secret, end the line with the comment '%s' "
                           "(docs/registry-format.md)" % MARKER)
_STOPPED_MESSAGE = ("over %d places in this file look like secrets (names of secrets with "
                    "values, or shapes of secrets): the scan stopped here; expected a "
                    "registry with no secret" % MAX_CANDIDATES)
_STOPPED_FIX = ("remove the secrets and the secret-looking text, then validate again: the "
                "registry holds no secret (E6)")
_FIX_SHAPE = _FIX_COMMON + "; this shape is always a secret and cannot be marked as one that is not"


def scan(text, display):
    """Findings for every secret in ``text``: one per line, at the secret's line and
    column, saying what kind of secret and where, never the secret itself."""
    low = text.lower()
    if len(low) != len(text):  # only U+0130 lowercases to two characters
        low = text.replace("\u0130", "i").lower()
    hits = []
    budget = MAX_CANDIDATES
    for expression in _WORD_RES:
        skip = 0
        for match in expression.finditer(low):
            if match.start() < skip:
                continue  # the line has a finding already
            budget -= 1
            if budget < 0:
                return _findings(text, hits, display, stopped=match.start())
            hit = _name_hit(text, low, match.start(), match.end())
            if hit is not None:
                hits.append(hit)
                skip = _line_end(low, hit[0])
    for expression, kind in _SHAPES:
        skip = 0
        for match in expression.finditer(text):
            if match.start() < skip:
                continue
            budget -= 1
            if budget < 0:
                return _findings(text, hits, display, stopped=match.start())
            hit = _shape_hit(text, match, kind)
            if hit is not None:
                hits.append(hit)
                skip = _line_end(low, hit[0])
    if not hits:
        return []
    return _findings(text, hits, display)


def _line_end(low, pos):
    end = low.find("\n", pos)
    return len(low) if end == -1 else end


# --- a name and its value ----------------------------------------------------------

def _name_hit(text, low, start, end):
    word = low[start:end]
    stem = word.replace(" ", "").replace("_", "").replace(".", "").replace("-", "")
    if stem.endswith("nya"):
        stem = stem[:-3]
    if stem not in _KINDS and stem.endswith("s"):
        stem = stem[:-1]
    if stem not in _KINDS:
        return None
    if stem == "secret" and low.endswith("not-a-", max(0, start - 6), start):
        return None  # the marker itself
    written_start = start
    if stem in ("private", "privat", "sandi", "rahasia"):
        prefixes = ("kata ", "kata_", "kata-", "kata") if stem == "sandi" else (
            "kunci ", "kunci_", "kunci-", "kunci")
        for prefix in prefixes:
            if low.endswith(prefix, max(0, start - len(prefix)), start):
                written_start = start - len(prefix)
                break
        if stem.startswith("privat") and written_start == start:
            return None  # "private" alone: not a private key
    if stem not in _GLUED and written_start == start and start > 0:
        prev = text[start - 1]
        if prev.isalnum() and not (prev.islower() and text[start].isupper()):
            return None  # inside a word: spin, persandian, kapi key
    # The key (or word) around the name: smtp_password, pin_sim, sandi_email.
    key_start = written_start
    floor = max(0, written_start - 64)
    while key_start > floor and low[key_start - 1] in _KEY_CHARS:
        key_start -= 1
    key_end = _KEY_TAIL.match(low, end).end()
    if _describes(low[end:key_end]):
        return None
    floor = max(0, key_start - _WINDOW)
    line_start = low.rfind("\n", floor, key_start) + 1 or floor
    line_end = low.find("\n", key_end, key_end + _WINDOW)
    if line_end == -1:
        line_end = min(len(low), key_end + _WINDOW)
    pos = key_end
    if pos < line_end and low[pos] in "\"'" and key_start > 0 and low[key_start - 1] == low[pos]:
        pos += 1  # a quoted key: "kata sandi": ...
    pos = _SPACES.match(low, pos, line_end).end()
    char = low[pos] if pos < line_end else "\n"
    prefix = low[line_start:key_start]
    in_comment = "#" in prefix and _COMMENT_START.search(prefix) is not None
    name = text[written_start:end]
    if char == ":":
        spaced = pos + 1 >= line_end or low[pos + 1] in " \t\r"
        if spaced and not in_comment and (not prefix.strip(" \t-\"'") or "{" in prefix
                                          or "," in prefix) and _KEY_POSITION.match(prefix):
            # A YAML key, or a key of a flow mapping: any scalar it holds is a secret.
            at = _key_value(text, low, pos + 1, line_start, line_end,
                            "{" in prefix or "," in prefix)
            if at is None:
                return None
            return (at, stem, "key", text[key_start:key_end], False)
        whole = spaced and in_comment and _COMMENTED_KEY.search(prefix) is not None
        return _prose(text, low, stem, name + ":", pos + 1, line_end, ":", in_comment, whole)
    if char == "=":
        return _prose(text, low, stem, name + "=", pos + 1, line_end, "=", in_comment, False)
    if pos > key_end and char not in "#\n\r":
        return _prose(text, low, stem, name, pos, line_end, " ", in_comment, False)
    return None


def _describes(tail):
    """True for a key whose name, after the secret's word, says what it describes or
    where the secret lives: password_min_length, password_resets, pin_vault_key."""
    return bool(tail) and any(part in _META for part in re.split(r"[_.-]+", tail))


def _key_value(text, low, pos, line_start, line_end, flow):
    """Offset of the secret held by a key whose ':' ends at ``pos``, or None when the key
    holds no secret (a mapping, a list, a boolean, null, a small number, an alias)."""
    pos = _SPACES.match(low, pos, line_end).end()
    for dummy in range(3):  # an anchor and a tag may come before the value
        if pos >= line_end or low[pos] in "#\r":
            return None  # a mapping or a list follows, or null
        char = low[pos]
        if char in "[{*":
            return None  # a flow collection (its keys are scanned on their own) or alias
        if char in "|>":
            nxt = line_end + 1
            if nxt < len(low) and low[nxt] not in "\r\n" and \
                    _indent(low, nxt) > _indent(low, line_start):
                # A block scalar: the secret is on the next lines; reported at the "|"
                # so that the finding shares the key's line with the schema's.
                return pos
            return None
        if char in "&!":
            if low.startswith("!vault", pos):
                return None  # reported as an ansible-vault value
            pos = _SPACES.match(low, _WORD.match(low, pos, line_end).end(), line_end).end()
            continue
        break
    else:
        return None
    if low[pos] in "\"'":
        quote = low[pos]
        close = low.find(quote, pos + 1, line_end)
        value = text[pos + 1:close if close != -1 else line_end].strip()
        pos += 1  # the secret starts inside the quotes
    else:
        stop = line_end
        comment = low.find(" #", pos, line_end)
        if comment != -1:
            stop = comment
        if flow:
            for sep in ",}]":
                index = low.find(sep, pos, stop)
                if index != -1:
                    stop = index
        value = text[pos:stop].strip()
    if not value or value.lower() in _BOOL_NULL or "{{" in value or "{%" in value:
        return None  # nothing, a boolean, or a template (REG-TEMPLATE reports it)
    if _NUMBER.fullmatch(value) and sum(c.isdigit() for c in value) < 4:
        return None  # a count or a length, not a PIN
    return pos


def _indent(low, start):
    return _INDENT.match(low, start).end() - start


def _prose(text, low, stem, name, pos, line_end, sep, in_comment, whole):
    """A name in a comment or inside a value, and what follows it: a finding when that
    looks like a password rather than a word of the sentence. ``whole``: the name starts
    a comment (a key commented out), where a lone word after it is a value too."""
    pos = _SPACES.match(low, pos, line_end).end()
    if sep == " ":
        match = _TOKEN.match(low, pos, line_end)
        if match and match.group(0).rstrip(":") in _CONNECTORS:
            pos = match.end()
            if pos < line_end and low[pos] == ":":
                pos += 1
            pos = _SPACES.match(low, pos, line_end).end()
    if pos >= line_end:
        return None
    quoted = low[pos] in "\"'`"
    if quoted:
        close = low.find(low[pos], pos + 1, min(line_end, pos + 514))
        if close == -1:
            return None
        token = text[pos + 1:close]
        if not token or any(c.isspace() for c in token):
            return None
        at = pos + 1
    else:
        match = _TOKEN.match(text, pos, line_end)
        if not match:
            return None
        token = match.group(0)
        at = pos
        if sep == "=" and token.startswith("="):
            return None  # base64 padding, not an assignment
        if whole and text[match.end():line_end].strip():
            whole = False  # more words follow: a sentence
        token = token.rstrip(".:!?")
    if not token or token.lower() in _BOOL_NULL or "{{" in token:
        return None
    if not (_looks_secret(token, sep, quoted, stem) or (whole and len(token) >= 4)):
        return None
    return (at, stem, "comment" if in_comment else "value", name, False)


def _looks_secret(token, sep, quoted, stem):
    if sep == "=":
        return len(token) >= 3
    if quoted:
        return len(token) >= 4
    if len(token) < 4:
        return False
    digit = any(c.isdigit() for c in token)
    if sep == ":":
        return digit or not token.isalnum() or any(c.isupper() for c in token[1:])
    # "kata sandi Bekasi2026", "PIN 4817", "token 8f3c9a..."; not "PIN secara berkala"
    # nor "Sandi 2025" (a year after a name).
    return digit and (any(c.isalpha() for c in token) or stem in ("pin", "puk"))


# --- shapes ------------------------------------------------------------------------

def _shape_hit(text, match, kind):
    start = match.start()
    if kind in ("jwt", "aws-google", "github", "github-pat", "gitlab", "slack"):
        if start > 0 and text[start - 1] in _TOKEN_CHARS:
            return None  # inside a longer run: base64 of a key or a signature
    if kind == "dollar":
        if match.group(1):
            return (start, "vault", "shape", "$ANSIBLE_VAULT", True)
        return (start, "hash", "shape", "$%s$" % match.group(2), True)
    if kind == "vault-tag":
        return (start, "vault", "shape", "!vault", True)
    if kind == "scheme":
        return (start, "hash", "shape", "{%s}" % match.group(1).upper(), True)
    if kind == "pem":
        return (start, "pem", "shape", "BEGIN %sPRIVATE KEY" % match.group(1), True)
    if kind == "jwt":
        return (start, "jwt", "shape", "eyJ...", True)
    if kind == "aws-google":
        if match.group(1):
            return (start, "aws", "shape", "A%s..." % match.group(1), True)
        return (start, "google", "shape", "AIza...", True)
    if kind == "github":
        return (start, "github", "shape", "gh%s..." % match.group(1), True)
    if kind == "github-pat":
        return (start, "github", "shape", "github_pat_...", True)
    if kind == "gitlab":
        return (start, "gitlab", "shape", "glpat-...", True)
    if kind == "age":
        return (start, "age", "shape", "AGE-%s-1..." % match.group(1), True)
    return (start, "slack", "shape", "%s..." % match.group(0)[:5], True)


_SHAPE_KINDS = {
    "vault": "an ansible-vault encrypted value (%s)",
    "hash": "a password hash (%s)",
    "pem": "a private key (a PEM '%s' block)",
    "jwt": "a JSON Web Token (%s)",
    "aws": "an AWS access key (%s)",
    "google": "a Google API key (%s)",
    "github": "a GitHub token (%s)",
    "gitlab": "a GitLab token (%s)",
    "slack": "a Slack token (%s)",
    "age": "an age private key (%s)",
}


def _message(stem, where, name):
    if where == "shape":
        return "%s; %s" % (_SHAPE_KINDS[stem] % name, _EXPECTED)
    if where == "key":
        return "%s %s; %s" % (_KINDS[stem], _WHERE["key"] % shown(name), _EXPECTED)
    return "%s %s; %s" % (_KINDS[stem], _WHERE[where] % shown(name), _EXPECTED)


def _findings(text, hits, display, stopped=None):
    if stopped is not None:
        hits.append((stopped, "stopped", "stopped", "", True))
    hits.sort(key=lambda hit: hit[0])
    chosen = []  # (line, column, hit, line_start)
    line, line_start, scanned = 1, 0, 0
    for hit in hits:
        at = hit[0]
        newlines = text.count("\n", scanned, at)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, at) + 1
        scanned = max(scanned, at)
        column = at - line_start + 1
        if chosen and chosen[-1][0] == line:
            if hit[4] and not chosen[-1][2][4]:
                chosen[-1] = (line, column, hit, line_start)  # the surer one of the line
            continue  # one finding a line: one line to look at
        if hit[3] == "$ANSIBLE_VAULT" and chosen and chosen[-1][0] == line - 1 and \
                chosen[-1][2][3] == "!vault":
            continue  # the header of the value tagged !vault on the line before
        chosen.append((line, column, hit, line_start))
    out = []
    for line, column, (_at, stem, where, name, unmistakable), line_start in chosen:
        if not unmistakable:
            end = text.find("\n", line_start)
            if _MARKER.search(text, line_start, end if end != -1 else len(text)):
                continue
        if stem == "stopped":
            out.append(Finding(ERROR, RULE, REQUIREMENT, display, (), _STOPPED_MESSAGE,
                               _STOPPED_FIX, line=line, column=column))
            break
        out.append(Finding(ERROR, RULE, REQUIREMENT, display, (), _message(stem, where, name),
                           _FIX_SHAPE if unmistakable else _FIX_NAME, line=line, column=column))
    return out
