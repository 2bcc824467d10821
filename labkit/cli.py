"""The `labkit` command: thin, it calls the same functions the notebooks call."""
from __future__ import annotations

import argparse
import json
import sys

import labkit as lab

from .config import NAMES, settings
from .errors import LabError


def _print_status(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return
    if not report["running"]:
        print(report["hint"])
        return
    for notice in report.get("notices", []):
        print(f"note: {notice}")
    print(f"local stack running (pid {report['pid']}, up {report['uptime_s']} s)")
    print(f"  AWS API endpoint : {report['endpoint']}")
    print(f"  labkit services  : {report['service_url']}")
    for name, component in sorted(report["components"].items()):
        for key, value in sorted(component.items()):
            if isinstance(value, str) and value.startswith("http"):
                print(f"  {name} {key:<12}: {value}")
    print(f"  state folder     : {report['state_dir']}")


def cmd_up(args) -> int:
    if not settings().is_local:
        return _aws_target(lab.up(quiet=args.quiet))
    was_running = lab.status()["running"]
    report = lab.up(quiet=args.quiet)
    if was_running:
        print("the local stack is already running; nothing to do.")
    _print_status(report, as_json=False)
    return 0


def _aws_target(report: dict) -> int:
    """`labkit up` on the aws target: nothing runs locally; check that the credentials reach AWS."""
    from botocore.exceptions import BotoCoreError, ClientError

    print(f"target aws (region {report['region']}): there is nothing to start locally; the lab's calls go to AWS.")
    try:
        lab.check.stack_is_healthy()
    except (BotoCoreError, ClientError) as error:
        raise LabError(f"AWS does not accept this machine's credentials ({error}). Set them with `aws configure` "
                       "(or AWS_PROFILE), or use the local target: LABKIT_TARGET=local.") from error
    return 0


def cmd_down(args) -> int:
    print("local stack stopped." if lab.down(quiet=args.quiet) else "the local stack was not running.")
    return 0


def cmd_status(args) -> int:
    report = lab.status()
    _print_status(report, args.json)
    return 0 if report["running"] else 3


def cmd_simulate(args) -> int:
    from . import simulate

    if args.action == "start":
        rate = {} if args.rate is None else {"rate": args.rate}
        report = simulate.start(args.stream, args.dataset, loop=args.loop, **rate)
    else:
        report = simulate.stop() if args.action == "stop" else simulate.status()
    print(json.dumps(report, indent=2, sort_keys=True) if getattr(args, "json", False) else simulate.summary(report))
    return 0


def cmd_inbox(args) -> int:
    from .inbox import inbox

    messages = inbox()
    if args.json:
        print(json.dumps(messages, indent=2))
        return 0
    if not messages:
        print("the inbox is empty: no e-mail was sent to a topic subscriber yet.")
    for message in messages:
        print(f"{message['time']}  to {message['to']}  (topic {message['topic']})")
        print(f"Subject: {message['subject']}\n\n{message['body']}\n{'-' * 72}")
    return 0


def cmd_flink(args) -> int:
    from .resources import apps

    if args.action == "create":
        apps.create(args.name)
    elif args.action == "run":
        apps.run(args.name, from_latest_snapshot=not args.fresh)
    elif args.action == "stop":
        apps.stop(args.name, snapshot=not args.no_snapshot)
    elif args.action == "logs":
        print(apps.logs(args.name, lines=args.lines))
        return 0
    names = [args.name] if getattr(args, "name", None) else list(apps.APP_FOLDERS)
    report = {name: apps.summary(name) for name in names}
    if getattr(args, "json", False):
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        for name, app in report.items():
            print(f"{name:<20} {app['status']:<10} snapshots: {app['snapshots']:<3} dashboard: {app['dashboard']}")
    return 0


def cmd_teardown(args) -> int:
    from . import teardown

    resources = teardown.find()
    if not resources:
        print(f"nothing to delete: no resource carries the course's tag {NAMES.tag_key}={NAMES.tag_value}.")
        return 0
    s = settings()
    print(f"{len(resources)} resource(s) carry the course's tag {NAMES.tag_key}={NAMES.tag_value} "
          f"(target {s.target}, region {s.region}):")
    print("\n".join(f"  - {resource}" for resource in resources))
    if not args.yes:
        try:
            answer = input("delete them all? type yes: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            print("nothing deleted (run `labkit teardown --yes` to delete without asking).")
            return 1
    summary = teardown.teardown(resources, quiet=args.quiet)
    print(teardown.summary_text(summary))
    return 2 if summary["failed"] else 0


def cmd_preflight(args) -> int:
    from . import preflight

    s = settings()
    if s.is_local:
        print("labkit preflight checks an AWS account for the aws target (LABKIT_TARGET=aws); the target is local, "
              "which needs no account, so it checks only that the local stack is up.")
        checks = preflight.local()
    else:
        print(f"labkit preflight: can these credentials run the course on AWS? (target aws, region {s.region}; "
              "read-only calls)")
        checks = preflight.run(principal=args.principal)
    print(preflight.report(checks))
    return 1 if preflight.failed(checks) else 0


def _add_simulate(sub) -> None:
    """`labkit simulate start|stop|status`: the Wind Turbine Simulator's page, as commands."""
    simulate = sub.add_parser("simulate", help="the Wind Turbine Simulator: send a data set to a Kinesis stream")
    actions = simulate.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", help="start sending (stops a run already going)")
    start.add_argument("--stream", default=NAMES.wind_stream, help=f"Kinesis stream (default {NAMES.wind_stream})")
    start.add_argument("--dataset", default="wind", help="wind, anomaly or health (default wind)")
    start.add_argument("--rate", type=float, help="records per second (default 50)")
    start.add_argument("--loop", action="store_true", help="start the data set again when it ends")
    actions.add_parser("stop", help="stop sending")
    sim_status = actions.add_parser("status", help="records sent, rate, errors")
    sim_status.add_argument("--json", action="store_true", help="machine-readable output")
    simulate.set_defaults(run=cmd_simulate)


def _add_flink(sub) -> None:
    """`labkit flink create|run|stop|logs|status`: the Managed Flink console's actions."""
    flink = sub.add_parser("flink", help="the Flink applications (Managed Flink console actions)")
    flink_actions = flink.add_subparsers(dest="action", required=True)
    names = ", ".join((NAMES.anomaly_app, NAMES.max_speed_app))
    flink_actions.add_parser("create", help="upload the code and create the application").add_argument(
        "name", help=names)
    flink_run = flink_actions.add_parser(
        "run", help="run the application from its latest snapshot (console: Run) and wait until it is RUNNING")
    flink_run.add_argument("name", help=names)
    flink_run.add_argument("--fresh", action="store_true",
                           help="start with empty state (console: Run without snapshot)")
    flink_stop = flink_actions.add_parser("stop", help="stop the application, taking a snapshot")
    flink_stop.add_argument("name", help=names)
    flink_stop.add_argument("--no-snapshot", action="store_true", help="stop without a snapshot (Force)")
    flink_logs = flink_actions.add_parser("logs", help="recent log lines of the Flink job")
    flink_logs.add_argument("name", help=names)
    flink_logs.add_argument("--lines", type=int, default=100)
    flink_status = flink_actions.add_parser("status", help="status, snapshots and dashboard of the applications")
    flink_status.add_argument("name", nargs="?", help=f"one application (default: {names})")
    flink_status.add_argument("--json", action="store_true", help="machine-readable output")
    flink.set_defaults(run=cmd_flink)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Lab 22 wind-farm course helper.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the local stack in the background (no-op if running; on the aws "
                                   "target: check the credentials)")
    up.add_argument("--quiet", action="store_true", help="no progress bar")
    up.set_defaults(run=cmd_up)

    down = sub.add_parser("down", help="stop the local stack and everything it started")
    down.add_argument("--quiet", action="store_true", help="no progress bar")
    down.set_defaults(run=cmd_down)

    status = sub.add_parser("status", help="is the local stack running, and where are its services")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=cmd_status)

    _add_simulate(sub)
    _add_flink(sub)

    teardown = sub.add_parser("teardown", help="delete every resource tagged as the course's, and only those")
    teardown.add_argument("--yes", action="store_true", help="do not ask before deleting")
    teardown.add_argument("--quiet", action="store_true", help="no progress bar")
    teardown.set_defaults(run=cmd_teardown)

    preflight = sub.add_parser("preflight", help="before a class on the aws target: check the account, region, "
                                                 "permissions and quotas, and print the cost per hour")
    preflight.add_argument("--principal", help="the IAM user or role ARN whose permissions to check (default: the "
                                               "credentials' own), e.g. a student's user")
    preflight.set_defaults(run=cmd_preflight)

    inbox = sub.add_parser("inbox", help="the e-mail SNS topics sent to their subscribers (local target)")
    inbox.add_argument("--json", action="store_true", help="machine-readable output")
    inbox.set_defaults(run=cmd_inbox)
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
