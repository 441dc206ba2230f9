"""The registry as the reports read it, and what every report says about the city.

Nothing about a particular city is written here: names, the domain, the time zone,
the agency with a role and the article of each requirement all come from the registry.
"""
import datetime
import os

from ansible.module_utils.city.registry.context import Context
from ansible.module_utils.city.registry.files import registry_files
from ansible.module_utils.city.registry.loader import LoadError, load_file
from ansible.module_utils.city.errors import ToolkitError

try:
    import zoneinfo
except ImportError:  # pragma: no cover - Python < 3.9
    zoneinfo = None


class ReportError(ToolkitError):
    """Something a report cannot be made without (an unreadable registry, a bad option)."""


def load(registry_dir, today=None):
    """The registry in ``registry_dir`` as a :class:`Context` (``today``: a date, default today)."""
    if not os.path.isfile(os.path.join(registry_dir, "city.yml")):
        raise ReportError("no registry at %s (city.yml is missing)" % registry_dir)
    files = {}
    for relname in registry_files(registry_dir):
        try:
            files[relname] = load_file(os.path.join(registry_dir, relname), relname)
        except LoadError as exc:
            raise ReportError("%s:%d:%d: %s (run bin/registry-validate)" % (
                relname, exc.line, exc.column, exc))
    return Context(files, today=today)


def timezone(ctx):
    """The city's time zone (``city.timezone``), UTC when it is unknown here."""
    name = ctx.section("city.yml", "city").get("timezone")
    if zoneinfo is not None and isinstance(name, str):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.timezone.utc


def local(moment, tz):
    """An aware datetime in the city's time zone, as text for a reader."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z").strip()


def agency_name(ctx, code):
    agency = ctx.agencies.get(code)
    return str(agency.get("name") or code) if agency else ""


def person_name(ctx, person_id):
    person = ctx.people.get(person_id)
    return str(person.get("name") or person_id) if person else ""


def meta(ctx, requirements, now, title):
    """What the header of every report shows: the city, the requirements, the articles, when."""
    city = ctx.section("city.yml", "city")
    articles = ctx.section("city.yml", "articles")
    tz = timezone(ctx)
    comm = ctx.roles.get("communication_agency")
    return {
        "title": title,
        "city": {"name": str(city.get("name") or ""), "short_name": str(city.get("short_name") or ""),
                 "domain": ctx.main_domain or "", "timezone": str(city.get("timezone") or "UTC"),
                 "communication_agency": comm, "communication_agency_name": agency_name(ctx, comm)},
        "requirements": [{"id": r, "article": str(articles.get(r) or "(no article in city.yml)")}
                         for r in requirements],
        "generated": local(now, tz),
        "generated_at": now.astimezone(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
