"""What scripts/megatron_published.py and scripts/torchtitan_published.py share:
finding the tessera binary, timing one row with it, and the closing summary."""
import json
import os
import subprocess
import sys


def check_tessera(prog, tessera):
    """Exits (1) naming the binary when it is not there."""
    if not os.access(tessera, os.X_OK):
        sys.exit(f"{prog}: --tessera {tessera}: No such file or directory; build it with `make build`")


def iteration_s(prog, tessera, row, hw, sets, spec):
    """The iteration time `tessera run --hw HW --set ... --workload SPEC` reports;
    exits (1) with tessera's message when it refuses the row."""
    cmd = [tessera, "run", "--hw", hw]
    for s in sets:
        cmd += ["--set", s]
    cmd += ["--workload", spec, "--format", "json"]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"{prog}: --tessera {tessera}: {e.strerror}; build it with `make build`")
    if run.returncode != 0:
        sys.exit(f"{prog}: {row}: {run.stderr.strip()}")
    return json.loads(run.stdout)["time_s"]


def summary(errors):
    """The last line: mean and mean absolute error, in percent."""
    return (f"mean error {sum(errors) / len(errors):+.1f}%, mean absolute error "
            f"{sum(abs(e) for e in errors) / len(errors):.1f}%")
