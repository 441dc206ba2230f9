"""People's names as written in personnel files, and the mail local parts made of them.

Indonesian personnel files write names with academic, religious and honorific
titles: "Dr. H. Ahmad Fauzi, S.Kom., M.T.". Mail addresses (E2) and SMS user IDs
(S4) use the bare name: "ahmad.fauzi".
"""
import re
import unicodedata

# Titles written before the name without their dot ("Dr Ahmad", "H Ahmad").
# Case-sensitive on purpose: a name token that spells one in another case is kept.
_PREFIX_TITLES = frozenset((
    "Dr", "dr", "DR", "Drs", "DRS", "Dra", "DRA", "drg", "Drg", "drh", "Drh",
    "Ir", "IR", "H", "Hj", "HJ", "Prof", "PROF", "KH", "Hc", "HC", "Rr", "apt", "Ns",
))
# A leading token of two or more letters and a dot is a title ("Dr.", "dr.", "Hj.",
# "Prof.", "Ns."), except these abbreviated given names ("Moh. Rizal").
_NAME_ABBREVIATIONS = frozenset((
    "mh.", "mhd.", "moh.", "moch.", "mochd.", "mohd.", "muh.", "much.", "muhd.",
    "abd.", "ach.",
))
# A single letter and a dot is an initial ("A. Syaikhu", "M. Yusuf") except Haji
# and Raden; "K.H." (Kiai Haji) is handled as a pair.
_SINGLE_LETTER_TITLES = frozenset(("H.", "h.", "R.", "r."))
# Degrees written after the name without a comma: letters with a dot between
# letters ("S.Kom", "M.T.", "Ph.D", "A.Md.Kep.") or one of these.
_SUFFIX_TITLES = frozenset((
    "MBA", "MPA", "MPH", "MSc", "MM", "MT", "MSi", "PhD", "CA", "Ak", "Ak.", "SE",
    "SH", "ST", "SKom", "SPd", "SIP", "SSos", "AMd", "Amd",
))
_DEGREE_RE = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)+\.?")
_PIECE_RE = re.compile(r"[^.]*\.?")
# "(HC)", "(Purn.)": a bracketed word before or after the name is a title.
_BRACKETED_RE = re.compile(r"\([^()]*\)")
_APOSTROPHES = "'\u2018\u2019\u02bc\u02bb`\u00b4\u2032"
# Letters NFKD does not decompose into ASCII.
_TRANSLATE = str.maketrans({
    **{a: None for a in _APOSTROPHES},
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ı": "i",
})
_NON_ALNUM_RE = re.compile(r"[^A-Za-z0-9]+")
_LOCALPART_SPLIT_RE = re.compile(r"[._-]")
_ALPHA_RE = re.compile(r"[a-z]+")
_TRAILING_DIGITS_RE = re.compile(r"[0-9]+$")


def _check(value, what):
    """Return value if it is a str, else raise ValueError naming what it should be."""
    if not isinstance(value, str):
        raise ValueError("%s must be a string, not %s" % (what, type(value).__name__))
    return value


def _leading_title(token):
    """Length of the title at the start of token ("Dr.", "K.H.", "Hj"), 0 if none."""
    if token.startswith(("K.H.", "k.h.")):
        return 4
    if _BRACKETED_RE.fullmatch(token):
        return len(token)
    piece = _PIECE_RE.match(token).group()
    if not piece.endswith("."):
        return len(piece) if piece in _PREFIX_TITLES else 0
    if len(piece) == 2:
        return 2 if piece in _SINGLE_LETTER_TITLES else 0
    if len(piece) > 2 and piece.lower() not in _NAME_ABBREVIATIONS:
        return len(piece)
    return 0


def _is_suffix_title(token):
    """True when a trailing token is a degree written without a comma before it."""
    return (token in _SUFFIX_TITLES or _DEGREE_RE.fullmatch(token) is not None
            or _BRACKETED_RE.fullmatch(token) is not None)


def strip_titles(name):
    """The name without the titles before it ("Dr.", "H.", "Prof.") and after it (", S.Kom.").

    Everything after the first comma is titles; so are trailing degrees written
    without a comma ("S.Kom", "M.T.", "MBA"); leading tokens of two or more
    letters ending with a dot ("Dr.", "dr.", "Hj.", "Prof."); "H.", "R." and
    "K.H."; known titles written without a dot ("Dr", "H", "Hj"); and bracketed
    words ("(HC)", "(Purn.)") at either end. Single-letter initials ("A. Syaikhu")
    and abbreviated given names ("Moh.", "Muh.", "Abd.") are kept. Titles run
    together ("Dr.H.Ahmad") are split. Returns "" if only titles remain.
    """
    head = _check(name, "name").split(",", 1)[0]
    tokens = head.split()
    while len(tokens) > 1 and _is_suffix_title(tokens[-1]):
        tokens.pop()
    while tokens:
        length = _leading_title(tokens[0])
        if not length:
            break
        if length < len(tokens[0]):
            tokens[0] = tokens[0][length:]
        else:
            tokens.pop(0)
    return " ".join(tokens)


def transliterate(text):
    """ASCII letters and digits of text: accents dropped, apostrophes removed, the rest spaces.

    "Ma'ruf Amín" -> "Maruf Amin". Runs of other characters become one space;
    the result has no leading or trailing space. Case is kept.
    """
    if _check(text, "text").isascii():  # most names: nothing to decompose
        ascii_text = text.replace("'", "").replace("`", "")
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLATE))
        ascii_text = decomposed.encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM_RE.sub(" ", ascii_text).strip()


def name_tokens(name):
    """The lowercase ASCII tokens of a name without its titles."""
    return transliterate(strip_titles(name)).lower().split()


def name_to_localpart(name, separator="."):
    """Mail local part of a person: "Dr. H. Ahmad Fauzi, S.Kom., M.T." -> "ahmad.fauzi"."""
    _check(separator, "separator")
    tokens = name_tokens(name)
    if not tokens:
        raise ValueError("name %r has no letters or digits left after removing titles"
                         % (name,))
    return separator.join(tokens)


def _match_token(token, words):
    """How token is made of consecutive name words, each whole or as its initial.

    Returns 2 if some reading uses a whole word (of 2+ letters), 1 if only
    initials fit, 0 if the token cannot be read from the name.
    """
    best = 0
    n = len(token)

    def walk(pos, index, whole):
        nonlocal best
        if pos == n:
            best = max(best, 2 if whole else 1)
            return best == 2
        if index == len(words):
            return False
        word = words[index]
        if len(word) > 1 and token.startswith(word, pos):
            if walk(pos + len(word), index + 1, True):
                return True
        if token[pos] == word[0]:
            return walk(pos + 1, index + 1, whole)
        return False

    for start in range(len(words)):
        if walk(0, start, False):
            break
    return best


def localpart_matches_name(localpart, name):
    """True when a local part (or user ID) plausibly names this person.

    Its tokens (split on "." "_" "-", trailing digits dropped: "budi.santoso2") must
    each be a token of the name, its initial, or several consecutive ones run
    together ("budisantoso", "bsantoso"), in any order, and at least one whole name
    token must be used: for "Budi Santoso", "budi.santoso", "b.santoso",
    "santoso.budi" and "budi" match; "andi.santoso" and "b.s" do not.
    """
    words = name_tokens(name)
    parts = [_TRAILING_DIGITS_RE.sub("", p)
             for p in _LOCALPART_SPLIT_RE.split(_check(localpart, "local part").lower())]
    parts = [p for p in parts if p]
    if not words or not parts:
        return False
    if parts == words and all(_ALPHA_RE.fullmatch(p) for p in parts):
        return True  # the usual case, the name's own tokens in order: no search needed
    whole = False
    for part in parts:
        if not _ALPHA_RE.fullmatch(part):
            return False
        found = _match_token(part, words)
        if not found:
            return False
        whole = whole or found == 2
    return whole
