# ruff: noqa
"""Returns values that claim to equal anything: a custom class and a float subclass."""


class Chameleon:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class SlyFloat(float):
    def __eq__(self, other):
        return True


def attack_object():
    return Chameleon()


def attack_float():
    return SlyFloat(0.0)


def attack_nested():
    return {"loss": SlyFloat(0.0), "ok": [Chameleon()]}
