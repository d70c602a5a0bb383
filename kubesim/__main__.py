"""Command line: `python -m kubesim --scenario demo --port 6443 --kubeconfig-out PATH`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from kubesim.scenarios import ScenarioError, available
from kubesim.simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesim", description=__doc__)
    parser.add_argument(
        "--scenario",
        default="demo",
        help=f"one of {', '.join(available())}, a path to a scenario file, or generated:nodes=50,pods=2000,pdbs=200",
    )
    parser.add_argument("--port", type=int, default=6443, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kubeconfig-out", default="var/kubesim/kubeconfig")
    parser.add_argument("--version", default="1.30", help="Kubernetes version to pretend to be")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated time runs this many times faster")
    parser.add_argument("--token", default=None, help="bearer token (default: random)")
    args = parser.parse_args(argv)

    try:
        sim = Simulator(scenario=args.scenario, version=args.version, time_scale=args.time_scale, token=args.token)
    except (ScenarioError, ValueError) as exc:
        print(f"kubesim: {exc}", file=sys.stderr)
        return 2
    try:
        sim.start(port=args.port, host=args.host)
    except OSError as exc:
        print(f"kubesim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    path = sim.write_kubeconfig(args.kubeconfig_out)
    print(f"kubesim listening on {sim.url} kubeconfig={path}", flush=True)

    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not done.wait(0.5):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
