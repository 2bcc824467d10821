"""The `labkit` command: thin, it calls the same functions the notebooks call."""
from __future__ import annotations

import argparse
import json
import sys

from .errors import LabError
from .local import control


def _print_status(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["running"]:
        print(report["hint"])
        return
    print(f"local stack running (pid {report['pid']}, up {report['uptime_s']} s)")
    print(f"  AWS API endpoint : {report['endpoint']}")
    print(f"  labkit services  : {report['service_url']}")
    for name, component in sorted(report["components"].items()):
        for key, value in sorted(component.items()):
            if isinstance(value, str) and value.startswith("http"):
                print(f"  {name} {key:<12}: {value}")
    print(f"  state folder     : {report['state_dir']}")


def cmd_up(args) -> int:
    was_running = control.is_running()
    report = control.up(quiet=args.quiet)
    if was_running:
        print("the local stack is already running; nothing to do.")
    _print_status(report, as_json=False)
    return 0


def cmd_down(args) -> int:
    print("local stack stopped." if control.down(quiet=args.quiet) else "the local stack was not running.")
    return 0


def cmd_status(args) -> int:
    report = control.status()
    _print_status(report, args.json)
    return 0 if report["running"] else 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Lab 22 wind-farm course helper.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the local stack in the background (no-op if running)")
    up.add_argument("--quiet", action="store_true", help="no progress bar")
    up.set_defaults(run=cmd_up)

    down = sub.add_parser("down", help="stop the local stack and everything it started")
    down.add_argument("--quiet", action="store_true", help="no progress bar")
    down.set_defaults(run=cmd_down)

    status = sub.add_parser("status", help="is the local stack running, and where are its services")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except LabError as error:
        print(f"labkit: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
