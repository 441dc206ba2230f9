"""Rules over the SMS Center: secretariat, users, keywords, gateways, blasts (S1-S9).

Each problem is reported once: what the JSON schema checks (types, enums, the form of
keywords, group names, person ids, timestamps) is not checked again here, and what a
rule checks better (public keys, phone numbers, lengths that depend on the policy) has
no pattern in the schema. Messages show registry values through ``shown`` only.
"""
import datetime
import os
import re

from ansible.module_utils.city.sms import signature as blast_signature
from ansible.module_utils.city.registry.context import parse_date
from ansible.module_utils.city.sms import trust as approval_trust
from ansible.module_utils.city.registry.findings import WARNING, shown
from ansible.module_utils.city.registry.gsm import MULTI_GSM7_SEPTETS, SINGLE_GSM7_SEPTETS
from ansible.module_utils.city.registry.gsm import non_gsm_chars, segments
from ansible.module_utils.city.registry.phone import is_mobile, to_e164
from ansible.module_utils.city.registry.rules.base import Problem, reference, rule

F = "sms.yml"
U = "sms-users.yml"
LEFT = ("retired", "moved", "stopped", "deceased")
NON_RECEIPT = "non-receipt"  # the kind of the keyword by which a user reports a missed blast
# A sender ID is an alphanumeric originating address: at most 11 characters (3GPP TS 23.040
# 9.1.2.5); the city's policy may show fewer.
SENDER_ID_MAX = 11
PHONE_TEXT_MAX = 32  # longer than any way of writing a phone number
# An Indonesian mobile number as most are written (0812-3456-7890, +62 812 3456 7890): what
# to_e164 makes of it is the +62 and the digits from the 8 on, and it is a mobile number.
_MOBILE_62 = re.compile(r"(?:\+62|62|0)[ -]?(8(?:[ -]?[0-9]){8,11})")
# Who a basis of sms.yml originators names, by the kind of agency (agencies.yml) they head.
BASIS_HEAD_OF = {"mayor": ("pimpinan", "mayor (Wali Kota)"),
                 "sekda": ("sekretariat-daerah", "Sekretaris Daerah (Sekda)")}


def _line(ctx, relname, path):
    """The line of ``path`` in ``relname`` (for "first at line N")."""
    loaded = ctx.files.get(relname)
    return loaded.locate(path)[0] if loaded is not None else 0


def _cut(text, limit=60):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _who(ctx, person_id):
    """``id (name, position)`` of a person, as far as people.yml knows them."""
    person = ctx.people.get(person_id) if isinstance(person_id, str) else None
    if not person:
        return shown(person_id)
    details = [_cut(person[k]) for k in ("name", "position") if isinstance(person.get(k), str)]
    return "%s (%s)" % (person_id, ", ".join(details)) if details else person_id


def _people_refs(ctx):
    sec = ctx.section(F, "secretariat")
    for role in ("ketua", "sekretaris"):
        yield ("secretariat", role), sec.get(role)
    administrators = sec.get("administrators")
    for index, who in enumerate(administrators if isinstance(administrators, list) else []):
        yield ("secretariat", "administrators", index), who


def _role(path):
    return "administrator %d" % (path[2] + 1) if path[1] == "administrators" else path[1]


@rule("S9-SECRETARIAT", "S9", "Ketua, Sekretaris and Administrators are distinct people of "
      "the secretariat's agency")
def secretariat(ctx):
    home = ctx.roles.get("sms_secretariat_agency")
    seen = {}
    for path, who in _people_refs(ctx):
        if not isinstance(who, str):
            continue
        p = reference(F, path, who, ctx.people, "person", "people.yml")
        if p:
            yield p
            continue
        if who in seen:
            yield Problem(F, path, "%s is %s and also %s of the secretariat (line %d): each role "
                          "is held by a different person" % (
                              _who(ctx, who), _role(path), _role(seen[who]),
                              _line(ctx, F, seen[who])),
                          "name another person as %s: the Ketua, the Sekretaris and each "
                          "Administrator are different people (Pasal 7 ayat (1))" % _role(path))
            continue
        seen[who] = path
        if isinstance(home, str) and not ctx.person_in_agency(who, home):
            yield Problem(F, path, "%s, the %s, is a person of %s, not of %s, which hosts the "
                          "secretariat (city.yml roles.sms_secretariat_agency)" % (
                              _who(ctx, who), _role(path),
                              shown((ctx.people.get(who) or {}).get("agency")), home),
                          "name a person of %s (or of an agency under it) as %s" % (
                              home, _role(path)))


NOT_PINNED = ("not pinned in the inventory; a new key takes a rotation statement signed by a "
              "trusted key")


def _heads_of_kind(ctx, kind):
    return {a.get("head"): code for code, a in ctx.agencies.items()
            if a.get("kind") == kind and isinstance(a.get("head"), str)}


@rule("S1-ORIGINATORS", "S1", "Originators are people of people.yml, listed once, and one whose "
      "basis is mayor or sekda heads that office (agencies.yml)")
def originators(ctx):
    seen = {}
    heads = {}
    for index, entry in ctx.entries(F, "originators"):
        who, basis = entry.get("person"), entry.get("basis")
        if not isinstance(who, str):
            continue
        path = ("originators", index, "person")
        p = reference(F, path, who, ctx.people, "person", "people.yml")
        if p:
            yield p
            continue
        if who in seen:
            yield Problem(F, path, "%s is listed twice as an originator (first at line %d)" % (
                who, _line(ctx, F, ("originators", seen[who], "person"))),
                "keep one entry per person, with the basis on which they originate blasts")
            continue
        seen[who] = index
        if basis not in BASIS_HEAD_OF:
            continue  # authorised: the authorisation names the mayor's or Sekda's letter
        kind, office = BASIS_HEAD_OF[basis]
        if basis not in heads:
            heads[basis] = _heads_of_kind(ctx, kind)
        if who in heads[basis]:
            continue
        if heads[basis]:
            holders = ", ".join("%s, head of %s" % (_who(ctx, h), code)
                                for h, code in sorted(heads[basis].items())[:3])
            message = ("%s has basis %s but is not the %s: agencies.yml names %s" % (
                _who(ctx, who), basis, office, holders))
        else:
            message = ("%s has basis %s, but agencies.yml names no %s: no agency of kind %s has "
                       "a head" % (_who(ctx, who), basis, office, kind))
        yield Problem(F, ("originators", index, "basis"), message,
                      "basis %s is for the %s only, the head of the agency of kind %s in "
                      "agencies.yml: name that person here, or give this one basis: authorised "
                      "with the written authorisation of the mayor or the Sekda (Pasal 6 huruf "
                      "a, Pasal 8)" % (basis, office, kind))


@rule("S2-TRUST", "S2", "The approval trust is pinned in the inventory and every rotation "
      "statement verifies")
def trust_anchor(ctx):
    trust, why = ctx.approval_trust
    if trust is None:
        yield Problem(ctx.approval_root_source, (), why,
                      "pin the Ketua and the keys in inventory/<env>/%s as %s: {ketua, keys} "
                      "(docs/security.md)" % (approval_trust.ROOT_FILE,
                                              approval_trust.ROOT_VAR))
        return
    if trust.problem is not None:
        index, field, message = trust.problem
        yield Problem(approval_trust.TRUST_FILE, ("statements", index) + tuple(field), message,
                      "have the Ketua of trust version %d sign the statement with bin/trust-sign, "
                      "or remove it" % trust.version)


@rule("S2-KETUA", "S2", "The Ketua of sms.yml is the Ketua of the pinned approval trust")
def ketua_pinned(ctx):
    trust, _why = ctx.approval_trust
    ketua = ctx.ketua
    if trust is None or not isinstance(ketua, str) or ketua == trust.ketua:
        return
    yield Problem(F, ("secretariat", "ketua"),
                  "Ketua %s is not the Ketua of the approval trust (%s, version %d from %s): not "
                  "pinned in the inventory; a new Ketua takes a rotation statement signed by a "
                  "trusted key" % (_who(ctx, ketua), trust.ketua, trust.version,
                                   trust.state["source"]),
                  approval_trust.FIX_ROTATE)


@rule("S2-KEY-FORMAT", "S2", "An approval key is a well-formed OpenSSH public key (parsed: type, "
      "key data of that type, key size)")
def approval_key_format(ctx):
    for index, entry in ctx.entries(F, "approval_keys"):
        key = entry.get("key")
        why = blast_signature.public_key_problem(key) if isinstance(key, str) else None
        if why is not None:
            yield Problem(F, ("approval_keys", index, "key"),
                          "the approval key of %s is not a valid OpenSSH public key: %s" % (
                              _who(ctx, entry.get("person")), why),
                          "paste the whole line of the Ketua's public key as ssh-keygen wrote it "
                          "(ssh-keygen -y -f KEYFILE prints it): TYPE BASE64 [COMMENT], e.g. "
                          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... ketua")


@rule("S2-KEYS", "S2", "Approval keys are the Ketua's keys pinned in the approval trust, each "
      "listed once")
def approval_keys(ctx):
    trust, _why = ctx.approval_trust
    if trust is None:  # S2-TRUST says why
        return
    seen = {}
    for index, entry in ctx.entries(F, "approval_keys"):
        person, key = entry.get("person"), entry.get("key")
        if isinstance(person, str) and person != trust.ketua:
            yield Problem(F, ("approval_keys", index, "person"),
                          "an approval key of %s, who is not the Ketua of the approval trust "
                          "(%s, version %d): only the Ketua's keys approve blasts" % (
                              _who(ctx, person), trust.ketua, trust.version),
                          "remove this entry, or give it to the Ketua %s; %s" % (
                              trust.ketua, approval_trust.FIX_ROTATE))
            continue
        if not isinstance(person, str) or not isinstance(key, str) or (
                blast_signature.public_key_problem(key) is not None):
            continue  # S2-KEY-FORMAT reports a malformed key; the schema a missing person
        ident = approval_trust.key_id(key)
        if ident in seen:
            yield Problem(F, ("approval_keys", index, "key"),
                          "this key of %s is listed twice (first at line %d)" % (
                              person, _line(ctx, F, ("approval_keys", seen[ident], "key"))),
                          "remove one of the two entries")
            continue
        seen[ident] = index
        if not trust.trusts(person, key):
            yield Problem(F, ("approval_keys", index, "key"),
                          "this key of %s is not a key of the approval trust (version %d, from "
                          "%s): %s" % (person, trust.version, trust.state["source"], NOT_PINNED),
                          "remove it, or %s" % approval_trust.FIX_ROTATE)


@rule("S4-KEYWORD", "S4", "Keywords are unique and none is a prefix of another")
def keywords(ctx):
    words = []
    for index, entry in ctx.entries(F, "keywords"):
        word = entry.get("keyword")
        if isinstance(word, str):  # the schema checks the form: capital letters and digits
            words.append((word.upper(), index))
    words.sort()
    # Sorted, every prefix of a word comes before it, and the words between them share
    # that prefix: a stack of the prefixes of the current word finds each pair in one pass.
    prefixes = []
    for word, index in words:
        while prefixes and not word.startswith(prefixes[-1][0]):
            prefixes.pop()
        if prefixes:
            other, first = prefixes[-1]
            line = _line(ctx, F, ("keywords", first, "keyword"))
            if other == word:
                yield Problem(F, ("keywords", index, "keyword"), "keyword %s is defined twice "
                              "(first at line %d)" % (shown(word), line),
                              "remove one of the two entries, or give one another keyword")
                continue
            yield Problem(F, ("keywords", index, "keyword"), "keyword %s starts with keyword %s "
                          "(line %d): an incoming SMS starting with %s could be either" % (
                              shown(word), shown(other), line, shown(word)),
                          "choose keywords of which none is the beginning of another")
        prefixes.append((word, index))


@rule("S6-NON-RECEIPT", "S6", "A keyword of kind non-receipt lets a user tell the Administrator "
      "that a blast did not arrive")
def non_receipt_keyword(ctx):
    wanted = (ctx.policy.get("sms") or {}).get("non_receipt_keyword")
    kinds = {}
    for index, entry in ctx.entries(F, "keywords"):
        if isinstance(entry.get("keyword"), str):
            kinds.setdefault(entry["keyword"].upper(), (entry.get("kind"), index))
    have = [word for word, (kind, _i) in kinds.items() if kind == NON_RECEIPT]
    article = "Pasal 10 huruf e: a user who did not receive a blast tells the Administrator"
    if isinstance(wanted, str) and wanted.strip():
        word = wanted.strip().upper()
        kind, index = kinds.get(word, (None, None))
        if index is None:
            yield Problem(F, ("keywords",), "no keyword %s: city.yml "
                          "policy.sms.non_receipt_keyword names it as the keyword by which users report a blast that did not "
                          "arrive (%s)" % (shown(word), article),
                          "add it back: - {keyword: %s, kind: %s, description: ...}" % (
                              word, NON_RECEIPT), at="key")
        elif kind != NON_RECEIPT:
            yield Problem(F, ("keywords", index, "kind"), "keyword %s has kind %s; city.yml "
                          "policy.sms.non_receipt_keyword names it as the non-receipt keyword (%s)"
                          % (word, shown(kind), article), "set its kind to %s" % NON_RECEIPT)
        return
    if "keywords" in ctx.data(F) and isinstance(ctx.data(F).get("keywords"), list) and not have:
        yield Problem(F, ("keywords",), "no keyword has kind %s: users would have no keyword to "
                      "report a blast that did not arrive (%s)" % (NON_RECEIPT, article),
                      "keep (or add) the non-receipt keyword, e.g. - {keyword: TIDAKTERIMA, "
                      "kind: %s, description: Laporan tidak menerima SMS koordinasi kedinasan}"
                      % NON_RECEIPT, at="key")


@rule("S4-SENDER-ID", "S4", "A sender ID has at most the policy's number of characters")
def sender_ids(ctx):
    limit = (ctx.policy.get("sms") or {}).get("sender_id_max_length", 8)
    limit = min(limit, SENDER_ID_MAX) if isinstance(limit, int) and not isinstance(
        limit, bool) and limit > 0 else 8
    for index, gw in ctx.entries(F, "gateways"):
        sender = gw.get("sender_id")
        if isinstance(sender, str) and len(sender) > limit:  # the schema checks the characters
            yield Problem(F, ("gateways", index, "sender_id"), "sender ID %s has %d characters; "
                          "a phone shows at most %d (city.yml policy.sms.sender_id_max_length, "
                          "at most %d)" % (shown(sender), len(sender), limit, SENDER_ID_MAX),
                          "shorten it to %d characters or fewer, e.g. %s" % (
                              limit, shown(sender[:limit])))


@rule("S8-MODEMS", "S8", "Modem PhoneIDs and USB identities are unique")
def modems(ctx):
    ids, usb = {}, {}
    for gindex, gw in ctx.entries(F, "gateways"):
        items = gw.get("modems")
        for mindex, modem in enumerate(items if isinstance(items, list) else []):
            if not isinstance(modem, dict):
                continue
            path = ("gateways", gindex, "modems", mindex)
            pid = modem.get("phone_id")
            if isinstance(pid, str) and pid in ids:
                yield Problem(F, path + ("phone_id",), "PhoneID %s is also the PhoneID of the "
                              "modem at line %d" % (shown(pid), _line(ctx, F, ids[pid])),
                              "give each modem of every gateway its own phone_id")
            elif isinstance(pid, str):
                ids[pid] = path + ("phone_id",)
            ident = modem.get("usb") if isinstance(modem.get("usb"), dict) else {}
            key = (str(ident.get("vendor")).lower(), str(ident.get("product")).lower(),
                   ident.get("serial"))
            if ident.get("serial") and key in usb:
                yield Problem(F, path + ("usb",), "this modem has the USB vendor, product and "
                              "serial of the modem at line %d: udev cannot tell them apart" % (
                                  _line(ctx, F, usb[key])),
                              "correct the serial (udevadm info /dev/ttyUSB0 shows it): each "
                              "modem's USB identity is unique")
            elif ident.get("serial"):
                usb[key] = path + ("usb",)


@rule("S5-PHONE", "S5", "Phone numbers are mobile numbers, normalise to E.164 and are unique "
      "among registered users")
def phones(ctx):
    country = str((ctx.policy.get("sms") or {}).get("country_code", "62"))
    fast_form = _MOBILE_62.fullmatch if country == "62" else (lambda _text: None)
    fix = "write the user's mobile number as 08xx-xxxx-xxxx or +%s 8xx-xxxx-xxxx" % country
    seen = {}
    for index, user in ctx.entries(U, "users"):
        phone = user.get("phone")
        if not isinstance(phone, str):
            continue  # the schema reports another type
        fast = fast_form(phone)
        if fast is not None:  # the common form: to_e164 would give the same, at a third
            number = "+62" + fast.group(1).replace(" ", "").replace("-", "")
        else:
            path = ("users", index, "phone")
            if len(phone) > PHONE_TEXT_MAX:
                yield Problem(U, path, "phone of %s has %d characters; a phone number has at "
                              "most %d" % (shown(user.get("id")), len(phone), PHONE_TEXT_MAX), fix)
                continue
            try:
                number = to_e164(phone, country)
                mobile = is_mobile(number, country)
            except ValueError as exc:
                yield Problem(U, path, "phone of %s is not a valid number: %s" % (
                    shown(user.get("id")), exc), fix)
                continue
            if not mobile:
                yield Problem(U, path, "phone %s of %s is not a mobile number: a blast goes to a "
                              "mobile phone (+%s 8..., 9 to 12 digits after +%s)" % (
                                  number, shown(user.get("id")), country, country), fix)
                continue
        if user.get("status") != "registered":
            continue
        first = seen.get(number)
        if first is None:
            seen[number] = index
            continue
        where = ("users", first, "phone")  # located only now: locating is not free
        yield Problem(U, ("users", index, "phone"), "phone %s of %s is also the phone of %s "
                      "(line %d), also registered" % (
                          number, shown(user.get("id")),
                          shown(ctx.data(U)["users"][first].get("id")), _line(ctx, U, where)),
                      "one number belongs to one registered user: correct the number, or "
                      "deregister the user who no longer has it")


@rule("S5-USERS", "S5", "Users are people of people.yml in groups of sms.yml; a user who left "
      "their post is deregistered")
def users(ctx):
    people, known_groups = ctx.people, ctx.groups
    for index, user in ctx.entries(U, "users"):
        who = user.get("person")
        person = people.get(who) if isinstance(who, str) else None
        if person is None and isinstance(who, str):
            yield reference(U, ("users", index, "person"), who, people, "person", "people.yml")
        groups = user.get("groups")
        if isinstance(groups, list):
            for gindex, group in enumerate(groups):
                if isinstance(group, str) and group not in known_groups:
                    yield reference(U, ("users", index, "groups", gindex), group, known_groups,
                                    "group", "sms.yml groups")
        if person is not None and person.get("status") in LEFT and (
                user.get("status") == "registered"):
            yield Problem(U, ("users", index, "status"), "user %s is registered, but %s has "
                          "status %s in people.yml" % (shown(user.get("id")), _who(ctx, who),
                                                       person.get("status")),
                          "set status: deregistered (a user leaves the list when they leave "
                          "their post, Pasal 10 huruf g)", severity=WARNING)


def _blast(ctx, relname):
    data = ctx.data(relname).get("blast")
    return data if isinstance(data, dict) else None


def _registered(ctx):
    return [u for unused_index, u in ctx.entries(U, "users") if u.get("status") == "registered"]


@rule("REG-BLAST-ID", "REG", "A blast's id is unique, in blasts/ and its archive, and names its file")
def blast_ids(ctx):
    seen = {}
    for relname in ctx.blast_files:
        blast = _blast(ctx, relname)
        if blast is None:
            continue
        bid = blast.get("id")
        if not isinstance(bid, str):
            continue
        stem = os.path.splitext(os.path.basename(relname))[0]
        if bid != stem:
            yield Problem(relname, ("blast", "id"), "blast id %s differs from its file name %s: "
                          "a blast's file is named by its id" % (shown(bid), shown(stem)),
                          "rename the file to %s/%s.yml, or set id: %s" % (
                              os.path.dirname(relname), shown(bid)[1:-1], shown(stem)[1:-1]))
        if bid in seen:
            yield Problem(relname, ("blast", "id"), "blast id %s is also the id of %s" % (
                shown(bid), seen[bid]),
                "give each blast its own id (archived ones included): an id is sent once")
        seen.setdefault(bid, relname)


@rule("S1-ORIGINATOR", "S1", "A blast comes from an originator of sms.yml")
def blast_originator(ctx):
    allowed = {e.get("person") for unused_index, e in ctx.entries(F, "originators")
               if isinstance(e.get("person"), str)}
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        who = blast.get("originator") if blast else None
        if isinstance(who, str) and who not in allowed:
            yield Problem(relname, ("blast", "originator"),
                          "originator %s is not an originator of sms.yml: only the mayor, the "
                          "Sekda and officials they authorised originate blasts" % _who(ctx, who),
                          "name an originator of sms.yml originators, or add the person there "
                          "with the basis (mayor, sekda, or authorised with the authorisation)")


@rule("S2-APPROVAL", "S2", "A blast is approved and signed by the Ketua of the pinned trust")
def blast_approval(ctx):
    trust, _why = ctx.approval_trust
    if trust is None:  # S2-TRUST says why; nothing can be approved without an anchor
        return
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        approval = blast.get("approval") if blast else None
        if not isinstance(approval, dict) or not isinstance(approval.get("by"), str):
            continue  # the schema reports it
        if approval["by"] != trust.ketua:
            yield Problem(relname, ("blast", "approval", "by"),
                          "blast approved by %s, who is not the Ketua of the approval trust (%s)"
                          % (_who(ctx, approval["by"]), trust.ketua),
                          "the Ketua of the SMS Center checks and approves every blast: have %s "
                          "approve and sign it (bin/blast-sign %s KEYFILE)" % (
                              trust.ketua, ctx.display(relname)))
            continue
        ok, why = blast_signature.verify(blast, trust.ketua, trust.keys)
        if not ok:
            yield Problem(relname, ("blast", "approval", "signature"),
                          "the Ketua's signature does not verify against the keys pinned in the "
                          "inventory (trust version %d): %s; the blast was changed after it was "
                          "signed, or signed with another key" % (trust.version, shown(why, 200)),
                          "have the Ketua sign the final text: bin/blast-sign %s KEYFILE"
                          % ctx.display(relname))


def _moment(value):
    """An aware datetime from a registry timestamp (text with an offset), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _date(value):
    """A registry date (ISO text, or a date), or None: the schema reports another form."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    return parse_date(value) if isinstance(value, str) and len(value) == 10 else None


def _policy_days(ctx):
    days = (ctx.policy.get("sms") or {}).get("approval_max_days", 7)
    return days if isinstance(days, int) and not isinstance(days, bool) and days > 0 else 7


def _no_expiry(relname, max_days, last, sign):
    return Problem(relname, ("blast", "approval"), "the approval has no expires: every approval "
                   "of a blast to send names the last moment it may be sent",
                   "add approval.expires, at most %d days after approval.date (%scity.yml "
                   "policy.sms.approval_max_days), then %s" % (
                       max_days, "by %s; " % last if last else "", sign), at="key")


@rule("S2-EXPIRY", "S2", "A blast's times are in order: approved no later than today, "
      "send_after from the approval date on and before the expiry, the expiry after the "
      "approval and at most the policy's days later; a blast past its expiry is archived")
def blast_expiry(ctx):
    max_days = _policy_days(ctx)
    tz = ctx.timezone
    now = ctx.now
    today = now.astimezone(tz).date()
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        approval = blast.get("approval") if blast else None
        if not isinstance(approval, dict):
            continue
        sign = "have the Ketua sign it again: bin/blast-sign %s KEYFILE" % ctx.display(relname)
        day = _date(approval.get("date"))
        if day is None:
            continue  # the schema reports a missing or malformed date
        if day > today:
            yield Problem(relname, ("blast", "approval", "date"),
                          "the approval is dated %s, after today (%s, city time): an approval is "
                          "dated the day the Ketua gives it, and its expiry counts from it" % (
                              day.isoformat(), today.isoformat()),
                          "date it the day of the approval (today or earlier), then %s" % sign)
            if "expires" not in approval:  # the times that count from the date wait for it
                yield _no_expiry(relname, max_days, None, sign)
            continue
        start = datetime.datetime.combine(day, datetime.time(0, 0), tz)
        limit = datetime.datetime.combine(day + datetime.timedelta(days=max_days + 1),
                                          datetime.time(0, 0), tz)
        last = (limit - datetime.timedelta(seconds=1)).isoformat()
        send_after = _moment(blast.get("send_after"))
        if send_after is not None and send_after < start:
            yield Problem(relname, ("blast", "send_after"),
                          "send_after %s is before the approval date %s: a blast goes out only "
                          "after the Ketua has checked and approved it (Pasal 10 huruf c, "
                          "Lampiran II)" % (send_after.isoformat(), day.isoformat()),
                          "set send_after to %s or later (or remove it: sent once approved), "
                          "then %s" % (start.isoformat(), sign))
            send_after = None  # one problem per value
        if "expires" not in approval:
            yield _no_expiry(relname, max_days, last, sign)
            continue
        expires = _moment(approval.get("expires"))
        if expires is None:
            continue  # the schema reports the format
        if expires <= start:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "expires %s is not after the approval date %s: the approval would end "
                          "before it was given" % (expires.isoformat(), day.isoformat()),
                          "set expires after %s and no later than %s, then %s" % (
                              start.isoformat(), last, sign))
            continue
        if expires >= limit:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "expires %s is more than %d days after the approval date %s "
                          "(city.yml policy.sms.approval_max_days)" % (
                              expires.isoformat(), max_days, day.isoformat()),
                          "set expires no later than %s, then %s" % (last, sign))
        elif now > expires:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "blast %s expired at %s (now %s): it is never sent" % (
                              shown(blast.get("id")), expires.isoformat(),
                              now.astimezone(tz).isoformat(timespec="minutes")),
                          "move it to blasts/archive/%s (a record, never sent), or have the "
                          "Ketua approve it anew with a new expiry: bin/blast-sign %s KEYFILE" % (
                              os.path.basename(relname), ctx.display(relname)))
        if send_after is not None and send_after >= expires:
            yield Problem(relname, ("blast", "send_after"),
                          "send_after %s is not before the approval's expiry %s: the blast "
                          "could never be sent" % (send_after.isoformat(), expires.isoformat()),
                          "set send_after before %s, or a later expires (no later than %s), "
                          "then %s" % (expires.isoformat(), last, sign))


@rule("S8-GATEWAY", "S8", "A blast goes out through a gateway of sms.yml")
def blast_gateway(ctx):
    names = [g.get("name") for unused_index, g in ctx.entries(F, "gateways") if isinstance(g.get("name"), str)]
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        gateway = blast.get("gateway") if blast else None
        if isinstance(gateway, str) and gateway not in names:
            yield Problem(relname, ("blast", "gateway"), "gateway %s is not a gateway of sms.yml "
                          "(%s)" % (shown(gateway), ", ".join(shown(n) for n in names[:10])),
                          "name one of the gateways of sms.yml, or leave gateway out (the first "
                          "one), then have the Ketua sign again: bin/blast-sign %s KEYFILE" % (
                              ctx.display(relname)))


@rule("S5-RECIPIENTS", "S5", "A blast goes to defined recipients that have registered users")
def blast_recipients(ctx):
    active = ctx.active_blast_files
    if not active:
        return
    registered = _registered(ctx)
    by_person = {u.get("person") for u in registered}
    in_group, in_agency = set(), set()
    for user in registered:
        groups = user.get("groups")
        in_group.update(g for g in (groups if isinstance(groups, list) else [])
                        if isinstance(g, str))
        person = user.get("person")
        in_agency.add((ctx.people.get(person) or {}).get("agency") if isinstance(person, str)
                      else None)
    for relname in active:
        blast = _blast(ctx, relname)
        rec = blast.get("recipients") if blast else None
        if not isinstance(rec, dict):
            continue
        for field, known, what, where, reach in (
                ("groups", ctx.groups, "group", "sms.yml groups", in_group),
                ("agencies", ctx.agencies, "agency code", "agencies.yml", in_agency),
                ("people", ctx.people, "person", "people.yml", by_person)):
            values = rec.get(field)
            for index, value in enumerate(values if isinstance(values, list) else []):
                path = ("blast", "recipients", field, index)
                p = reference(relname, path, value, known, what, where)
                if p:
                    yield p
                elif isinstance(value, str) and value not in reach:
                    yield Problem(relname, path, "%s %s has no registered SMS user in "
                                  "sms-users.yml: the blast would reach nobody through it" % (
                                      what, shown(value)),
                                  "register the users first (sms-users.yml, Pasal 10 huruf a), "
                                  "or remove it and have the Ketua sign again")


@rule("GSM-SEGMENTS", "GSM", "A blast fits the configured number of SMS segments")
def blast_length(ctx):
    limit = (ctx.policy.get("sms") or {}).get("max_segments", 3)
    limit = limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else 3
    most = SINGLE_GSM7_SEPTETS if limit == 1 else limit * MULTI_GSM7_SEPTETS
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        text = blast.get("text") if blast else None
        if not isinstance(text, str):
            continue
        if len(text) > most:  # longer than any text of ``limit`` segments: no need to count
            yield Problem(relname, ("blast", "text"), "the text has %d characters; %d SMS "
                          "segments (city.yml policy.sms.max_segments) hold at most %d" % (
                              len(text), limit, most),
                          "shorten the text to at most %d GSM characters" % most)
            continue
        count = segments(text)
        if count > limit:
            odd = non_gsm_chars(text)
            hint = ""
            if odd:
                hint = "; these characters force UCS-2 (70 per SMS): " + ", ".join(
                    "%r at %d" % (ch, i) for i, ch in odd[:10])
            yield Problem(relname, ("blast", "text"), "the text needs %d SMS segments, more than "
                          "the %d allowed (city.yml policy.sms.max_segments)%s" % (
                              count, limit, hint),
                          "shorten the text or replace the non-GSM characters, then have the "
                          "Ketua sign again")
