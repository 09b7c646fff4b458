"""An asset's record as the API shows it, and as a Dublin Core XML document (Opencast's dublincore form).

    asset_json(asset)          # the catalogue entry: Dublin Core fields, kind, duration, retention, hold
    dublin_core_xml(asset)     # <dublincore> with dcterms elements, for catalogues that read DC
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from orchestrator.archive.models import Asset

DCTERMS = "http://purl.org/dc/terms/"


def dublin_core(a: Asset) -> dict[str, str]:
    return {
        "title": a.title,
        "creator": a.creator,
        "date": a.dc_date.isoformat(),
        "subject": a.subject,
        "description": a.description,
        "language": a.language,
        "type": a.dc_type,
        "rights": a.rights,
        "identifier": f"urn:sha256:{a.sha256}",
        "format": a.media_type,
    }


def asset_json(a: Asset, *, staff: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "kind": a.kind,
        "status": a.status,
        "dublin_core": dublin_core(a),
        "duration": a.duration,
        "width": a.width,
        "height": a.height,
        "size": a.size,
        "session_id": a.session_id,
        "discipline_id": a.discipline_id,
        "group_id": a.group_id,
        "tutor_id": a.tutor_id,
        "owner_id": a.owner_id,
        "visibility": a.visibility,
        "chapters": a.chapters,
        "has_chat": bool(a.chat),
        "playable": a.file("hls/index.m3u8") is not None,
        "page": f"/archive/{a.id}",
        "legal_hold": a.legal_hold,
        "created_at": a.created_at.isoformat(),
    }
    if staff:
        out["retain_until"] = a.retain_until.isoformat() if a.retain_until else None
        out["hold_reason"] = a.hold_reason
        out["files"] = [{"name": f.name, "role": f.role, "sha256": f.sha256, "size": f.size} for f in a.files]
    return out


def dublin_core_xml(a: Asset) -> str:
    ET.register_namespace("dcterms", DCTERMS)
    root = ET.Element("dublincore", {"xmlns": "http://www.opencastproject.org/xsd/1.0/dublincore/"})
    for name, value in dublin_core(a).items():
        if value:
            ET.SubElement(root, f"{{{DCTERMS}}}{name}").text = value
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
