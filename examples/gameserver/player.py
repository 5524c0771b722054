"""Players of the demo game server."""
import damage

ARENA = 20
MAX_HP = 100


class Player:
    def __init__(self, name, x, y, vx, vy, hp=MAX_HP):
        self.name = name
        self.x, self.y = x, y
        self.vx, self.vy = vx, vy
        self.hp = hp
        self.last_hit = 0

    def move(self):
        self.x += self.vx
        self.y += self.vy
        # bounce off the walls of the arena
        if self.x < 0:
            self.vx = -self.vx
            self.x = 0
        if self.y < 0:
            self.vy = -self.vy
            self.y = 0

    def take_hit(self, weapon):
        """Apply one hit; return True when it was a kill."""
        self.last_hit = damage.damage_for(weapon)
        self.hp -= self.last_hit
        if self.hp <= 0:
            self.hp = MAX_HP
            return True
        return False

    def state(self):
        return {"hp": self.hp, "x": self.x, "y": self.y,
                "last_hit": self.last_hit}
