"""The hotswap live demo: edit a running game server, keep its state.

Run it with ``python -m hotswap demo`` (or ``python examples/gameserver/demo.py``).

It copies the game server of this directory (server.py, player.py,
damage.py) to a temporary directory and starts it under
``python -m hotswap run``: the game loop runs on the server's main thread,
the watcher thread sees saved files and the reloads run on the main thread
between two bytecodes.  Then this process plays the developer: it edits the
server's files while the game runs, narrates what each edit changed (the
hotswap log lines of the server), and checks, from the state the server
writes every tick, that the edit took effect and that nothing was lost:

1. a data edit: the sword's damage goes from 10 to 25;
2. a bug fix in a method: players walked out of the arena; the bound
   methods stored in a callback list at start-up run the fixed code;
3. a new method, and the game loop (the server's ``__main__``) starts
   calling it;
4. a broken edit (a syntax error): reported with file:line, the game keeps
   running the old code; then the fix.

It stops the server, and exits 0 only if every expected effect was seen
(1 otherwise).  ``--manual`` runs the server without the watcher (its loop
calls ``hotswap.reload()`` each tick).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GAME_FILES = ("server.py", "player.py", "damage.py")
ARENA = 20


class DemoFailed(Exception):
    pass


class Game:
    """The server process, its output, its state file and its events."""

    def __init__(self, source, workdir, manual):
        self.dir = os.path.join(workdir, "game")
        os.makedirs(self.dir)
        for name in GAME_FILES:
            shutil.copyfile(os.path.join(source, name),
                            os.path.join(self.dir, name))
        self.state_path = os.path.join(workdir, "state.json")
        self.stop_path = os.path.join(workdir, "stop")
        self.events_path = os.path.join(workdir, "events.jsonl")
        self.manual = manual
        self.log = []  # the server's stderr lines (hotswap's log)
        self.lock = threading.Lock()
        env = dict(os.environ, PYTHONUNBUFFERED="1",
                   PYTHONDONTWRITEBYTECODE="1")
        env.pop("GAME_MANUAL_RELOAD", None)
        cmd = [sys.executable, "-m", "hotswap", "run"]
        if manual:
            env["GAME_MANUAL_RELOAD"] = "1"
        cmd += ["--events", self.events_path,
                os.path.join(self.dir, "server.py"),
                self.state_path, self.stop_path]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, env=env, text=True, bufsize=1,
            errors="replace")
        self.readers = [
            threading.Thread(target=self._pump,
                             args=(self.proc.stdout, "game   ", None),
                             daemon=True),
            threading.Thread(target=self._pump,
                             args=(self.proc.stderr, "hotswap", self.log),
                             daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _pump(self, stream, tag, keep):
        for line in stream:
            line = line.rstrip("\n")
            if keep is not None:
                with self.lock:
                    keep.append(line)
            print(f"    {tag} | {line}", flush=True)

    # -- what the server tells us ---------------------------------------
    def state(self):
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def events(self):
        try:
            with open(self.events_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def log_count(self):
        with self.lock:
            return len(self.log)

    def log_since(self, start):
        with self.lock:
            return self.log[start:]

    def check_alive(self):
        if self.proc.poll() is not None:
            raise DemoFailed(f"the game server exited (status "
                             f"{self.proc.returncode})")

    # -- editing like a developer ----------------------------------------
    def edit(self, name, old, new, atomic=True):
        path = os.path.join(self.dir, name)
        with open(path) as f:
            text = f.read()
        if old not in text:
            raise DemoFailed(f"demo bug: {old!r} not in {name}")
        text = text.replace(old, new, 1)
        if atomic:  # how most editors save: write a copy, rename over
            tmp = os.path.join(self.dir, f".{name}.swp")
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        else:
            with open(path, "r+") as f:
                f.write(text)
                f.truncate()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self.readers:
            t.join(2)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def stop(self, timeout=10):
        with open(self.stop_path, "w"):
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DemoFailed("the game server did not stop")
        finally:
            for t in self.readers:
                t.join(2)


class Demo:
    def __init__(self, game, pause, timeout):
        self.game = game
        self.pause = pause
        self.deadline = time.monotonic() + timeout
        self.t0 = time.monotonic()
        self.checks = 0

    def say(self, text=""):
        print(text, flush=True)

    def ok(self, text):
        self.checks += 1
        self.say(f"  ok: {text}")

    def wait(self, what, pred, timeout=8.0):
        """Poll the state until pred(state) is truthy; return its value."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            self.game.check_alive()
            st = self.game.state()
            value = pred(st) if st is not None else None
            if value:
                return value
            if time.monotonic() > end:
                raise DemoFailed(f"timed out waiting for: {what}")
            time.sleep(0.02)

    def wait_log(self, start, needle, timeout=8.0):
        """Wait for a line of hotswap's log (after index start)."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            for line in self.game.log_since(start):
                if needle in line:
                    return line
            self.game.check_alive()
            if time.monotonic() > end:
                raise DemoFailed(f"no log line with {needle!r} (the "
                                 f"reload did not happen)")
            time.sleep(0.02)

    def after_ticks(self, n):
        tick = self.game.state()["tick"]
        return self.wait(f"{n} more ticks",
                         lambda s: s if s["tick"] >= tick + n else None)

    def step(self, title):
        self.say()
        self.say(f"[{time.monotonic() - self.t0:4.1f}s] {title}")

    def check_same_world(self, before, after):
        """State survived: same objects, counters kept counting."""
        ids0 = {n: p["id"] for n, p in before["players"].items()}
        ids1 = {n: p["id"] for n, p in after["players"].items()}
        if ids0 != ids1:
            raise DemoFailed("the player objects were replaced")
        if after["tick"] <= before["tick"]:
            raise DemoFailed(f"tick went from {before['tick']} to "
                             f"{after['tick']}: the game restarted?")
        if after["kills"] < before["kills"]:
            raise DemoFailed(f"kills went from {before['kills']} to "
                             f"{after['kills']}: state was reset")
        if after["pid"] != before["pid"]:
            raise DemoFailed("the server process changed")
        self.ok(f"same process, same {len(ids1)} player objects; tick "
                f"{before['tick']} -> {after['tick']}, kills "
                f"{before['kills']} -> {after['kills']} (nothing reset)")

    # -- the script ----------------------------------------------------------
    def run(self):
        g = self.game
        mode = ("manual: the loop calls hotswap.reload()" if g.manual
                else "watcher, reloads on the main thread")
        self.say(f"hotswap demo: a game server runs under `python -m hotswap "
                 f"run` ({mode});")
        self.say(f"this process edits its files in {g.dir} while it runs.")
        st = self.wait("the server's first ticks",
                       lambda s: s if s["tick"] >= 4 else None, timeout=15)
        self.say(f"  server pid {st['pid']}: " + ", ".join(
            f"{n} hp={p['hp']}" for n, p in sorted(st["players"].items())))
        first = st

        # 0: the bug is visible
        out = self.wait(
            "a player walking out of the arena",
            lambda s: [(n, p) for n, p in s["players"].items()
                       if p["x"] > ARENA or p["y"] > ARENA])
        n, p = out[0]
        self.say(f"  bug: {n} walked out of the {ARENA}x{ARENA} arena, "
                 f"at ({p['x']}, {p['y']})")
        self.wait("a kill", lambda s: s if s["kills"] >= 1 else None)
        self.say("  sword hits deal 10")

        # 1: data edit
        time.sleep(self.pause)
        self.step("edit 1: damage.py: the sword deals 25 instead of 10")
        before = g.state()
        mark = g.log_count()
        g.edit("damage.py", '"sword": 10', '"sword": 25')
        self.wait_log(mark, "damage reloaded")
        after = self.wait("a hit of 25", lambda s: s if any(
            p["last_hit"] == 25 for p in s["players"].values()) else None)
        self.ok("hits now deal 25: the edited statement ran, DAMAGE was "
                "rebound")
        self.check_same_world(before, after)

        # 2: bug fix in a method
        time.sleep(self.pause)
        self.step("edit 2: player.py: fix Player.move(), which only bounced "
                  "off two walls")
        before = g.state()
        mark = g.log_count()
        g.edit("player.py", """        if self.y < 0:
            self.vy = -self.vy
            self.y = 0
""", """        if self.y < 0:
            self.vy = -self.vy
            self.y = 0
        if self.x > ARENA:
            self.vx = -self.vx
            self.x = ARENA
        if self.y > ARENA:
            self.vy = -self.vy
            self.y = ARENA
""")
        self.wait_log(mark, "player reloaded")
        after = self.wait("every player back inside the arena", lambda s: s
                          if all(0 <= p["x"] <= ARENA and 0 <= p["y"] <= ARENA
                                 for p in s["players"].values()) else None)
        after = self.after_ticks(3)
        if not all(0 <= p["x"] <= ARENA and 0 <= p["y"] <= ARENA
                   for p in after["players"].values()):
            raise DemoFailed("a player left the arena after the fix")
        ids = sorted(p["id"] for p in after["players"].values())
        if sorted(after["callbacks"]) != ids:
            raise DemoFailed("the callback list does not hold the players' "
                             "bound methods")
        self.ok("everyone is back inside the arena: the bound methods stored "
                "in on_tick at start-up run the fixed move()")
        self.check_same_world(before, after)

        # 3: new method + the game loop calls it
        time.sleep(self.pause)
        self.step("edit 3: player.py gains Player.regenerate(); server.py's "
                  "tick() starts calling it")
        before = g.state()
        mark = g.log_count()
        g.edit("player.py", """    def state(self):
        return {"hp": self.hp, "x": self.x, "y": self.y,
                "last_hit": self.last_hit}""", """    def regenerate(self):
        if self.hp < MAX_HP:
            self.hp += 1
            self.healed = getattr(self, "healed", 0) + 1

    def state(self):
        return {"hp": self.hp, "x": self.x, "y": self.y,
                "last_hit": self.last_hit,
                "healed": getattr(self, "healed", 0)}""")
        self.wait_log(mark, "player reloaded")
        mark = g.log_count()
        g.edit("server.py", """    for callback in on_tick:
        callback()
""", """    for callback in on_tick:
        callback()
    for p in players.values():
        p.regenerate()
""", atomic=False)
        log = self.wait_log(mark, "__main__ reloaded")
        if "HS301" in "\n".join(g.log_since(mark)) or "kept" in log:
            self.say("  (HS301 is expected: main() is still inside its while "
                     "loop and keeps its old code until it returns; the "
                     "tick() it calls each iteration is the new one)")
        after = self.wait("every player regenerating", lambda s: s if all(
            p.get("healed", 0) > 0 for p in s["players"].values()) else None)
        self.ok("the running game loop calls the new method on the existing "
                "players (healed: " + ", ".join(
                    f"{n} +{p['healed']}"
                    for n, p in sorted(after["players"].items())) + ")")
        self.check_same_world(before, after)

        # 4: broken edit, then the fix
        time.sleep(self.pause)
        self.step("edit 4: damage.py: a typo (a missing '}') while setting "
                  "the sword to 40")
        before = g.state()
        mark = g.log_count()
        g.edit("damage.py", '"sword": 25, "bow": 6}', '"sword": 40, "bow": 6')
        line = self.wait_log(mark, "HS503")
        if "damage.py:" not in line:
            raise DemoFailed(f"the error does not say where: {line!r}")
        after = self.after_ticks(10)
        hits = {p["last_hit"] for p in after["players"].values()}
        if 40 in hits or 25 not in hits:
            raise DemoFailed(f"hits after the broken edit: {sorted(hits)}")
        self.ok(f"the syntax error was reported with its file:line; the game "
                f"kept running the old code (tick {before['tick']} -> "
                f"{after['tick']}, hits still deal 25)")
        time.sleep(self.pause)
        self.step("edit 4, fixed: damage.py: the '}' is back")
        mark = g.log_count()
        g.edit("damage.py", '"sword": 40, "bow": 6', '"sword": 40, "bow": 6}')
        self.wait_log(mark, "damage reloaded")
        after = self.wait("a hit of 40", lambda s: s if any(
            p["last_hit"] == 40 for p in s["players"].values()) else None)
        self.ok("hits now deal 40")
        self.check_same_world(before, after)
        self.check_same_world(first, after)

        # the event stream
        if not g.manual:
            kinds = [e["event"] for e in g.events()]
            failed = [e for e in g.events() if e["event"] == "failed"]
            if kinds.count("failed") != 1 or kinds.count("applied") < 4:
                raise DemoFailed(f"unexpected --events stream: {kinds}")
            err = failed[0]["error"] or {}
            if err.get("code") != "HS503" or not str(
                    err.get("filename", "")).endswith("damage.py"):
                raise DemoFailed(f"failed event without the error: {err}")
            self.say()
            self.ok(f"--events recorded {len(kinds)} reloads: "
                    + ", ".join(kinds))

        self.step("stopping the server")
        rc = g.stop()
        if rc != 0:
            raise DemoFailed(f"the game server exited with status {rc}")
        self.ok("the server exited normally (status 0)")


def main(source=HERE, opts=None):
    """Run the demo; return the exit status (0: every check passed)."""
    if opts is None:
        opts = argparse.Namespace(manual=False, fast=False, timeout=60.0)
    pause = 0.2 if getattr(opts, "fast", False) else 1.0
    workdir = tempfile.mkdtemp(prefix="hotswap-demo-")
    game = None
    t0 = time.monotonic()
    try:
        game = Game(source, workdir, getattr(opts, "manual", False))
        demo = Demo(game, pause, getattr(opts, "timeout", 60.0))
        demo.run()
    except DemoFailed as exc:
        print(f"\nhotswap demo: FAILED: {exc}", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nhotswap demo: interrupted", flush=True)
        return 130
    finally:
        if game is not None:
            game.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nhotswap demo: OK: {demo.checks} checks passed in "
          f"{time.monotonic() - t0:.1f}s; the game server was edited 5 times "
          f"and never restarted.", flush=True)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manual", action="store_true")
    p.add_argument("--fast", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0)
    sys.exit(main(HERE, p.parse_args()))
