"""Weapon damage table of the demo game server."""

DAMAGE = {"sword": 10, "bow": 6}


def damage_for(weapon):
    return DAMAGE[weapon]
