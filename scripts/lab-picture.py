#!/usr/bin/env python3
"""Draw the lab from `terraform show -json`: zones, hosts, services, Traefik's routes and
where backups go, as Graphviz DOT on stdout (`make demo` renders it with `dot`).

    terraform show -json | scripts/lab-picture.py > lab.dot

Only what the state says is drawn: a host appears because a Proxmox guest, an EC2 instance
or a NetBird peer exists, a service because its Compose project does.
"""

import json
import sys

ZONE_COLOURS = {
    "public": "#fde2e2",
    "dmz": "#fff1d6",
    "private": "#e1f0ff",
    "management": "#e6f6e6",
}


def resources(module):
    """Every resource of a module and its children."""
    for resource in module.get("resources", []):
        yield resource
    for child in module.get("child_modules", []):
        yield from resources(child)


def quote(text):
    return '"' + str(text).replace('"', '\\"') + '"'


def main():
    state = json.load(sys.stdin)
    root = state.get("values", {}).get("root_module", {})
    outputs = state.get("values", {}).get("outputs", {})
    hosts = (outputs.get("hosts") or {}).get("value") or {}
    urls = (outputs.get("urls") or {}).get("value") or {}
    by_type = {}
    for resource in resources(root):
        by_type.setdefault(resource["type"], []).append(resource["values"])

    # A host is named by its LAN address or its mesh address.
    address_to_host = {}
    for name, h in hosts.items():
        for key in ("address", "mesh_ip"):
            if h.get(key):
                address_to_host[h[key]] = name
    lines = [
        "digraph lab {",
        '  graph [rankdir=LR, fontname="Helvetica", label="The Tabiri lab (terraform show)", labelloc=t];',
        '  node [fontname="Helvetica", shape=box, style="rounded,filled", fillcolor=white];',
        '  edge [fontname="Helvetica", fontsize=10];',
        '  traefik [label="Traefik\\n(one route per service)", shape=component, fillcolor="#eeeeee"];',
        '  prometheus [label="Prometheus\\n+ node_exporter", shape=component, fillcolor="#eeeeee"];',
    ]

    zones = {}
    for name, host in hosts.items():
        zones.setdefault(host.get("zone", "other"), []).append(name)
    for zone, members in sorted(zones.items()):
        lines.append("  subgraph cluster_%s {" % zone)
        lines.append('    label=%s; style=filled; color="%s";' % (quote(zone + " zone"), ZONE_COLOURS.get(zone, "#f4f4f4")))
        for name in sorted(members):
            host = hosts[name]
            label = "%s\\n%s\\nLAN %s\\nmesh %s" % (name, host.get("kind", ""), host.get("address", ""), host.get("mesh_ip") or "-")
            lines.append("    %s [label=%s, shape=box3d];" % (quote("host:" + name), quote(label)))
            for service in host.get("services", []):
                lines.append("    %s [label=%s];" % (quote("svc:" + service), quote(service)))
                lines.append("    %s -> %s [arrowhead=none, style=dotted];" % (quote("host:" + name), quote("svc:" + service)))
        lines.append("  }")

    for route in by_type.get("homelab_traefik_route", []):
        name = route.get("name")
        url = urls.get(name, "")
        lines.append("  traefik -> %s [label=%s];" % (quote("svc:" + name), quote(url.replace("http://", ""))))
    scraped = set()
    for target in by_type.get("homelab_prometheus_target", []):
        for address in target.get("targets", []):
            scraped.add(address_to_host.get(address.rsplit(":", 1)[0]))
    for host in sorted(h for h in scraped if h):
        lines.append("  prometheus -> %s [style=dashed, color=gray40, label=scrapes];" % quote("host:" + host))

    repos = set()
    for job in by_type.get("homelab_backup_job", []):
        # A `host { }` block: a list of one in some Terraform versions, an object in others.
        host = job.get("host") or {}
        if isinstance(host, list):
            host = host[0] if host else {}
        address = host.get("address")
        source = address_to_host.get(address)
        repo = job.get("repository", "")
        repos.add(repo)
        lines.append("  %s [label=%s, shape=cylinder, fillcolor=\"#f3e8ff\"];" % (quote("repo:" + repo), quote(repo.rsplit("/", 1)[-1] + "\\n(restic)")))
        if source:
            lines.append("  %s -> %s [label=%s, color=purple];" % (quote("host:" + source), quote("repo:" + repo), quote(job.get("schedule", ""))))
    for job in by_type.get("homelab_proxmox_backup_job", []):
        storage = "vzdump:" + job.get("storage", "")
        lines.append("  %s [label=%s, shape=cylinder, fillcolor=\"#f3e8ff\"];" % (quote(storage), quote("Proxmox storage %s\\n(vzdump %s)" % (job.get("storage"), job.get("id")))))
        for name, host in hosts.items():
            if host.get("kind", "").startswith("proxmox"):
                lines.append("  %s -> %s [color=purple, style=dashed];" % (quote("host:" + name), quote(storage)))

    for route in by_type.get("homelab_netbird_route", []):
        lines.append("  %s [label=%s, shape=note];" % (quote("route:" + route["network_id"]), quote("mesh route %s\\n%s" % (route["network_id"], route["network"]))))
        for name, host in hosts.items():
            if host.get("zone") == "management":
                lines.append("  %s -> %s [arrowhead=none, color=darkgreen];" % (quote("host:" + name), quote("route:" + route["network_id"])))
    lines.append("}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
