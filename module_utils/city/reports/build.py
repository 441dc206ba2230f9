"""Every report from the registry, the audit trail and the state snapshots, rendered and written.

The same code for the module ``city_report`` (``playbooks/report.yml``) and for the
command ``bin/city-report`` (offline, from the snapshots a run left in ``state/``).

Layout of the output directory::

    index.html                      links to everything, with the sources and their times
    renewal.html, renewal.csv       D6
    domain-<year>/city.html         D9, the city (every subdomain), with the agencies' reports:
    domain-<year>/<AGENCY>.html     D9, one per agency owning a name
    domain-<year>/<city|AGENCY>-{subdomains,changes,drift}.csv
    mail-accounts.html, .csv        E10
    sms-recap.html, sms-{blasts,keywords,agencies}.csv   S7
    state/<kind>-<host>.json        the snapshots (see snapshots.py)
"""
import datetime
import os

from ansible.module_utils.city import fsutil
from ansible.module_utils.city.registry import destinations
from ansible.module_utils.city.reports import city, snapshots
from ansible.module_utils.city.reports import domain as domain_report
from ansible.module_utils.city.reports import mail as mail_report
from ansible.module_utils.city.reports import renewal as renewal_report
from ansible.module_utils.city.reports import sms as sms_report
from ansible.module_utils.city.reports import trail as trail_mod
from ansible.module_utils.city.reports.render import Renderer

STATE_DIR = "state"


def default_trail_path(project_root, environ=None):
    """``$CITY_STATE_DIR/audit-trail.jsonl``, else ``<project>/state/audit-trail.jsonl``."""
    environ = os.environ if environ is None else environ
    return os.path.join(environ.get("CITY_STATE_DIR") or os.path.join(project_root, "state"),
                        "audit-trail.jsonl")


class Inputs:
    """Everything the reports are made from."""

    def __init__(self, ctx, trail, state, state_problems, year, today, now, registry_dir, state_dir):
        self.ctx, self.trail, self.state, self.state_problems = ctx, trail, state, state_problems
        self.year, self.today, self.now = year, today, now
        self.registry_dir, self.state_dir = registry_dir, state_dir
        self.tz = city.timezone(ctx)


def gather(registry_dir, state_dir=None, trail_path=None, year=None, today=None, extra_snapshots=(), now=None):
    """Load the registry, the trail and the snapshots (``extra_snapshots`` replace same kind and host)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ctx = city.load(registry_dir, today)
    today = today or now.astimezone(city.timezone(ctx)).date()
    ctx.today = today
    if year is None:
        year = today.year
    if not 1900 <= int(year) <= 9999:
        raise city.ReportError("year %r is not a year" % (year,))
    state, problems = snapshots.read_all(state_dir)
    for snap in extra_snapshots:
        state[snap["kind"]] = [s for s in state[snap["kind"]] if s.get("host") != snap["host"]] + [snap]
        state[snap["kind"]].sort(key=lambda s: str(s.get("host")))
    return Inputs(ctx, trail_mod.read(trail_path), state, problems, int(year), today, now,
                  registry_dir, state_dir)


def build_all(inputs):
    """The data of every report (plain dicts and lists)."""
    return {
        "renewal": renewal_report.build(inputs.ctx, inputs.today),
        "domain": domain_report.build(inputs.ctx, inputs.trail, inputs.state["dns"], inputs.year, inputs.tz),
        "mail": mail_report.build(inputs.ctx, inputs.state["mail"], inputs.tz),
        "sms": sms_report.build(inputs.ctx, inputs.state["sms"], inputs.tz),
    }


def _shown(path, root):
    """A path as the reports show it: relative to the project when under it, so that no
    machine's layout ends up in a report that is shared."""
    if not path or not root:
        return path
    relative = os.path.relpath(os.path.abspath(path), root)
    return path if relative.startswith("..") else relative


def _sources(inputs):
    root = getattr(inputs, "display_root", None)
    trail = dict(inputs.trail.summary(), path=_shown(inputs.trail.path, root))
    out = {"registry": _shown(inputs.registry_dir, root), "trail": trail,
           "state_dir": _shown(inputs.state_dir, root),
           "state_problems": inputs.state_problems, "snapshots": []}
    for kind in snapshots.KINDS:
        for snap in inputs.state[kind]:
            out["snapshots"].append({"kind": kind, "host": snap.get("host"), "error": snap.get("error"),
                                     "taken_at": city.local(snapshots.taken_at(snap), inputs.tz)})
    return out


def render_all(inputs, data, templates_dir):
    """{relative path: text} of every file of the reports."""
    renderer = Renderer(templates_dir)
    ctx, now = inputs.ctx, inputs.now
    sources = _sources(inputs)
    files = {}
    year_dir = "domain-%d" % inputs.year

    def page(path, template, title, requirements, **context):
        root = "../" * path.count("/")
        files[path] = renderer.html(template, meta=city.meta(ctx, requirements, now, title), root=root,
                                    page=template.split(".", 1)[0], sources=sources, year=inputs.year,
                                    year_dir=year_dir, **context)

    renewal = data["renewal"]
    page("renewal.html", "renewal.html.j2", "Renewal of the main domain", ["D6"], renewal=renewal)
    files["renewal.csv"] = renderer.csv(renewal_report.COLUMNS, [renewal])

    dom = data["domain"]
    agency_links = {code: "%s.html" % code for code in domain_report.owner_codes(dom)}

    def domain_files(prefix, view):
        files["%s/%s-subdomains.csv" % (year_dir, prefix)] = renderer.csv(domain_report.SUBDOMAIN_COLUMNS,
                                                                          view["subdomains"])
        files["%s/%s-changes.csv" % (year_dir, prefix)] = renderer.csv(domain_report.CHANGE_COLUMNS,
                                                                       view["changes"])
        files["%s/%s-drift.csv" % (year_dir, prefix)] = renderer.csv(domain_report.DRIFT_COLUMNS, view["drift"])

    title = "Subdomains: yearly report %d" % inputs.year
    page("%s/city.html" % year_dir, "domain.html.j2", title, ["D9", "D3", "D7"],
         report=dom, agency=None, agency_links=agency_links, csv_prefix="city")
    domain_files("city", dom)
    for code in domain_report.owner_codes(dom):
        view = domain_report.for_agency(dom, code)
        page("%s/%s.html" % (year_dir, code), "domain.html.j2", title, ["D9", "D3", "D7"], report=view,
             agency={"code": code, "name": city.agency_name(ctx, code)}, agency_links=agency_links,
             csv_prefix=code)
        domain_files(code, view)

    page("mail-accounts.html", "mail.html.j2", "Mail accounts and unused accounts", ["E10", "E9", "E11"],
         report=data["mail"])
    files["mail-accounts.csv"] = renderer.csv(mail_report.COLUMNS, data["mail"]["rows"])

    page("sms-recap.html", "sms.html.j2", "SMS Center recap", ["S7", "S6"], report=data["sms"])
    files["sms-blasts.csv"] = renderer.csv(sms_report.BLAST_COLUMNS, data["sms"]["blast_rows"])
    files["sms-keywords.csv"] = renderer.csv(sms_report.KEYWORD_COLUMNS, data["sms"]["keyword_rows"])
    files["sms-agencies.csv"] = renderer.csv(sms_report.AGENCY_COLUMNS, data["sms"]["agency_rows"])

    page("index.html", "index.html.j2", "Reports", ["D6", "D9", "E10", "S7"], data=data, agency_links=agency_links)
    return files


def summary(inputs, data):
    renewal, dom, mail, sms = data["renewal"], data["domain"], data["mail"], data["sms"]
    return {
        "year": inputs.year, "today": inputs.today.isoformat(),
        "renewal": {k: renewal.get(k) for k in ("domain", "expires", "days_left", "state")},
        "domain": {"subdomains": len(dom["subdomains"]), "agencies": len(domain_report.owner_codes(dom)),
                   "changes": len(dom["changes"]), "drift": len(dom["drift"])},
        "mail": dict(mail["totals"], days=mail["days"]),
        "sms": sms["totals"],
        "trail": inputs.trail.summary(),
        "snapshots": _sources(inputs)["snapshots"],
    }


def _write_text(path, text):
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    # Names, addresses, phone numbers: not for everyone (0640).
    fsutil.atomic_write(path, text, mode=0o640, durable=False)


def write(output_dir, files, check=False, stale_dirs=()):
    """Write ``files`` under ``output_dir``; return (changed paths, removed stale paths).

    A file whose content is already the same is left alone. In ``stale_dirs`` (relative,
    entirely the reports'), .html and .csv files this run did not make are removed.
    """
    changed, removed = [], []
    # Agency codes name report files: one that would leave the reports stops the run
    # before any file is written.
    paths = {rel: destinations.path_inside(output_dir, *rel.split("/"), field="report " + rel)
             for rel in files}
    for rel, text in sorted(files.items()):
        path = paths[rel]
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                if fh.read() == text:
                    continue
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        changed.append(path)
        if not check:
            _write_text(path, text)
    for rel_dir in stale_dirs:
        directory = os.path.join(output_dir, rel_dir)
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            rel = "%s/%s" % (rel_dir, name)
            if name.endswith((".html", ".csv")) and rel not in files:
                removed.append(os.path.join(directory, name))
                if not check:
                    os.unlink(os.path.join(directory, name))
    return changed, removed


def run(registry_dir, templates_dir, output_dir, state_dir=None, trail_path=None, year=None, today=None,
        new_snapshots=(), check=False, now=None):
    """Save ``new_snapshots`` into ``state_dir``, then make and write every report.

    Returns a dict: ``files`` (every report file), ``changed`` (written or, in check mode,
    to be written), ``removed``, ``snapshots`` (snapshot files saved) and ``summary``.
    """
    state_dir = state_dir or os.path.join(output_dir, STATE_DIR)
    inputs = gather(registry_dir, state_dir, trail_path, year, today, new_snapshots, now)
    # The templates are the project's: paths under the project are shown relative to it.
    inputs.display_root = os.path.dirname(os.path.dirname(os.path.abspath(templates_dir)))
    data = build_all(inputs)
    files = render_all(inputs, data, templates_dir)
    saved = {snapshots.file_name(s): snapshots.dump(s) for s in new_snapshots}
    changed_state, unused_removed = write(state_dir, saved, check)
    changed, removed = write(output_dir, files, check, stale_dirs=("domain-%d" % inputs.year,))
    return {"files": [os.path.join(output_dir, rel) for rel in sorted(files)],
            "changed": changed_state + changed, "removed": removed,
            "snapshots": [os.path.join(state_dir, name) for name in sorted(saved)],
            "index": os.path.join(output_dir, "index.html"), "summary": summary(inputs, data)}
