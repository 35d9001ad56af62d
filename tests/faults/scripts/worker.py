"""A script-mode training script for the fault tests.

Arguments (all optional): --steps N metric lines ``step=S loss=L`` (default 20), --interval
seconds between them (default 0.01), --spawn true to start two helper processes that sleep (one
in the script's own process group, one in a session of its own) and print ``helper=PID`` for
each, --model-mb N to write N MiB of random bytes to the model folder, --ignore-sigterm true,
and --seconds N to sleep after the steps. It prints ``steps done`` after the last step.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def arguments(argv):
    return {key.lstrip("-"): value for key, value in zip(argv[::2], argv[1::2], strict=False)}


def main():
    args = arguments(sys.argv[1:])
    if args.get("ignore-sigterm", "").lower() == "true":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ignoring SIGTERM", flush=True)
    if args.get("spawn", "").lower() == "true":
        sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
        for new_session in (False, True):
            helper = subprocess.Popen(sleeper, start_new_session=new_session)
            print(f"helper={helper.pid}", flush=True)
    megabytes = int(args.get("model-mb", "0"))
    if megabytes:
        with open(Path(os.environ["SM_MODEL_DIR"]) / "weights.bin", "wb") as weights:
            for _ in range(megabytes):
                weights.write(os.urandom(1 << 20))
    interval = float(args.get("interval", "0.01"))
    for step in range(1, int(args.get("steps", "20")) + 1):
        print(f"step={step} loss={1.0 / step:.6f}", flush=True)
        time.sleep(interval)
    print("steps done", flush=True)
    end = time.monotonic() + float(args.get("seconds", "0"))
    while time.monotonic() < end:
        time.sleep(0.05)


if __name__ == "__main__":
    main()
