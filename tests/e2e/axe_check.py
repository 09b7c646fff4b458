"""axe-core (vendored from the npm registry in tests/e2e/vendor) run inside a Playwright page.

Shared by the browser drivers (run as scripts) and the in-process Playwright tests, so every page is
judged by the same rules: WCAG 2.0/2.1 A and AA and WCAG 2.2 AA; issue 13 §5 accepts no serious or
critical violation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core.min.js").read_text(encoding="utf-8")
AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
                                     resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""


async def violations(page: Any) -> list[dict[str, Any]]:
    """Every violation axe finds in the page as it is now; a page where axe cannot run is not clean."""
    try:
        if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
            await page.evaluate(AXE)  # CDP evaluation: not subject to the page's Content-Security-Policy
        return list(await page.evaluate(AXE_RUN))
    except Exception as exc:  # noqa: BLE001 - recorded as a finding, the test judges
        return [{"id": "axe-failed", "impact": "critical", "help": str(exc)[:300], "nodes": []}]


def serious(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per state, only the serious and critical violations (what §5 forbids)."""
    bad = {state: [v for v in vs if v["impact"] in ("serious", "critical")] for state, vs in found.items()}
    return {k: v for k, v in bad.items() if v}
