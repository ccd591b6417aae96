"""A robot's run: wheel speeds as scalars and state changes as text events."""

import os
import sys

import reel

START_NS = 1_700_000_000_000_000_000
MS = 1_000_000
STATES = ["idle", "planning", "driving", "docking", "charging"]


def main(out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with reel.Recording(out) as rec:
        for step in range(250):
            t = START_NS + step * 20 * MS
            if step % 50 == 0:
                rec.log_text("robot/state", STATES[step // 50], timestamp_ns=t)
            speed = min(step, 100) / 100 * 1.5
            rec.log_scalar("robot/wheel/left", speed, timestamp_ns=t)
            rec.log_scalar("robot/wheel/right", speed * (0.95 if 100 <= step < 150 else 1.0), timestamp_ns=t)
    print(f"{out}: {rec.records} records")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "robot_log.reel")
