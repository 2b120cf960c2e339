"""Symbolic sizes: named dimensions (:class:`Dim`: ``N``, ``height``) and integer expressions over them
(:class:`Expr`: ``height//2``, ``(width+1)//4``, ``3*height*width``), which shape rules compute with as
with ints. An expression is kept in one canonical form (a polynomial over dims and floor divisions, the
floor divisions with remainders only), so equal computations print and compare equal:

    >>> h = Dim("height")
    >>> (h - 2) // 2 + 1          # a 2x2 window, stride 2
    height//2
    >>> (h + 2 * 1 - 3) // 1 + 1  # a 3x3 convolution, padding 1
    height
    >>> ((h // 2) * 2, -(-h // 2))
    (2*(height//2), height-height//2)
    >>> ((h + 1) // 4).evaluate({"height": 7})
    2

Sizes that differ in form may still be equal for every size the profiles allow (``2*(height//2)`` and
``height`` when every allowed height is even): :func:`disagreement` evaluates both over the allowed values
(:func:`allowed` sets them while shapes are inferred) and names a value where they differ.
"""

from __future__ import annotations

import contextvars
import itertools
import math
from collections import namedtuple

# Enumerating every allowed value of the dims two sizes involve stops here (points per profile); beyond
# it, the dims with the largest ranges are sampled (see Profile.grid).
GRID_LIMIT = 1 << 22


class SymbolicError(TypeError):
    """A computation that symbolic sizes do not support (comparing one, dividing by one): the shape rule
    that tried it needs static sizes there."""


class Size:
    """Arithmetic shared by :class:`Dim` and :class:`Expr`; ints mix in, results are ints when constant."""

    __slots__ = ()

    def terms(self) -> dict:
        raise NotImplementedError

    def __add__(self, other):
        return _memo("+", self, other, lambda: _sum(self.terms(), _terms(other)))

    __radd__ = __add__

    def __sub__(self, other):
        return _memo("-", self, other, lambda: _sum(self.terms(), _scaled(_terms(other), -1)))

    def __rsub__(self, other):
        return _memo("r-", self, other, lambda: _sum(_terms(other), _scaled(self.terms(), -1)))

    def __neg__(self):
        return _memo("neg", self, 0, lambda: _make(_scaled(self.terms(), -1)))

    def __mul__(self, other):
        return _memo("*", self, other, lambda: _make(_product(self.terms(), _terms(other))))

    __rmul__ = __mul__

    def __floordiv__(self, other):
        if type(other) is not int or other < 1:
            raise SymbolicError(f"a symbolic size is divided only by a positive integer, not {other}")
        return _memo("//", self, other, lambda: _floordiv(self.terms(), other))

    def __rfloordiv__(self, other):
        raise SymbolicError(f"cannot divide by the symbolic size {self}")

    def __lt__(self, other):
        raise SymbolicError(f"cannot compare the dynamic size {self} with {other}")

    __le__ = __gt__ = __ge__ = __lt__

    def __index__(self):
        raise SymbolicError(f"the dynamic size {self} has no value until the network runs")

    def names(self) -> frozenset[str]:
        found = set()
        for monomial in self.terms():
            for atom in monomial:
                found |= {atom.name} if isinstance(atom, Dim) else atom.inner.names()
        return frozenset(found)

    def evaluate(self, bindings: dict):
        """The value for dim values ``bindings`` (name -> int or numpy integer array: vectorised)."""
        total = 0
        for monomial, coefficient in self.terms().items():
            value = coefficient
            for atom in monomial:
                value = value * atom.evaluate(bindings)
            total = total + value
        return total


class Dim(Size):
    """A dimension whose size is known only when the network runs: the dynamic batch ``N``, or a size
    the spec names (``height``). Two Dims of the same name are the same size."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def terms(self) -> dict:
        return {(self,): 1}

    def evaluate(self, bindings: dict):
        return bindings[self.name]

    def names(self) -> frozenset[str]:
        return frozenset((self.name,))

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Dim) and other.name == self.name

    def __hash__(self):
        return hash(("Dim", self.name))


class FloorDiv:
    """``inner // divisor`` where ``inner`` has coefficients and constant in 0..divisor-1 (the
    multiples of the divisor are taken out first), an atom of expressions."""

    __slots__ = ("inner", "divisor", "_text")

    def __init__(self, inner, divisor: int):
        self.inner, self.divisor = inner, divisor
        self._text = f"{_wrapped(inner)}//{divisor}"

    def evaluate(self, bindings):
        return self.inner.evaluate(bindings) // self.divisor

    def __repr__(self):
        return self._text

    def __eq__(self, other):
        return isinstance(other, FloorDiv) and other._text == self._text

    def __hash__(self):
        return hash(self._text)


class Expr(Size):
    """A size computed from dims: a polynomial (monomial -> integer coefficient; a monomial is a sorted
    tuple of Dims and FloorDivs, the constant's is ``()``). Made only through arithmetic on Dims."""

    __slots__ = ("_terms", "_text", "_names")

    def __init__(self, terms: dict):
        self._terms = terms
        self._text = _show(terms)
        self._names = None

    def terms(self) -> dict:
        return self._terms

    def names(self) -> frozenset[str]:
        if self._names is None:
            self._names = Size.names(self)
        return self._names

    def __repr__(self):
        return self._text

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Expr) and other._text == self._text

    def __hash__(self):
        return hash(self._text)


# Results of arithmetic on sizes, by operation and operands: a spec's shape rules repeat the same few
# computations (each convolution window over height//8, ...) hundreds of times, and a size's canonical form
# (sorting its terms, printing it) costs far more than a look-up. Sizes are immutable and compare by their
# canonical text, so a remembered result is the one the computation would give. The operand's type is in
# the key so that 1, 1.0, True and numpy integers (refused by _terms) are never taken for one another.
_MEMO: dict = {}
_MEMO_LIMIT = 1 << 16


def _memo(operation: str, size, other, compute):
    key = (operation, size, type(other), other)
    try:
        return _MEMO[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable operand: _terms refuses it with its own message
        return compute()
    result = compute()
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
    _MEMO[key] = result
    return result


def _terms(value) -> dict:
    if isinstance(value, Size):
        return value.terms()
    if isinstance(value, int) and not isinstance(value, bool):
        return {(): int(value)} if value else {}
    raise SymbolicError(f"cannot compute a size with {value!r}")


def _key(atom) -> tuple:
    return (0, atom.name) if isinstance(atom, Dim) else (1, repr(atom))


def _sum(*parts: dict):
    return _make(_add(*parts))


def _add(*parts: dict) -> dict:
    total: dict = {}
    for part in parts:
        for monomial, coefficient in part.items():
            total[monomial] = total.get(monomial, 0) + coefficient
    return {m: c for m, c in total.items() if c}


def _scaled(terms: dict, factor: int) -> dict:
    return {m: c * factor for m, c in terms.items() if c * factor}


def _product(a: dict, b: dict) -> dict:
    total: dict = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            monomial = tuple(sorted(ma + mb, key=_key))
            total[monomial] = total.get(monomial, 0) + ca * cb
    return {m: c for m, c in total.items() if c}


def _floordiv(terms: dict, divisor: int):
    if divisor == 1:
        return _make(terms)
    # floor((divisor*q + r) / divisor) = q + floor(r / divisor) for integer q
    quotient = {m: c // divisor for m, c in terms.items() if c // divisor}
    remainder = {m: c % divisor for m, c in terms.items() if c % divisor}
    if not any(remainder.keys() - {()}):  # what is left is a constant below the divisor: floor 0
        return _make(quotient)
    common = math.gcd(divisor, *remainder.values())  # floor(2h/4) = floor(h/2)
    if common > 1:
        return _make(_add(quotient, _terms(_floordiv({m: c // common for m, c in remainder.items()},
                                                     divisor // common))))
    constant = remainder.get((), 0)
    rest = [(m, c) for m, c in remainder.items() if m]
    if len(rest) == 1 and rest[0][1] == 1 and len(rest[0][0]) == 1 and isinstance(rest[0][0][0], FloorDiv):
        inner = rest[0][0][0]  # (a//m + c)//n = (a + c*m)//(m*n)
        nested = _floordiv(_add(inner.inner.terms(), _terms(constant * inner.divisor)), inner.divisor * divisor)
        return _make(_add(quotient, _terms(nested)))
    atom = FloorDiv(_make(remainder), divisor)
    return _make(_add(quotient, {(atom,): 1}))


def _make(terms: dict):
    """The simplest object for these terms: an int, a Dim, or an Expr."""
    if not terms:
        return 0
    if set(terms) == {()}:
        return terms[()]
    if len(terms) == 1:
        (monomial, coefficient), = terms.items()
        if coefficient == 1 and len(monomial) == 1 and isinstance(monomial[0], Dim):
            return monomial[0]
    return Expr(dict(sorted(terms.items(), key=lambda item: (not item[0], [_key(a) for a in item[0]]))))


def _show(terms: dict) -> str:
    text = ""
    for monomial, coefficient in terms.items():
        factors = [a.name if isinstance(a, Dim) else (f"({a})" if len(monomial) > 1 or coefficient != 1 and
                                                       coefficient != -1 else repr(a)) for a in monomial]
        magnitude = abs(coefficient)
        body = "*".join(([str(magnitude)] if magnitude != 1 or not factors else []) + factors)
        text += ("-" if coefficient < 0 else "+" if text else "") + body
    return text


def _wrapped(value) -> str:
    text = str(value)
    return text if isinstance(value, (int, Dim)) else f"({text})"


def quotient(a, b):
    """``a / b`` when ``b`` divides ``a`` as polynomials (an int, or a single term whose dims every term of
    ``a`` has), else None. For an int ``b``, the floor quotient: whether it is exact for every allowed value
    is the caller's check (see :func:`disagreement`)."""
    if isinstance(b, int):
        return a // b if b > 0 else None
    (monomial, coefficient), = b.terms().items() if len(b.terms()) == 1 else ((None, None),)
    if monomial is None:
        return None
    result = {}
    for term, c in _terms(a).items():
        rest = list(term)
        for atom in monomial:
            if atom not in rest:
                return None
            rest.remove(atom)
        if c % coefficient:
            return None
        result[tuple(rest)] = c // coefficient
    return _make(result)


def has_named_dims(shape) -> bool:
    """Whether ``shape`` has a dynamic size other than the -1 batch ``N`` (whose handling predates named
    dimensions and is kept exactly)."""
    return any(isinstance(d, Size) and str(d) != "N" for d in shape)


def is_symbolic(size) -> bool:
    return isinstance(size, Size)


def evaluate(size, bindings: dict):
    """The value of an int, Dim or Expr for dim values ``bindings``."""
    return size.evaluate(bindings) if isinstance(size, Size) else size


# -- what the profiles allow ---------------------------------------------------------------------------


class Profile(namedtuple("Profile", ("index", "ranges", "steps"), defaults=({},))):
    """One optimization profile: dim name -> (min, opt, max), and the dims whose sizes must be
    multiples of a step (name -> step; the others take every size in their range)."""

    __slots__ = ()

    def describe(self, names) -> str:
        parts = [f"{n} {self.ranges[n][0]}..{self.ranges[n][2]}" + (
            f" (multiples of {self.steps[n]})" if self.steps.get(n, 1) > 1 else "")
            for n in sorted(names) if n in self.ranges]
        return f"profile {self.index}: " + ", ".join(parts)

    def allows(self, sizes: dict) -> bool:
        """Whether these sizes (name -> int) are all within this profile."""
        return all(self.ranges[n][0] <= v <= self.ranges[n][2] and v % self.steps.get(n, 1) == 0
                   for n, v in sizes.items() if n in self.ranges)

    def grid(self, names: list[str]) -> dict:
        """Name -> a numpy array of values, the arrays together holding every combination of allowed
        values, or (when that is more than GRID_LIMIT points) every value of the dims with the smallest
        ranges and, for the others, their min, opt, max and the neighbours of min and max."""
        import numpy as np

        axes, points = [], 1
        def count(name):
            low, _, high = self.ranges[name]
            return (high - low) // self.steps.get(name, 1) + 1

        ordered = sorted(names, key=count)
        for name in ordered:
            low, opt, high = self.ranges[name]
            step = self.steps.get(name, 1)
            if points * count(name) <= GRID_LIMIT:
                axes.append(np.arange(low, high + 1, step, dtype=np.int64))
                points *= count(name)
            else:
                axes.append(np.unique(np.array([low, low + step, opt, high - step, high], np.int64).clip(low, high)))
                points *= len(axes[-1])
        mesh = np.meshgrid(*axes, indexing="ij") if axes else []
        return {name: values.ravel() for name, values in zip(ordered, mesh)}


_PROFILES: contextvars.ContextVar = contextvars.ContextVar("netdsl_profiles", default=None)


class allowed:
    """Within this block, sizes are compared over every value ``profiles`` allow. (A class, not
    ``contextlib.contextmanager``: contextlib's import was on every start-up.)"""

    __slots__ = ("profiles", "token")

    def __init__(self, profiles: list[Profile] | None):
        self.profiles = profiles

    def __enter__(self):
        self.token = _PROFILES.set(self.profiles)
        return None

    def __exit__(self, *exception):
        _PROFILES.reset(self.token)
        return False


SMALL_GRID = 1 << 12  # at most this many points: walked in Python (no numpy import, no array set-up)


def _small_grid(profile: Profile, names: list[str]) -> tuple[list[str], list[tuple]] | None:
    """The points of ``profile.grid(names)`` in the same order (its names, then each point's values) when
    they are at most SMALL_GRID, every value of every dim; else None."""
    def count(name):
        low, _, high = profile.ranges[name]
        return (high - low) // profile.steps.get(name, 1) + 1

    ordered = sorted(names, key=count)
    points = 1
    for name in ordered:
        points *= count(name)
    if points > SMALL_GRID:
        return None
    axes = [range(profile.ranges[n][0], profile.ranges[n][2] + 1, profile.steps.get(n, 1)) for n in ordered]
    return ordered, list(itertools.product(*axes))


def _where(sizes, failing) -> str | None:
    """The first allowed point where ``failing(values...)`` holds: 'at height=321 (profile 0: ...)'."""
    names = set()
    for size in sizes:
        if isinstance(size, Size):
            names |= size.names()
    for profile in _PROFILES.get() or ():
        if not names <= set(profile.ranges):
            continue
        small = _small_grid(profile, sorted(names))
        if small is not None:  # the same points in the same order as the numpy walk below
            ordered, points = small
            for values in points:
                bindings = dict(zip(ordered, values))
                found = [evaluate(s, bindings) for s in sizes]
                if failing(*found):
                    at = ", ".join(f"{n}={bindings[n]}" for n in sorted(bindings))
                    shown = ", ".join(f"{s} = {int(v)}" for s, v in zip(sizes, found) if isinstance(s, Size))
                    return f"at {at} ({profile.describe(names)}): {shown}"
            continue
        import numpy as np

        grid = profile.grid(sorted(names))
        values = [np.broadcast_to(np.asarray(evaluate(s, grid)), (len(next(iter(grid.values()))),)) if grid
                  else np.asarray([evaluate(s, {})]) for s in sizes]
        bad = np.nonzero(failing(*values))[0]
        if len(bad):
            point = {name: int(grid[name][bad[0]]) for name in sorted(grid)}
            found = ", ".join(f"{s} = {int(v[bad[0]])}" for s, v in zip(sizes, values) if isinstance(s, Size))
            at = ", ".join(f"{n}={v}" for n, v in point.items())
            return f"at {at} ({profile.describe(names)}): {found}"
    return None


def disagreement(a, b) -> str | None:
    """None when sizes ``a`` and ``b`` are equal for every value the current profiles allow; else where
    they differ (a value and its profile). Without profiles, only sizes equal in form agree."""
    if a == b:
        return None
    if not (isinstance(a, Size) or isinstance(b, Size)):
        return f"{a} != {b}"
    if _PROFILES.get() is None:
        return f"{a} and {b} cannot be shown equal"
    return _where([a, b], lambda x, y: x != y)


def agree(a, b):
    """The simpler of two sizes that :func:`disagreement` finds equal (None when they are not)."""
    if disagreement(a, b) is not None:
        return None
    return min(a, b, key=lambda s: (isinstance(s, Size), len(str(s)))) if a != b else a


def below(size, least: int) -> str | None:
    """Where ``size`` is below ``least`` for some allowed value, else None (for a static size: whether)."""
    if not isinstance(size, Size):
        return f"{size}" if size < least else None
    names = size.names()
    if all(_bounds(size, {n: (r[0], r[2]) for n, r in profile.ranges.items()})[0] >= least for profile in _PROFILES.get() or ()
           if names <= set(profile.ranges)):
        return None  # interval arithmetic is never narrower than the true range: no allowed value is below
    return _where([size], lambda x: x < least)


# -- simpler forms under the profiles ------------------------------------------------------------------

_UNIT = "unit:"  # Dim("unit:height") is height / its step (a name no spec can write)


def simplify(size, profiles: list[Profile]):
    """An equal form of ``size`` for every value ``profiles`` allow: floor divisions that a dim's step
    (`multiple_of`) makes exact are taken out, and those whose value the ranges fix become constants;
    ``size`` itself when nothing shorter comes out.

        >>> h, w = Dim("height"), Dim("width")
        >>> every_32 = Profile(0, {"height": (128, 640, 1280), "width": (128, 640, 1280)},
        ...                    {"height": 32, "width": 32})
        >>> simplify((h + 15) // 16, [every_32])
        height//16
        >>> simplify((h + 15) // 16 * ((w + 15) // 16) + (h + 31) // 32 * ((w + 31) // 32), [every_32])
        5*(height//32)*(width//32)
        >>> simplify((h + 15) // 16, [Profile(0, {"height": (128, 640, 1280)})])  # any height: as it was
        (height+15)//16
    """
    if not isinstance(size, Size) or not profiles:
        return size
    names = size.names()
    if not all(names <= set(profile.ranges) for profile in profiles):
        return size
    steps = {name: math.gcd(*(profile.steps.get(name, 1) for profile in profiles)) for name in names}
    replacements, bounds = {}, {}
    for name in names:  # a dim with a step is step * a unit dim, whose range is the dim's divided by the step
        low = min(profile.ranges[name][0] for profile in profiles)
        high = max(profile.ranges[name][2] for profile in profiles)
        step = steps[name]
        unit = Dim(_UNIT + name) if step > 1 else Dim(name)
        replacements[name] = step * unit
        bounds[unit.name] = (-(-low // step), high // step)
    simpler = _from_units(_rebuild(size, replacements, bounds), steps)
    if len(str(simpler)) >= len(str(size)) or not _equal_at_corners(size, simpler, profiles):
        return size
    return simpler


def _rebuild(size, replacements: dict, bounds: dict):
    """``size`` with each dim replaced (name -> size), its floor divisions reduced within ``bounds``."""
    total = 0
    for monomial, coefficient in _terms(size).items():
        value = coefficient
        for atom in monomial:
            value = value * (replacements[atom.name] if isinstance(atom, Dim) else
                             _reduced_floor(_rebuild(atom.inner, replacements, bounds), atom.divisor, bounds))
        total = total + value
    return total


def _reduced_floor(inner, divisor: int, bounds: dict):
    """``inner // divisor``, with a factor common to the divisor and the coefficients of ``inner``'s dims
    taken out ((g*p + c)//(g*d) = (p + c//g)//d for every integer p), and a constant when ``inner``
    stays within one multiple of the divisor over ``bounds``."""
    if not isinstance(inner, Size):
        return inner // divisor
    terms = inner.terms()
    common = math.gcd(divisor, *(c for m, c in terms.items() if m))
    if common > 1:
        inner = _make({m: c // common for m, c in terms.items() if m}) + terms.get((), 0) // common
        divisor //= common
    low, high = _bounds(inner, bounds)
    return low // divisor if low // divisor == high // divisor else inner // divisor


def _bounds(size, bounds: dict) -> tuple[int, int]:
    """An interval holding every value of ``size`` when each dim stays within ``bounds`` (name -> (low,
    high)), by interval arithmetic: never narrower than the true range."""
    low = high = 0
    for monomial, coefficient in _terms(size).items():
        lo = hi = coefficient
        for atom in monomial:
            if isinstance(atom, Dim):
                a_lo, a_hi = bounds[atom.name]
            else:
                a_lo, a_hi = (value // atom.divisor for value in _bounds(atom.inner, bounds))
            products = (lo * a_lo, lo * a_hi, hi * a_lo, hi * a_hi)
            lo, hi = min(products), max(products)
        low, high = low + lo, high + hi
    return low, high


def _from_units(size, steps: dict):
    """``size`` over unit dims back over the dims (unit = dim // step, exact), each term's coefficient
    spread over its units: 4*unit:height*unit:width with steps 32 is (height//16)*(width//16)."""
    total = 0
    for monomial, coefficient in _terms(size).items():
        units = [atom.name[len(_UNIT):] for atom in monomial if isinstance(atom, Dim) and atom.name.startswith(_UNIT)]
        divisors = [steps[name] for name in units]
        spread = True
        while spread:
            spread = False
            for index, divisor in enumerate(divisors):
                prime = _smallest_prime_factor(math.gcd(coefficient, divisor))
                if prime:
                    coefficient, divisors[index], spread = coefficient // prime, divisor // prime, True
        value = coefficient
        for name, divisor in zip(units, divisors):
            value = value * (Dim(name) // divisor)
        for atom in monomial:
            if isinstance(atom, FloorDiv):
                value = value * (_from_units(atom.inner, steps) // atom.divisor)
            elif not atom.name.startswith(_UNIT):
                value = value * atom
        total = total + value
    return total


def _smallest_prime_factor(number: int) -> int | None:
    """None for 0 and 1."""
    if number < 2:
        return None
    return next((p for p in range(2, math.isqrt(number) + 1) if number % p == 0), number)


def _equal_at_corners(a, b, profiles: list[Profile]) -> bool:
    """A guard on :func:`simplify`: ``a`` and ``b`` agree at each profile's min, opt and max sizes."""
    return all(evaluate(a, point) == evaluate(b, point) for profile in profiles for role in range(3)
               for point in [{name: r[role] for name, r in profile.ranges.items()}])
