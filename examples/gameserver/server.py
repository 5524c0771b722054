"""A tiny game server: the program the hotswap demo edits while it runs.

    python -m hotswap run server.py STATE_FILE STOP_FILE

Runs a game loop on the main thread (20 ticks a second).  Every tick it
moves the players through bound methods stored at start-up, lets one player
hit the next, counts kills, and writes the game state as JSON to STATE_FILE
(so the demo can check it).  It stops when STOP_FILE appears.
"""
import json
import os
import sys
import time

from player import Player

TICK_SECONDS = 0.05

players = {
    "alice": Player("alice", 3, 5, 1, 0),
    "bob": Player("bob", 10, 2, 0, 1, hp=40),
    "carol": Player("carol", 6, 8, 1, 1, hp=25),
}
stats = {"tick": 0, "kills": 0}
# Callbacks registered once, at start-up: bound methods of the players.
on_tick = [p.move for p in players.values()]


def tick():
    stats["tick"] += 1
    for callback in on_tick:
        callback()
    if stats["tick"] % 2 == 0:
        names = sorted(players)
        victim = players[names[stats["tick"] // 2 % len(names)]]
        if victim.take_hit("sword"):
            stats["kills"] += 1


def snapshot():
    return {
        "pid": os.getpid(),
        "tick": stats["tick"],
        "kills": stats["kills"],
        "players": {n: dict(p.state(), id=id(p)) for n, p in players.items()},
        "callbacks": [id(cb.__self__) for cb in on_tick],
    }


def write_state(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(snapshot(), f)
    os.replace(tmp, path)


def main(state_path, stop_path, manual=False):
    print(f"game server up: {len(players)} players, "
          f"{round(1 / TICK_SECONDS)} ticks/s", flush=True)
    if manual:  # no watcher: reload from the loop (hotswap's queued style)
        import hotswap
    deadline = time.monotonic() + 120
    last_error = None
    while not os.path.exists(stop_path):
        if manual:
            try:
                report = hotswap.reload()
                if report.changed:
                    print(report, file=sys.stderr, flush=True)
            except hotswap.ReloadError as exc:
                if str(exc) != last_error:  # retried every tick: say it once
                    print(exc, file=sys.stderr, flush=True)
                last_error = str(exc)
        tick()
        write_state(state_path)
        if time.monotonic() > deadline:
            print("game server: nobody stopped me, giving up", flush=True)
            return 3
        time.sleep(TICK_SECONDS)
    print(f"game server down after {stats['tick']} ticks, "
          f"{stats['kills']} kills", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2],
                  manual=os.environ.get("GAME_MANUAL_RELOAD") == "1"))
