"""Delivery: drain the outbox to MoEngage and Ometria (see README "Delivery")."""

from __future__ import annotations
