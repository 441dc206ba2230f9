"""Generate a city-scale registry from the example one, for benchmarks.

Keeps the example's city, agencies, SMS settings and blasts, and adds invented
people, subdomains, mail accounts and SMS users until the requested sizes are
reached. The result is a valid registry: the benchmark checks that it validates.
"""
import ipaddress
import os
import random
import shutil

import yaml

FIRST = ["Budi", "Siti", "Agus", "Dewi", "Eko", "Rina", "Hendra", "Yuli", "Andi", "Sri",
         "Joko", "Wati", "Rudi", "Lina", "Bambang", "Nur", "Ahmad", "Fitri", "Dedi", "Ratna"]
LAST = ["Santoso", "Wijaya", "Saputra", "Lestari", "Hidayat", "Pratama", "Kurniawan",
        "Rahayu", "Setiawan", "Susanti", "Gunawan", "Permana", "Nugroho", "Utami", "Siregar"]
TITLES = ["", "", "S.Kom.", "S.E.", "M.Si.", "S.T.", "S.H., M.H."]


def _dump(path, top, schema_rel):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# yaml-language-server: $schema=%s\n---\n" % schema_rel)
        yaml.dump(top, fh, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                  sort_keys=False, allow_unicode=True, width=200)


def _nip(n):
    rnd = random.Random(n)
    born = (1965 + rnd.randrange(30), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
    tmt = (born[0] + 23 + rnd.randrange(10), 1 + rnd.randrange(12))
    return "%04d%02d%02d%04d%02d%d%03d" % (born + tmt + (1 + n % 2, 1 + n % 999))


def generate(example_dir, out_dir, accounts=20000, subdomains=500, sms_users=20000):
    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.copytree(example_dir, out_dir)
    load = lambda name: yaml.load(open(os.path.join(example_dir, name), encoding="utf-8"),
                                  Loader=yaml.CSafeLoader)
    agencies = [a["code"] for a in load("agencies.yml")["agencies"]]
    people_doc = load("people.yml")
    domain_doc = load("domain.yml")
    mail_doc = load("mail.yml")
    users_doc = load("sms-users.yml")
    groups = [g["name"] for g in load("sms.yml")["groups"]]

    count = max(accounts, sms_users)
    taken_ids = {p["id"] for p in people_doc["people"]}
    taken_local = {a["address"].split("@")[0] for a in mail_doc["accounts"]}
    new_people = []
    n = 0
    while len(new_people) < count:
        n += 1
        nip = _nip(n)
        if nip in taken_ids:
            continue
        taken_ids.add(nip)
        first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
        title = TITLES[n % len(TITLES)]
        new_people.append({"id": nip, "kind": "asn",
                           "name": "%s %s%s" % (first, last, ", " + title if title else ""),
                           "agency": agencies[n % len(agencies)], "position": "Staf",
                           "status": "active", "_local": "%s.%s" % (first.lower(), last.lower())})
    people_doc["people"].extend({k: v for k, v in p.items() if k != "_local"} for p in new_people)
    domain = domain_doc["domain"]["name"]

    accounts_needed = accounts - len(mail_doc["accounts"])
    for i, person in enumerate(new_people[:max(0, accounts_needed)]):
        local = person["_local"]
        if local in taken_local:
            local = "%s%d" % (local, i)
        taken_local.add(local)
        mail_doc["accounts"].append({"address": "%s@%s" % (local, domain), "kind": "personal",
                                     "owner": person["agency"], "holder": person["id"],
                                     "status": "active"})

    # Every holder receives hand-overs, so has a key of their own (rule E6-HANDOVER-KEY): a
    # well-formed public key whose private half nobody has (mail_bench.py gives real ones).
    from ansible.module_utils.city.registry.handover_keys import age_public_key
    holders = {a.get("holder") for a in mail_doc["accounts"]}
    for person in people_doc["people"]:
        if person["id"] in holders and not person.get("handover_keys"):
            person["handover_keys"] = [age_public_key(random.Random(person["id"]).randbytes(32))]

    pool = domain_doc["pools"][0]
    # The decree of the example's subdomains: an invented one would have to follow the
    # city's own numbering, which only the city knows.
    decree = next(s["decree"] for s in domain_doc["subdomains"] if s.get("decree"))
    network = next(ipaddress.ip_network(n) for n in pool["networks"] if ":" in n)
    subs_needed = subdomains - len(domain_doc["subdomains"])
    for i in range(max(0, subs_needed)):
        domain_doc["subdomains"].append({
            "name": "app%04d" % i, "owner": agencies[i % len(agencies)], "kind": "application",
            "decree": decree,
            "status": "active",
            "records": [{"type": "AAAA", "value": str(network.network_address + 0x1000 + i)},
                        {"name": "www", "type": "CNAME", "value": "app%04d.%s." % (i, domain)}]})

    used_persons = {u["person"] for u in users_doc["users"]}
    users_needed = sms_users - len(users_doc["users"])
    for i, person in enumerate(p for p in new_people if p["id"] not in used_persons):
        if i >= users_needed:
            break
        users_doc["users"].append({"id": "u%06d" % i, "person": person["id"],
                                   "phone": "0812%08d" % (10000000 + i),
                                   "groups": [groups[i % len(groups)]], "status": "registered"})

    _dump(os.path.join(out_dir, "people.yml"), people_doc, "../../schemas/people.schema.json")
    _dump(os.path.join(out_dir, "domain.yml"), domain_doc, "../../schemas/domain.schema.json")
    _dump(os.path.join(out_dir, "mail.yml"), mail_doc, "../../schemas/mail.schema.json")
    _dump(os.path.join(out_dir, "sms-users.yml"), users_doc, "../../schemas/sms-users.schema.json")
    return {"people": len(people_doc["people"]), "accounts": len(mail_doc["accounts"]),
            "subdomains": len(domain_doc["subdomains"]), "sms_users": len(users_doc["users"])}
