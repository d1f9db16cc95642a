"""Drives the real Helm engine (helm-python-sdk: Helm v4 as a C library) for the chart tests.

    helm_driver.py version
    helm_driver.py lint CHART [-f VALUES]...            strict, as `helm lint --strict -f …`
    helm_driver.py render CHART --name N --namespace NS [-f VALUES]...
    helm_driver.py package CHART DEST                   `helm package`, then the archive's digest
    helm_driver.py inspect ARCHIVE                      load a packaged chart: metadata, files, digest
    helm_driver.py index DIR [--url URL] [--merge INDEX]
                                                        `helm repo index`: index DIR's archives,
                                                        keeping INDEX's other entries
    helm_driver.py repo-index URL [--username U --password P]
                                                        fetch and parse URL/index.yaml, as
                                                        `helm repo add` does
    helm_driver.py pull CHART --repo URL --version V --dest D [--username U --password P]
                                                        `helm pull`: download the archive into D
    helm_driver.py dependency-update CHART_DIR          `helm dependency update`: resolve the
                                                        dependencies of Chart.yaml into charts/

Values files are layered the way `helm -f a -f b` layers them (maps merge, anything else is
replaced), parsed by Helm's own YAML reader. Prints one JSON document on stdout. A chart or
values that Helm rejects is an answer (`"ok": false`), not a failure: the exit code is 0. Exit
code 2 is a usage error, 3 a missing helm-python-sdk.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

try:
    import helm_python as helm
except ImportError as error:
    print(
        f"helm-python-sdk is not importable by {sys.executable}: {error}",
        file=sys.stderr,
    )
    sys.exit(3)

# Helm's own document separator (pkg/release/util SplitManifests).
SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps (pkg/cli/values): maps merge key by key, other values replace."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def values(files: list[str]) -> dict[str, Any] | None:
    if not files:
        return None
    merged: dict[str, Any] = {}
    for file in files:
        merged = merge(merged, helm.values_from_yaml(Path(file).read_text(encoding="utf-8")))
    return merged


def failure(error: Exception) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": type(error).__name__, "message": str(error)}}


def lint(args: argparse.Namespace) -> dict[str, Any]:
    try:
        report = helm.lint(args.chart, values(args.values), strict=True)
    except helm.HelmError as error:
        return failure(error)
    # Severity: 1 info, 2 warning, 3 error. Strict lint fails on warnings too.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    report["ok"] = not problems and not report["errors"]
    return report


def render(args: argparse.Namespace) -> dict[str, Any]:
    try:
        with helm.Chart.load(args.chart) as chart:
            manifests = chart.render(values(args.values), name=args.name, namespace=args.namespace)
            objects = []
            notes = ""
            for template, text in sorted(manifests.items()):
                if template.endswith("NOTES.txt"):
                    notes = text
                    continue
                for document in SEPARATOR.split(text):
                    if not document.strip():
                        continue
                    parsed = helm.values_from_yaml(document)
                    if parsed:
                        objects.append({"template": template, "object": parsed})
    except helm.HelmError as error:
        return failure(error)
    return {"ok": True, "objects": objects, "notes": notes}


def package(args: argparse.Namespace) -> dict[str, Any]:
    try:
        archive = helm.package(args.chart, destination=args.dest)
        with helm.Chart.load(archive) as chart:
            return {
                "ok": True,
                "archive": archive,
                "digest": helm.digest(archive),
                "metadata": chart.metadata,
                "schema": chart.schema is not None,
                "templates": sorted(t["name"] for t in chart.templates),
            }
    except helm.HelmError as error:
        return failure(error)


def inspect(args: argparse.Namespace) -> dict[str, Any]:
    try:
        with helm.Chart.load(args.archive) as chart:
            return {
                "ok": True,
                # provenance.DigestFile: the sha256 of the archive file, as indexes carry it.
                "digest": helm.digest(args.archive),
                "metadata": chart.metadata,
                "schema": chart.schema is not None,
                "values": chart.values,
                "templates": sorted(t["name"] for t in chart.templates),
                "files": sorted(f["name"] for f in chart.files),
            }
    except helm.HelmError as error:
        return failure(error)


def index(args: argparse.Namespace) -> dict[str, Any]:
    try:
        generated = helm.repo_index_generate(args.dir, base_url=args.url, merge=args.merge)
    except helm.HelmError as error:
        return failure(error)
    return {"ok": True, "index": generated}


def repo_index(args: argparse.Namespace) -> dict[str, Any]:
    try:
        fetched = helm.repo_index(args.url, username=args.username, password=args.password)
    except helm.HelmError as error:
        return failure(error)
    return {"ok": True, "index": fetched}


def pull(args: argparse.Namespace) -> dict[str, Any]:
    dest = Path(args.dest)
    try:
        answer = helm.pull(
            args.chart,
            repo_url=args.repo,
            version=args.version,
            destination=dest,
            username=args.username,
            password=args.password,
        )
    except helm.HelmError as error:
        return failure(error)
    archive = dest / f"{args.chart}-{args.version}.tgz"
    return {
        "ok": True,
        "output": answer.get("output", ""),
        "archive": str(archive),
        "digest": helm.digest(str(archive)) if archive.is_file() else None,
    }


def dependency_update(args: argparse.Namespace) -> dict[str, Any]:
    try:
        helm.dependency_update(args.chart_dir)
    except helm.HelmError as error:
        return failure(error)
    charts = Path(args.chart_dir) / "charts"
    archives = sorted(p.name for p in charts.glob("*.tgz")) if charts.is_dir() else []
    return {"ok": True, "archives": archives}


def version(_: argparse.Namespace) -> dict[str, Any]:
    return {"ok": True, "helm_c": helm.helm_c_version(), "helm_sdk": helm.helm_sdk_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version").set_defaults(run=version)
    for name, run in (("lint", lint), ("render", render)):
        command = commands.add_parser(name)
        command.add_argument("chart")
        command.add_argument("-f", "--values", action="append", default=[])
        command.set_defaults(run=run)
        if name == "render":
            command.add_argument("--name", required=True)
            command.add_argument("--namespace", required=True)
    command = commands.add_parser("package")
    command.add_argument("chart")
    command.add_argument("dest")
    command.set_defaults(run=package)
    command = commands.add_parser("inspect")
    command.add_argument("archive")
    command.set_defaults(run=inspect)
    command = commands.add_parser("index")
    command.add_argument("dir")
    command.add_argument("--url")
    command.add_argument("--merge")
    command.set_defaults(run=index)
    command = commands.add_parser("repo-index")
    command.add_argument("url")
    command.add_argument("--username")
    command.add_argument("--password")
    command.set_defaults(run=repo_index)
    command = commands.add_parser("pull")
    command.add_argument("chart")
    command.add_argument("--repo", required=True)
    command.add_argument("--version", required=True)
    command.add_argument("--dest", required=True)
    command.add_argument("--username")
    command.add_argument("--password")
    command.set_defaults(run=pull)
    command = commands.add_parser("dependency-update")
    command.add_argument("chart_dir")
    command.set_defaults(run=dependency_update)
    args = parser.parse_args()
    json.dump(args.run(args), sys.stdout)


if __name__ == "__main__":
    main()
