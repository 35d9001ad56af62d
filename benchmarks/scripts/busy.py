"""A script-mode job that keeps one core busy for --seconds (default 0) and prints epochs."""

import sys
import time


def main():
    # one-letter hyperparameters arrive as -x, longer ones as --name (toolkit rule)
    args = {k.lstrip("-"): v for k, v in zip(sys.argv[1::2], sys.argv[2::2], strict=False)}
    seconds = float(args.get("seconds", "0"))
    end = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < end:
        total += sum(range(1000))
    print(f"epoch=1 objective={float(args.get('x', '0')) ** 2:.6f}", flush=True)


if __name__ == "__main__":
    main()
