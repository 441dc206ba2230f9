"""Where the main domain stands in its yearly renewal (D6).

One function, used by the validation rule ``D6-RENEWAL`` and by the renewal report: the
domain is renewed every year within ``window_days`` after its expiry (the expiry day
counts); the toolkit warns from ``warning_days`` before it. The rule warns ahead of the
expiry (WARN) and inside the window (WINDOW), when the renewal is still on time, and
fails the registry once the window has passed (OVERDUE): the renewal is then late.
"""
import datetime

OK = "ok"                  # more than warning_days before the expiry
WARN = "warn"              # within warning_days before the expiry
WINDOW = "renewal-window"  # expired, within window_days after the expiry (the expiry day counts)
OVERDUE = "overdue"        # the window has passed
STATES = (OK, WARN, WINDOW, OVERDUE)
DEFAULT_WINDOW_DAYS = 35
DEFAULT_WARNING_DAYS = 60
# A registration runs a year: an expiry further ahead than two years is a typing error
# (it would silence the renewal warnings for good), whatever the policy's days.
FAR_AHEAD_DAYS = 2 * 366


def policy_days(policy):
    """(window_days, warning_days) from ``city.yml`` ``policy`` (its ``domain`` part)."""
    domain = policy.get("domain") if isinstance(policy, dict) else None
    domain = domain if isinstance(domain, dict) else {}
    return (int(domain.get("renewal_window_days", DEFAULT_WINDOW_DAYS)),
            int(domain.get("renewal_warning_days", DEFAULT_WARNING_DAYS)))


def renewal_status(expires, today, window_days=DEFAULT_WINDOW_DAYS,
                   warning_days=DEFAULT_WARNING_DAYS):
    """The renewal state of a domain expiring on ``expires`` (a date), seen on ``today``.

    Returns a dict: ``state`` (one of STATES), ``days_left`` (to the expiry; negative
    once expired), ``warn_from`` (first day of the warning), ``window_ends`` (last day
    of the renewal window) and ``window_days_left`` (days of the window left, from the
    expiry day on; None before it).
    """
    days = (expires - today).days
    if days > warning_days:
        state = OK
    elif days > 0:
        state = WARN
    elif days >= -window_days:
        state = WINDOW
    else:
        state = OVERDUE
    return {"state": state, "days_left": days,
            "warn_from": expires - datetime.timedelta(days=warning_days),
            "window_ends": expires + datetime.timedelta(days=window_days),
            "window_days_left": window_days + days if days <= 0 else None}
