#!/usr/bin/env python3
"""Regenerates the colour-map tables in include/fmviz/colormap.hpp from matplotlib's published data.

Run with a Python that has matplotlib (Debian: python3-matplotlib):
    python3 tools/make_colormaps.py
It replaces the lines between the BEGIN/END GENERATED markers of colormap.hpp, and nothing else.

- viridis, magma, inferno, plasma (CC0, Nathaniel J. Smith, Stefan van der Walt, Eric Firing) and
  turbo (Apache-2.0, Anton Mikhailov, Google): matplotlib's 256-entry ListedColormap data, each value
  rounded to 8 bits as matplotlib.colors.to_hex does (round(v * 255)).
- diverging: the 11 control points of ColorBrewer's RdBu (Cynthia Brewer, Apache-2.0 licence) as matplotlib
  lists them, ordered blue (negative) to red (positive), with the neutral centre made pure white.
"""
import pathlib
import re

import matplotlib._cm as cm
import matplotlib._cm_listed as listed

HEADER = pathlib.Path(__file__).resolve().parent.parent / "include" / "fmviz" / "colormap.hpp"
BEGIN = "// BEGIN GENERATED TABLES (tools/make_colormaps.py)"
END = "// END GENERATED TABLES"


def to8(v):
    return int(round(v * 255))


def table(name, rows, per_line=8):
    entries = ["{%d, %d, %d}" % tuple(to8(v) for v in row) for row in rows]
    lines = [", ".join(entries[i:i + per_line]) for i in range(0, len(entries), per_line)]
    body = ",\n    ".join(lines)
    return "inline constexpr std::uint8_t %s[%d][3] = {\n    %s};\n" % (name, len(rows), body)


def main():
    parts = []
    for name in ("viridis", "magma", "inferno", "plasma", "turbo"):
        data = getattr(listed, "_%s_data" % name)
        assert len(data) == 256, name
        parts.append(table("%s_table" % name, data))
    rdbu = list(reversed(cm._RdBu_data))  # RdBu_r: blue for low values, red for high
    assert len(rdbu) == 11
    rdbu[5] = (1.0, 1.0, 1.0)  # white exactly at zero
    parts.append(table("diverging_points", rdbu, per_line=6))
    block = BEGIN + "\n" + "\n".join(parts) + END
    text = HEADER.read_text()
    new, n = re.subn(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    if n != 1:
        raise SystemExit("%s: expected one generated block" % HEADER)
    if new != text:
        HEADER.write_text(new)
    print("%s: %s" % (HEADER, "updated" if new != text else "unchanged"))


if __name__ == "__main__":
    main()
