"""Container names (docker-style generated ones: adjective_noun) and host names."""
from pycontain.errors import PycontainError

ADJECTIVES = ("brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid",
              "merry", "nimble", "proud", "quiet", "sharp", "tender", "upbeat", "vivid",
              "wise", "young", "zealous")
NOUNS = ("babbage", "curie", "darwin", "euler", "fermat", "gauss", "hopper", "kepler",
         "lamarr", "lovelace", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson",
         "torvalds", "turing", "wozniak", "yonath")
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
LABEL_CHARS = NAME_CHARS - {"_", "."}
HOSTNAME_MAX = 64  # what sethostname(2) takes


def generate(cid: str) -> str:
    """A readable name derived from the (random) container id."""
    value = int(cid[:8], 16)
    return f"{ADJECTIVES[value % len(ADJECTIVES)]}_{NOUNS[value // 97 % len(NOUNS)]}_{cid[:4]}"


def validate(name: str) -> str:
    if not name or name[0] in "_.-" or not set(name) <= NAME_CHARS or len(name) > 128:
        raise PycontainError(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                             "are allowed")
    return name


def validate_hostname(name: str, flag: str = "--hostname") -> str:
    """An RFC 1123 host name: labels of letters, digits and '-' (not first or
    last), each 1-63 long, joined by dots; at most 64 characters in all (the
    kernel's limit). It goes into /etc/hosts and $HOSTNAME as it is."""
    labels = name.split(".")
    if len(name) > HOSTNAME_MAX or not all(
            0 < len(label) <= 63 and set(label) <= LABEL_CHARS and "-" not in (label[0], label[-1])
            for label in labels):
        raise PycontainError(f"invalid {flag} {name!r}: use letters, digits, '-' and '.' "
                             f"(RFC 1123), at most {HOSTNAME_MAX} characters")
    return name
