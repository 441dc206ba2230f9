"""Rules over the SMS Center: secretariat, users, keywords, gateways, blasts (S1-S9)."""
import datetime
import os
import re

from ansible.module_utils.registry import blast_signature
from ansible.module_utils.registry.context import parse_date
from ansible.module_utils.registry.sms import trust as approval_trust
from ansible.module_utils.registry.findings import WARNING
from ansible.module_utils.registry.gsm import is_gsm7, non_gsm_chars, segments
from ansible.module_utils.registry.phone import to_e164
from ansible.module_utils.registry.rules.base import Problem, reference, rule

F = "sms.yml"
U = "sms-users.yml"
LEFT = ("retired", "moved", "stopped", "deceased")


def _people_refs(ctx):
    sec = ctx.section(F, "secretariat")
    for role in ("ketua", "sekretaris"):
        yield ("secretariat", role), sec.get(role)
    for index, who in enumerate(sec.get("administrators") or []):
        yield ("secretariat", "administrators", index), who
    for key in ("approval_keys", "originators"):
        for index, entry in ctx.entries(F, key):
            yield (key, index, "person"), entry.get("person")


@rule("S9-SECRETARIAT", "S9", "Ketua, Sekretaris and Administrators are distinct people of "
      "the secretariat")
def secretariat(ctx):
    home = ctx.roles.get("sms_secretariat_agency")
    seen = {}
    for path, who in _people_refs(ctx):
        if path[0] != "secretariat" or who is None:
            continue
        p = reference(F, path, who, ctx.people, "person", "people.yml")
        if p:
            yield p
            continue
        if who in seen:
            yield Problem(F, path, "%s holds two roles of the secretariat (%s and %s)" % (
                who, seen[who], "/".join(str(x) for x in path[1:])),
                "the Ketua, the Sekretaris and each Administrator are different people")
        seen.setdefault(who, "/".join(str(x) for x in path[1:]))
        if home and not ctx.person_in_agency(who, home):
            yield Problem(F, path, "%s is not a person of %s, which hosts the secretariat" % (
                who, home), "name a person of %s (or fix city.yml roles)" % home)


@rule("S1-ORIGINATORS", "S1", "Originators exist and the authorised ones say by what authority")
def originators(ctx):
    for path, who in _people_refs(ctx):
        if path[0] == "secretariat":
            continue
        p = reference(F, path, who, ctx.people, "person", "people.yml")
        if p:
            yield p


NOT_PINNED = ("not pinned in the inventory; a new key takes a rotation statement signed by a "
              "trusted key")


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
    if trust is None or ketua is None or str(ketua) == trust.ketua:
        return
    yield Problem(F, ("secretariat", "ketua"),
                  "Ketua %s is not the Ketua of the approval trust (%s, version %d from %s): not "
                  "pinned in the inventory; a new Ketua takes a rotation statement signed by a "
                  "trusted key" % (ketua, trust.ketua, trust.version, trust.state["source"]),
                  approval_trust.FIX_ROTATE)


@rule("S2-KEYS", "S2", "Only keys of the pinned approval trust approve blasts")
def approval_keys(ctx):
    trust, _why = ctx.approval_trust
    if trust is None:
        return
    for index, entry in ctx.entries(F, "approval_keys"):
        person, key = entry.get("person"), entry.get("key")
        if person is None or not isinstance(key, str):
            continue
        if str(person) != trust.ketua:
            yield Problem(F, ("approval_keys", index, "person"),
                          "approval key of %s, who is not the Ketua of the approval trust (%s): %s"
                          % (person, trust.ketua, NOT_PINNED), approval_trust.FIX_ROTATE)
        elif not trust.trusts(person, key):
            yield Problem(F, ("approval_keys", index, "key"),
                          "this key of %s is %s" % (person, NOT_PINNED), approval_trust.FIX_ROTATE)


@rule("S4-KEYWORD", "S4", "Keywords are GSM text, unique and not a prefix of one another")
def keywords(ctx):
    words = []
    for index, entry in ctx.entries(F, "keywords"):
        word = entry.get("keyword")
        if not isinstance(word, str):
            continue
        if not is_gsm7(word):
            yield Problem(F, ("keywords", index, "keyword"), "keyword %r has characters outside "
                          "the GSM alphabet" % word, "use A-Z and 0-9")
        words.append((word.upper(), index))
    words.sort()
    for (a, ia), (b, ib) in zip(words, words[1:]):
        if b == a:
            yield Problem(F, ("keywords", ib, "keyword"), "keyword %s is defined twice" % b,
                          "remove one of them")
        elif b.startswith(a):
            yield Problem(F, ("keywords", ib, "keyword"), "keyword %s starts with keyword %s, so "
                          "incoming messages are ambiguous" % (b, a),
                          "choose keywords that are not prefixes of each other")


@rule("S4-SENDER-ID", "S4", "Sender IDs are short GSM text")
def sender_ids(ctx):
    limit = int((ctx.policy.get("sms") or {}).get("sender_id_max_length", 8))
    for index, gw in ctx.entries(F, "gateways"):
        sender = gw.get("sender_id")
        if not isinstance(sender, str):
            continue
        if not is_gsm7(sender) or not re.fullmatch(r"[A-Za-z0-9 ]+", sender):
            yield Problem(F, ("gateways", index, "sender_id"), "sender ID %r must be letters, "
                          "digits and spaces of the GSM alphabet" % sender, "e.g. PEMKOT")
        if len(sender) > limit:
            yield Problem(F, ("gateways", index, "sender_id"), "sender ID %r has %d characters; "
                          "at most %d are shown" % (sender, len(sender), limit),
                          "shorten it to %d characters" % limit)


@rule("S8-MODEMS", "S8", "Modem PhoneIDs and USB identities are unique")
def modems(ctx):
    ids, usb = {}, {}
    for gindex, gw in ctx.entries(F, "gateways"):
        for mindex, modem in enumerate(gw.get("modems") or []):
            if not isinstance(modem, dict):
                continue
            path = ("gateways", gindex, "modems", mindex)
            pid = modem.get("phone_id")
            if pid in ids:
                yield Problem(F, path + ("phone_id",), "PhoneID %s is used twice" % pid,
                              "each modem gets its own PhoneID")
            ids.setdefault(pid, path)
            ident = modem.get("usb") if isinstance(modem.get("usb"), dict) else {}
            key = (str(ident.get("vendor")).lower(), str(ident.get("product")).lower(),
                   ident.get("serial"))
            if ident.get("serial") and key in usb:
                yield Problem(F, path + ("usb",), "two modems have the same USB vendor, product "
                              "and serial", "the udev rule names a modem by these: make them unique")
            usb.setdefault(key, path)


@rule("S5-PHONE", "S5", "Phone numbers normalise to +62 E.164 and are unique")
def phones(ctx):
    country = str((ctx.policy.get("sms") or {}).get("country_code", "62"))
    seen = {}
    for index, user in ctx.entries(U, "users"):
        phone = user.get("phone")
        if phone is None:
            continue
        path = ("users", index, "phone")
        try:
            number = to_e164(str(phone), country)
        except ValueError as exc:
            yield Problem(U, path, "phone %r of %s is not a valid number: %s" % (
                phone, user.get("id"), exc), "write it as 08xx-xxxx-xxxx or +62 8xx...")
            continue
        if number in seen and user.get("status") == "registered":
            yield Problem(U, path, "phone %s of %s is also registered for %s" % (
                number, user.get("id"), seen[number]), "one number belongs to one user")
        if user.get("status") == "registered":
            seen.setdefault(number, user.get("id"))


@rule("S5-USERS", "S5", "Users are registered people in defined groups")
def users(ctx):
    for index, user in ctx.entries(U, "users"):
        p = reference(U, ("users", index, "person"), user.get("person"), ctx.people, "person",
                      "people.yml")
        if p:
            yield p
        for gindex, group in enumerate(user.get("groups") or []):
            p = reference(U, ("users", index, "groups", gindex), group, ctx.groups, "group",
                          "sms.yml groups")
            if p:
                yield p
        person = ctx.people.get(user.get("person")) or {}
        if user.get("status") == "registered" and person.get("status") in LEFT:
            yield Problem(U, ("users", index, "status"), "%s is registered but %s has %s" % (
                user.get("id"), person.get("name"), person.get("status")),
                "set status: deregistered (users leave the list when they leave their post)",
                severity=WARNING)


def _blast(ctx, relname):
    data = ctx.data(relname).get("blast")
    return data if isinstance(data, dict) else None


def _registered(ctx):
    return [u for _, u in ctx.entries(U, "users") if u.get("status") == "registered"]


@rule("REG-BLAST-ID", "REG", "A blast's id is unique, in blasts/ and its archive, and names its file")
def blast_ids(ctx):
    seen = {}
    for relname in ctx.blast_files:
        blast = _blast(ctx, relname)
        if blast is None:
            continue
        bid = blast.get("id")
        stem = os.path.splitext(os.path.basename(relname))[0]
        if isinstance(bid, str) and bid != stem:
            yield Problem(relname, ("blast", "id"), "blast id %s differs from its file name %s"
                          % (bid, stem), "rename the file to %s/%s.yml" % (
                              os.path.dirname(relname), bid))
        if bid in seen:
            yield Problem(relname, ("blast", "id"), "blast id %s is also used by %s" % (
                bid, seen[bid]), "give each blast its own id (an archived one's included)")
        seen.setdefault(bid, relname)


@rule("S1-ORIGINATOR", "S1", "A blast comes from an allowed originator")
def blast_originator(ctx):
    allowed = {e.get("person") for _, e in ctx.entries(F, "originators")}
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        if blast and blast.get("originator") is not None and blast["originator"] not in allowed:
            yield Problem(relname, ("blast", "originator"),
                          "%s may not originate blasts" % blast["originator"],
                          "the mayor, the Sekda or an official they authorised: add them to "
                          "sms.yml originators with the authorisation")


@rule("S2-APPROVAL", "S2", "A blast is approved and signed by the Ketua of the pinned trust")
def blast_approval(ctx):
    trust, _why = ctx.approval_trust
    if trust is None:  # S2-TRUST says why; nothing can be approved without an anchor
        return
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        approval = blast.get("approval") if blast else None
        if not isinstance(approval, dict):
            continue
        if str(approval.get("by")) != trust.ketua:
            yield Problem(relname, ("blast", "approval", "by"),
                          "blast approved by %s, who is not the Ketua of the approval trust (%s)"
                          % (approval.get("by"), trust.ketua),
                          "the Ketua of the SMS Center checks and approves every blast")
            continue
        ok, why = blast_signature.verify(blast, trust.ketua, trust.keys)
        if not ok:
            yield Problem(relname, ("blast", "approval", "signature"),
                          "the Ketua's signature does not verify against the keys pinned in the "
                          "inventory (trust version %d): %s" % (trust.version, why),
                          "have the Ketua sign the final text: bin/blast-sign %s KEYFILE"
                          % ctx.display(relname))


def _moment(value):
    """An aware datetime from a registry timestamp (text with an offset), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@rule("S2-EXPIRY", "S2", "An approval expires: at most the policy's days after it, and a blast "
      "past its expiry is archived, never sent")
def blast_expiry(ctx):
    max_days = (ctx.policy.get("sms") or {}).get("approval_max_days", 7)
    max_days = max_days if isinstance(max_days, int) and not isinstance(max_days, bool) else 7
    tz = ctx.timezone
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        approval = blast.get("approval") if blast else None
        if not isinstance(approval, dict):
            continue
        sign_again = "have the Ketua sign a new approval: bin/blast-sign %s KEYFILE" % (
            ctx.display(relname))
        day = parse_date(approval.get("date"))
        if approval.get("expires") is None:
            yield Problem(relname, ("blast", "approval"), "the approval has no expires: every "
                          "approval names the last moment the blast may be sent",
                          "add approval.expires (at most %d days after approval.date), then %s"
                          % (max_days, sign_again), at="key")
            continue
        expires = _moment(approval.get("expires"))
        if expires is None or day is None:
            continue  # the schema reports the format
        start = datetime.datetime.combine(day, datetime.time(0, 0), tz)
        limit = datetime.datetime.combine(day + datetime.timedelta(days=max_days + 1),
                                          datetime.time(0, 0), tz)
        if expires <= start:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "expires %s is not after the approval date %s" % (
                              approval["expires"], approval["date"]), sign_again)
        elif expires >= limit:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "expires %s is more than %d days after the approval date %s "
                          "(city.yml policy.sms.approval_max_days)" % (
                              approval["expires"], max_days, approval["date"]),
                          "an expiry no later than %s, then %s" % (
                              (limit - datetime.timedelta(seconds=1)).isoformat(), sign_again))
        send_after = _moment(blast.get("send_after"))
        if send_after is not None and send_after < start:
            yield Problem(relname, ("blast", "send_after"), "send_after %s is before the approval "
                          "date %s" % (blast["send_after"], approval["date"]), sign_again)
        elif send_after is not None and send_after >= expires:
            yield Problem(relname, ("blast", "send_after"), "send_after %s is not before the "
                          "approval's expiry %s: the blast could never be sent" % (
                              blast["send_after"], approval["expires"]), sign_again)
        if ctx.now > expires:
            yield Problem(relname, ("blast", "approval", "expires"),
                          "blast %s expired at %s (now %s): it is never sent" % (
                              blast.get("id"), approval["expires"],
                              ctx.now.astimezone(tz).isoformat(timespec="minutes")),
                          "move it to blasts/archive/%s (a record, never sent), or %s" % (
                              os.path.basename(relname), sign_again))


@rule("S8-GATEWAY", "S8", "A blast goes out through a gateway of sms.yml")
def blast_gateway(ctx):
    names = [g.get("name") for _, g in ctx.entries(F, "gateways")]
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        gateway = blast.get("gateway") if blast else None
        if gateway is not None and gateway not in names:
            yield Problem(relname, ("blast", "gateway"), "gateway %r is not a gateway of sms.yml"
                          % (gateway,), "name one of %s, or leave it out (the first gateway)"
                          % ", ".join(str(n) for n in names))


@rule("S5-RECIPIENTS", "S5", "A blast goes to defined, registered recipients")
def blast_recipients(ctx):
    registered = _registered(ctx)
    by_person = {u.get("person") for u in registered}
    in_group, in_agency = set(), set()
    for user in registered:
        in_group.update(user.get("groups") or [])
        in_agency.add((ctx.people.get(user.get("person")) or {}).get("agency"))
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        rec = blast.get("recipients") if blast else None
        if not isinstance(rec, dict):
            continue
        for field, known, what, where in (("groups", ctx.groups, "group", "sms.yml groups"),
                                          ("agencies", ctx.agencies, "agency code", "agencies.yml"),
                                          ("people", ctx.people, "person", "people.yml")):
            for index, value in enumerate(rec.get(field) or []):
                path = ("blast", "recipients", field, index)
                p = reference(relname, path, value, known, what, where)
                if p:
                    yield p
                elif (field == "people" and value not in by_person) or (
                        field == "groups" and value not in in_group) or (
                        field == "agencies" and value not in in_agency):
                    yield Problem(relname, path, "%s %s has no registered SMS user" % (what, value),
                                  "register the users first (sms-users.yml), or remove it")


@rule("GSM-SEGMENTS", "GSM", "A blast fits the configured number of SMS segments")
def blast_length(ctx):
    limit = int((ctx.policy.get("sms") or {}).get("max_segments", 3))
    for relname in ctx.active_blast_files:
        blast = _blast(ctx, relname)
        text = blast.get("text") if blast else None
        if not isinstance(text, str):
            continue
        count = segments(text)
        if count > limit:
            odd = non_gsm_chars(text)
            hint = ""
            if odd:
                hint = "; these characters force UCS-2 (70 per SMS): " + ", ".join(
                    "%r at %d" % (ch, i) for i, ch in odd[:10])
            yield Problem(relname, ("blast", "text"), "the text needs %d SMS segments, more than "
                          "the %d allowed%s" % (count, limit, hint),
                          "shorten the text or replace the non-GSM characters")
