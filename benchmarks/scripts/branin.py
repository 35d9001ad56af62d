"""Branin as a SageMaker script-mode training job: --x in [-5, 10], --y in [0, 15].

Prints ``branin=<value>``; the global minimum is 0.397887.
"""

import math
import sys


def branin(x, y):
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def main():
    # one-letter hyperparameters arrive as -x, longer ones as --name (toolkit rule)
    args = {k.lstrip("-"): v for k, v in zip(sys.argv[1::2], sys.argv[2::2], strict=False)}
    print(f"branin={branin(float(args['x']), float(args['y'])):.10f}", flush=True)


if __name__ == "__main__":
    main()
