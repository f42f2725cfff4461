"""Local stand-ins for the MoEngage Data API and the Ometria Push API.

``MoEngageStandin`` and ``OmetriaStandin`` are HTTP servers on 127.0.0.1 with a control
API (``.control``, and ``/_standin/<method>`` over HTTP) telling a test exactly what was
received, stored, dropped and rejected, and injecting faults.
"""

from __future__ import annotations

from platform_standins.moengage import MoEngageControl, MoEngageStandin
from platform_standins.ometria import OmetriaControl, OmetriaStandin

__all__ = ["MoEngageControl", "MoEngageStandin", "OmetriaControl", "OmetriaStandin"]
