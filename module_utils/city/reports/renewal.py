"""D6: the renewal status of the main domain, from ``domain.yml`` and the city's policy.

The state is the validation rule's (``module_utils/city/registry/renewal.py``, used by
``D6-RENEWAL``): ok, warn (within the warning days before the expiry), renewal-window
(expired, within the window after it) or overdue.
"""
import datetime

from ansible.module_utils.city.registry import renewal
from ansible.module_utils.city.registry.context import parse_date
from ansible.module_utils.city.reports.city import person_name

LABELS = {
    renewal.OK: "OK",
    renewal.WARN: "Renewal due soon",
    renewal.WINDOW: "Expired: in the renewal window",
    renewal.OVERDUE: "Overdue: the renewal window has passed",
}
ADVICE = {
    renewal.OK: "Nothing to do yet; the warning starts on {warn_from}.",
    renewal.WARN: "Start the renewal with the registrar now (the mayor's approval is needed); "
                  "the domain expires on {expires}.",
    renewal.WINDOW: "Renew it now: {window_days_left} of the {window_days} days of the renewal window "
                    "are left (until {window_ends}); then update domain.expires in the registry.",
    renewal.OVERDUE: "Renew with the registrar urgently: the window ended on {window_ends}; then update "
                     "domain.expires in the registry.",
}
COLUMNS = [("domain", "Domain"), ("registrar", "Registrar"), ("expires", "Expires"),
           ("today", "Date of the report"), ("days_left", "Days left"), ("state", "State"),
           ("state_label", "Meaning"), ("warn_from", "Warning from"), ("window_ends", "Renewal window ends"),
           ("window_days_left", "Days of the window left"), ("officer", "Domain officer"),
           ("officer_name", "Officer name"), ("officer_decree", "Officer decree")]


def build(ctx, today):
    """The renewal status as a dict (one row; ``state`` None when the expiry is unreadable)."""
    domain = ctx.section("domain.yml", "domain")
    window, ahead = renewal.policy_days(ctx.policy)
    row = {"domain": ctx.main_domain, "registrar": domain.get("registrar"),
           "officer": domain.get("officer"), "officer_name": person_name(ctx, domain.get("officer")),
           "officer_decree": domain.get("officer_decree"), "today": today.isoformat(),
           "window_days": window, "warning_days": ahead}
    expires = parse_date(domain.get("expires"))
    if expires is None:
        row.update(expires=str(domain.get("expires") or ""), state=None, days_left=None,
                   state_label="No readable expiry date in domain.yml", advice="Record domain.expires.",
                   warn_from=None, window_ends=None, window_days_left=None, timeline=None)
        return row
    status = renewal.renewal_status(expires, today, window, ahead)
    facts = {"expires": expires.isoformat(), "warn_from": status["warn_from"].isoformat(),
             "window_ends": status["window_ends"].isoformat(), "window_days": window,
             "window_days_left": status["window_days_left"]}
    row.update(facts, state=status["state"], days_left=status["days_left"],
               state_label=LABELS[status["state"]], advice=ADVICE[status["state"]].format(**facts),
               timeline=_timeline(status, expires, today))
    return row


def _timeline(status, expires, today):
    """Positions (percent of the picture's width) of the warning start, the expiry, the end of
    the window and today, on a scale that always shows today."""
    warn_from, window_ends = status["warn_from"], status["window_ends"]
    margin = max(7, (window_ends - warn_from).days // 4)
    start = min(warn_from, today) - datetime.timedelta(days=margin)
    end = max(window_ends, today) + datetime.timedelta(days=margin)
    span = (end - start).days or 1

    def at(day):
        return round(100.0 * (day - start).days / span, 1)
    return {"warn": at(warn_from), "expires": at(expires), "end": at(window_ends), "today": at(today)}
