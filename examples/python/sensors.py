"""Simulated sensor readings: a temperature and a humidity series, one sample a second for ten minutes."""

import math
import os
import sys

import reel

START_NS = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def main(out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with reel.Recording(out) as rec:
        for i in range(600):
            t = START_NS + i * SECOND
            rec.log_scalar("sensor/temp", 21.0 + 2.5 * math.sin(i / 60), timestamp_ns=t)
            rec.log_scalar("sensor/humidity", 40.0 + 10 * math.cos(i / 90), timestamp_ns=t)
    print(f"{out}: {rec.records} records")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sensors.reel")
