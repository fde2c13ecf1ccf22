"""Docker-style generated container names (adjective_noun)."""
from pycontain.errors import PycontainError

ADJECTIVES = ("brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid",
              "merry", "nimble", "proud", "quiet", "sharp", "tender", "upbeat", "vivid",
              "wise", "young", "zealous")
NOUNS = ("babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler",
         "lamarr", "lovelace", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson",
         "torvalds", "turing", "wozniak", "yonath")
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def generate(cid: str) -> str:
    """A readable name derived from the (random) container id."""
    value = int(cid[:8], 16)
    return f"{ADJECTIVES[value % len(ADJECTIVES)]}_{NOUNS[value // 97 % len(NOUNS)]}_{cid[:4]}"


def validate(name: str) -> str:
    if not name or name[0] in "_.-" or not set(name) <= NAME_CHARS or len(name) > 128:
        raise PycontainError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                             "are allowed")
    return name
