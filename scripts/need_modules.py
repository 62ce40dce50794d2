"""Shared by the scripts that need third-party modules: find an interpreter that has them.

scripts/measure_gpu.py keeps its own copy, so that it runs alone on a GPU machine.
"""
import sys


def need(modules, hint):
    """When this interpreter lacks `modules`, runs the script again under Debian's
    /usr/bin/python3 if that one has them, or exits with one line naming them."""
    import importlib.util
    import os
    import subprocess
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    system = "/usr/bin/python3"
    if (os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system)
            and subprocess.run([system, "-c", "import " + ", ".join(modules)],
                               capture_output=True).returncode == 0):
        os.execv(system, [system, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    sys.exit(f"{os.path.basename(sys.argv[0])}: Python module {', '.join(missing)} not found "
             f"for {sys.executable}; {hint}")
