"""The phonebook of the SMS Center (S1, S4, S5): who may receive, and the keywords.

Built from the registry on the controller and written whole to the gateway host
(docs/sms-design.md), so a deregistered user is gone the same run. The blast
module reads recipients from it; the receive router identifies senders with it.
"""
from ansible.module_utils.city.registry.phone import to_e164

VERSION = 1


def build(sms, sms_users, people, city):
    """The phonebook dict from the parsed sms.yml, sms-users.yml, people.yml and city.yml."""
    country = str(((city.get("policy") or {}).get("sms") or {}).get("country_code", "62"))
    agency_of = {str(p.get("id")): p.get("agency") for p in people.get("people") or []}
    users = []
    for user in sms_users.get("users") or []:
        if user.get("status") != "registered":
            continue
        person = str(user.get("person"))
        users.append({"id": user["id"], "phone": to_e164(str(user["phone"]), country), "person": person,
                      "agency": agency_of.get(person), "groups": sorted(user.get("groups") or [])})
    users.sort(key=lambda u: u["id"])
    return {
        "version": VERSION,
        "users": users,
        "groups": sorted(g["name"] for g in sms.get("groups") or []),
        "agencies": sorted({u["agency"] for u in users if u["agency"]}),
        "keywords": [{"keyword": str(k["keyword"]).upper(), "kind": k["kind"]} for k in sms.get("keywords") or []],
    }
