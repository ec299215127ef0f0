"""``deblur list-methods``, ``deblur list-components``, ``deblur list-compositions`` and ``deblur plugins``:
what is installed and what fits where."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from deblur.cli._shared import emit_json, table
from deblur.errors import DeblurError
from deblur.plugins.records import COMPONENT_KINDS

if TYPE_CHECKING:
    from deblur.cli import State
    from deblur.registry import Registry


def _method_components(registry: Registry, name: str) -> dict[str, str] | str:
    from deblur.pipeline import resolve_method

    try:
        plan = resolve_method(registry, name)
    except DeblurError as exc:
        return f"unresolvable: {exc}"
    return {node.path: node.entry.name for node in plan.root.walk()}


@click.command("list-methods")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_methods(state: State, as_json: bool) -> None:
    """List the registered methods (what `deblur run` accepts)."""
    registry = state.registry()
    methods = []
    for entry in registry.all(["method"]):
        record = entry.record
        methods.append(
            {
                "name": record.name,
                "summary": record.summary,
                **entry.provenance(),
                "components": _method_components(registry, record.name),
                "needs_weights": record.needs_weights,
                "citation": record.citation,
            }
        )
    if as_json:
        emit_json(methods)
        return
    rows = []
    for m in methods:
        parts = m["components"]
        used = ", ".join(f"{p}={n}" for p, n in parts.items()) if isinstance(parts, dict) else parts
        rows.append(
            [
                m["name"],
                m["distribution"] or m["plugin"],
                "yes" if m["needs_weights"] else "no",
                m["summary"],
                used,
            ]
        )
    table(rows, ["METHOD", "PLUGIN", "WEIGHTS", "SUMMARY", "COMPONENTS"])


@click.command("list-components")
@click.option("--kind", type=click.Choice(COMPONENT_KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_components(state: State, kind: str | None, as_json: bool) -> None:
    """List operators, priors, solvers and kernel representations."""
    entries = state.registry().all([kind] if kind else COMPONENT_KINDS)
    items = [
        {
            "kind": e.kind,
            "name": e.name,
            "summary": e.record.summary,
            **e.provenance(),
            "provides": sorted(e.record.provides),
            "requires": {
                slot: {"kind": r.kind, "capabilities": sorted(r.capabilities), "default": r.default}
                for slot, r in e.record.requires.items()
            },
            "citation": e.record.citation,
        }
        for e in entries
    ]
    if as_json:
        emit_json(items)
        return
    table(
        [
            [
                i["kind"],
                i["name"],
                i["distribution"] or i["plugin"],
                ",".join(i["provides"]),
                _requires_text(i["requires"]),
                i["summary"],
            ]
            for i in items
        ],
        ["KIND", "NAME", "PLUGIN", "PROVIDES", "REQUIRES", "SUMMARY"],
    )


def _requires_text(requires: dict[str, dict[str, Any]]) -> str:
    """``prior:prior[image,penalty]=hyper-laplacian``: each slot, the kind that fills it, the
    capabilities it must provide and its default; ``-`` for none."""
    parts = []
    for slot, r in requires.items():
        needs = f"[{','.join(r['capabilities'])}]" if r["capabilities"] else ""
        default = f"={r['default']}" if r["default"] else ""
        parts.append(f"{slot}:{r['kind']}{needs}{default}")
    return " ".join(parts) or "-"


@click.command("list-compositions")
@click.argument("method", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_compositions(state: State, method: str | None, as_json: bool) -> None:
    """For each method (or METHOD), each slot: what fills it and every installed component that fits
    (choose one with `deblur run METHOD --use SLOT=NAME`)."""
    from deblur.compositions import method_slots

    registry = state.registry()
    names = [method] if method else [e.name for e in registry.all(["method"])]
    if method:
        registry.get("method", method)  # an unknown name: one line listing the methods
    views = []
    for name in names:
        try:
            slots = method_slots(registry, name)
        except DeblurError as exc:
            views.append({"method": name, "error": str(exc), "slots": []})
            continue
        views.append(
            {
                "method": name,
                "slots": [
                    {
                        "path": v.path,
                        "kind": v.kind,
                        "needs": v.needs,
                        "current": v.current,
                        "optional": v.optional,
                        "fillers": [
                            {"name": n, "provider": _provider(registry, v.kind, n)} for n in v.fillers
                        ],
                    }
                    for v in slots
                ],
            }
        )
    if as_json:
        emit_json(views)
        return
    rows = []
    for view in views:
        if "error" in view:
            rows.append([view["method"], "-", "-", "-", f"unresolvable: {view['error']}"])
        for slot in view["slots"]:
            fits = ", ".join(f["name"] for f in slot["fillers"]) or "none registered"
            now = slot["current"] or "(empty)"
            rows.append([view["method"], slot["path"], slot["kind"].replace("_", " "), now, fits])
    table(rows, ["METHOD", "SLOT", "KIND", "NOW", "FITS (--use SLOT=NAME)"])


def _provider(registry: Registry, kind: str, name: str) -> str:
    entry = registry.get(kind, name)
    return entry.distribution or entry.plugin


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plugins(state: State, as_json: bool) -> None:
    """List the plugins found, with version and status (loaded, failed: reason, disabled)."""
    manager = state.manager()
    manager.collect()  # runs every hook, so a plugin whose hook raises shows as failed
    statuses = [s.as_dict() for s in manager.statuses()]
    if as_json:
        emit_json(statuses)
        return
    rows = [
        [
            s["name"],
            s["distribution"] or "-",
            s["version"] or "-",
            f"failed: {s['error']}" if s["status"] == "failed" else s["status"],
            ",".join(h.removeprefix("deblur_") for h in s["hooks"]),
        ]
        for s in statuses
    ]
    table(rows, ["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "HOOKS"])
