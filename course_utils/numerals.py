"""Arabic numbers <-> Chinese numerals (一千九百九十八, 二万零三百零五), written for the course.

The rules are the everyday ones (the same as the ``cn2an`` library, which the
tests use as a reference):

* digits are read in groups of four: ``亿 | 万 | (units)``, each group with 千百十;
* a run of zeros inside the number is read as a single 零 (1001 -> 一千零一,
  20305 -> 二万零三百零五, 100000001 -> 一亿零一), trailing zeros are silent;
* a number that *starts* with 1 in the tens place drops the 一 (15 -> 十五,
  110000 -> 十一万), elsewhere it stays (115 -> 一百一十五).

``to_chinese`` writes 0 <= n < 10**12. ``from_chinese`` reads what it writes, the variants
that cn2an's strict mode also reads (一十五; a bare 十 after 零, as in 二十万零十; 万亿, as in
一万亿 = 10**12), and nothing else: units must fall (千 百 十), and one 零 marks a skipped
place exactly where one is skipped. A malformed numeral (十十, 一千千, 三百二千, 一千一十,
一百五) gets a ValueError that names the problem. After 亿 it is stricter than cn2an, which
also reads 十五亿九万 (for 十五亿零九万) and 一亿零一千万 (for 一亿一千万).

The data set of the translation task and its decoding demo live in ``numeral_dataset`` and
``numeral_translation``.
"""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
SMALL_UNITS = ("千", "百", "十", "")  # inside a group of four digits
GROUP_UNITS = ("亿", "万", "")  # for the groups, most significant first
MAX_NUMBER = 10**12 - 1
CHINESE_CHARS = frozenset(DIGITS + "十百千万亿")


def _group_to_chinese(g: int, leading: bool) -> str:
    """A 4-digit group (0 < g < 10000) without its group unit."""
    out = []
    digits = f"{g:04d}"
    zero_pending = False
    started = False
    for d, unit in zip(digits, SMALL_UNITS):
        if d == "0":
            zero_pending = started
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        if not (leading and not started and unit == "十" and d == "1"):
            out.append(DIGITS[int(d)])
        out.append(unit)
        started = True
    return "".join(out)


def to_chinese(n: int) -> str:
    """1998 -> '一千九百九十八', 20305 -> '二万零三百零五', 0 -> '零'."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"to_chinese expects an int, got {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"to_chinese supports 0 <= n < 10**12, got {n}")
    if n == 0:
        return DIGITS[0]
    groups = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    out: list[str] = []
    need_zero = False  # a zero was skipped since the last group we wrote
    for g, unit in zip(groups, GROUP_UNITS):
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_group_to_chinese(g, leading=not out) + unit)
        need_zero = False
    return "".join(out)


_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_GROUPS = (("亿", 10**8), ("万", 10**4))  # most significant first


def from_chinese(text: str) -> int:
    """'二万零三百零五' -> 20305; the inverse of ``to_chinese``."""
    if not isinstance(text, str):
        raise TypeError(f"from_chinese expects a str, got {type(text).__name__}")
    if not text or any(ch not in CHINESE_CHARS for ch in text):
        bad = sorted({ch for ch in text if ch not in CHINESE_CHARS})
        raise ValueError(
            f"expected Chinese numeral characters {''.join(sorted(CHINESE_CHARS))}, "
            f"got {text!r}" + (f" (unknown: {''.join(bad)})" if bad else "")
        )
    if text == "零":
        return 0
    if text.startswith("零"):
        raise ValueError(f"{text!r} starts with 零: a leading zero is not written")
    if text.endswith("零"):
        raise ValueError(f"{text!r} ends with 零: trailing zeros are silent (一百, not 一百零)")
    if "零零" in text:
        raise ValueError(f"{text!r} has 零零: a run of zeros is read as a single 零")
    return _parse_groups(text, text, _GROUPS)


def _parse_groups(part: str, text: str, groups) -> int:
    """``part`` with the group units of ``groups`` (亿 then 万); the head of 亿 may hold 万."""
    if not groups:
        return _parse_section(part, text)
    (unit, size), lower = groups[0], groups[1:]
    if unit not in part:
        return _parse_groups(part, text, lower)
    head, rest = part.split(unit, 1)
    if unit in rest:
        raise ValueError(f"{unit} appears twice in {text!r}")
    if not head:
        raise ValueError(f"{unit} needs a number before it in {text!r}")
    high = _parse_groups(head, text, lower)
    zero = rest.startswith("零")
    if rest == "零":
        raise ValueError(f"零 must be followed by a digit in {text!r}")
    low = _parse_groups(rest[1:] if zero else rest, text, lower) if rest else 0
    top = size // 10  # the highest place right after the unit (千万 after 亿, 千 after 万)
    if rest and not zero and low < top:
        raise ValueError(
            f"{text!r} skips a place after {unit} without 零 "
            f"(it would be written {_written(high * size + low)})"
        )
    if zero and low >= top:
        raise ValueError(f"{text!r} has a 零 after {unit} where no place is skipped")
    return high * size + low


def _parse_section(part: str, text: str) -> int:
    """Up to 9999, written with 千百十: units fall, a skipped place is marked by one 零."""
    value, place, digit, zero = 0, 10_000, None, False
    for i, ch in enumerate(part):
        if ch == "零":
            if digit is not None:
                raise ValueError(f"the digit {DIGITS[digit]} in {text!r} needs a unit after it")
            zero = True
        elif ch in DIGITS:
            if digit is not None:
                raise ValueError(
                    f"two digits in a row in {text!r}: Chinese numerals need a unit "
                    f"(十百千万亿) between digits"
                )
            digit = DIGITS.index(ch)
        else:
            unit = _SMALL_UNITS[ch]
            if unit >= place:
                problem = "appears twice" if unit == place else "comes after a smaller unit"
                raise ValueError(f"{ch} {problem} in {text!r}: units fall from 千 to 百 to 十")
            if digit is None and not (ch == "十" and (i == 0 or zero)):
                raise ValueError(f"{ch} needs a digit before it in {text!r}")
            _check_gap(place, unit, zero, text)
            value += (1 if digit is None else digit) * unit
            place, digit, zero = unit, None, False
    if zero and digit is None:
        raise ValueError(f"零 must be followed by a digit in {text!r}")
    if digit is not None:
        _check_gap(place, 1, zero, text)
        value += digit
    return value


def _check_gap(place: int, unit: int, zero: bool, text: str) -> None:
    """Between two places, one 零 exactly when a place is skipped (一千零五, not 一千五)."""
    if place == 10_000:  # the first term of the section
        return
    skipped = unit < place // 10
    if skipped and not zero:
        raise ValueError(
            f"{text!r} skips a place without 零 (a digit after 百 or 千 needs "
            "its unit, as in 一百五十, or a 零, as in 一百零五)"
        )
    if zero and not skipped:
        raise ValueError(f"{text!r} has a 零 where no place is skipped")


def _written(n: int) -> str:
    """``to_chinese(n)`` inside its range, else the digits (for error messages)."""
    return to_chinese(n) if 0 <= n <= MAX_NUMBER else str(n)
