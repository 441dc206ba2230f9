"""Render reports: Jinja2 templates to HTML (autoescaped), tables to CSV.

Templates live in ``templates/reports/`` (``*.html.j2``); every page extends
``base.html.j2`` (inline CSS, no external asset, printable). Undefined variables are
errors, so a template that drifts from its builder fails loudly (and in the tests).
"""
try:
    import jinja2
except ImportError:  # reported by name by the module base (service/base.py Task.libraries)
    pass

from ansible.module_utils.city.reports.csvout import to_csv

STATUS_CLASS = {
    "active": "ok", "ok": "ok", "sent": "ok",
    "suspended": "warn", "warn": "warn", "pending": "warn", "renewal-window": "bad",
    "deactivated": "off", "deleted": "off", "not-in-registry": "warn",
    "overdue": "bad", "failed": "bad", "missing": "bad",
    "add": "warn", "change": "warn", "delete": "bad",
}


def badge_class(value):
    return STATUS_CLASS.get(str(value), "neutral")


def _join(value, separator=", "):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return separator.join(str(v) for v in value)
    return str(value)


def _yesno(value, yes="yes", no="no", unknown="unknown"):
    return unknown if value is None else (yes if value else no)


class Renderer:
    """HTML from the templates of ``templates_dir``; CSV from rows."""

    def __init__(self, templates_dir):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"),
                                                default_for_string=True, default=True),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True)
        self.env.filters.update(badge_class=badge_class, join_list=_join, yesno=_yesno)

    def html(self, template, **context):
        try:
            return self.env.get_template(template).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise ValueError("no report template %s in %s" % (exc.name, self.env.loader.searchpath))

    @staticmethod
    def csv(columns, rows):
        return to_csv(columns, rows)
