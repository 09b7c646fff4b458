"""The pages' date helpers (web/static/common.js) under Node: a wall-clock time typed in the profile's
zone becomes the right instant (DST on both sides), and a language the browser's Intl has no data for
(Debian's Chromium and Kazakh: "M12 14, Mon") is written with its catalogue's names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.support import REPO

NODE = shutil.which("node")
STATIC = REPO / "web" / "static"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_instants_in_a_zone_and_kazakh_dates_without_intl_data(tmp_path: Path) -> None:
    kk = json.loads((STATIC / "i18n" / "kk.json").read_text(encoding="utf-8"))
    (tmp_path / "i18n.mjs").write_text(
        f"const cat = {json.dumps(kk)};\n"
        "export const has = (k) => k in cat;\n"
        "export const t = (k, v = {}) => (cat[k] ?? `⟦${k}⟧`).replace(/\\{(\\w+)\\}/g, (_, x) => String(v[x] ?? ''));\n"
    )
    src = (STATIC / "common.js").read_text(encoding="utf-8").replace('"/static/i18n.js"', '"./i18n.mjs"')
    (tmp_path / "common.mjs").write_text(src)
    script = """
globalThis.document = { documentElement: { lang: "kk" } };
const real = Intl.DateTimeFormat;  // as Debian's Chromium: Kazakh claimed, but no names ("M01")
const fake = function (loc, opts) { return new real(loc === "kk" ? "und" : loc, opts); };
fake.supportedLocalesOf = (l) => real.supportedLocalesOf(l);
Intl.DateTimeFormat = fake;
const { instantIn, dayLabel, num } = await import("./common.mjs");
console.log(JSON.stringify({
  almaty: instantIn("2026-12-14T10:00", "Asia/Almaty").toISOString(),
  ny_winter: instantIn("2026-12-14T10:00", "America/New_York").toISOString(),
  ny_summer: instantIn("2026-07-14T10:00", "America/New_York").toISOString(),
  week: dayLabel("2026-12-14", { weekday: "long", day: "numeric", month: "short" }),
  long: dayLabel("2026-12-14", { day: "numeric", month: "long", year: "numeric" }),
  number: num(12345.5),
}));
"""
    (tmp_path / "run.mjs").write_text(script)
    res = subprocess.run([NODE, str(tmp_path / "run.mjs")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["almaty"] == "2026-12-14T05:00:00.000Z"
    assert got["ny_winter"] == "2026-12-14T15:00:00.000Z" and got["ny_summer"] == "2026-07-14T14:00:00.000Z"
    assert got["week"] == "14 жел., дүйсенбі", got
    assert got["long"] == "2026 ж. 14 желтоқсан", got
    assert got["number"].replace("\u00a0", " ").replace("\u202f", " ") == "12 345,5", got
