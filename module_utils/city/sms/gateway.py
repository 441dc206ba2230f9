"""What one gateway of sms.yml sends with: its name, its modems and their rates, the
originators and the length limit; computed on the control node from the registry."""
import os

from ansible.module_utils.city.errors import ToolkitError

DEFAULT_RATE = 10
DEFAULT_MAX_SEGMENTS = 3


def settings(registry_dir, host_names):
    """The settings of the gateway of sms.yml whose ``host`` is one of ``host_names``.

    ``host_names`` are the inventory's names of the host (long and short): sms.yml's
    ``gateways[].host`` may use either.
    """
    from ansible.module_utils.city.registry.loader import load_file
    try:
        sms = load_file(os.path.join(registry_dir, "sms.yml")).data or {}
        city = load_file(os.path.join(registry_dir, "city.yml")).data or {}
    except Exception as exc:  # the validation play reports registry problems in detail
        raise ToolkitError("cannot read the registry in %s: %s (run the validation first)" % (registry_dir, exc))
    policy = ((city.get("policy") or {}).get("sms") or {}) if isinstance(city, dict) else {}
    gateways = [g for g in sms.get("gateways") or [] if isinstance(g, dict)]
    names = [str(n) for n in host_names if n]
    mine = [g for g in gateways if str(g.get("host")) in names]
    if not mine or not mine[0].get("modems"):
        raise ToolkitError("sms.yml has no gateway whose host is %s, or it has no modem"
                           % " or ".join(names or ["(no host name given)"]))
    rate = policy.get("rate_per_modem_per_minute", DEFAULT_RATE)
    return {
        "gateway": str(mine[0].get("name")),
        "gateways": [str(g.get("name")) for g in gateways],
        "modems": [{"phone_id": str(m.get("phone_id")), "rate_per_minute": m.get("rate_per_minute", rate)}
                   for m in mine[0]["modems"] if isinstance(m, dict)],
        "originators": [str(o.get("person")) for o in sms.get("originators") or [] if isinstance(o, dict)],
        "max_segments": policy.get("max_segments", DEFAULT_MAX_SEGMENTS),
    }
