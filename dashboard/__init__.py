"""Berth's web dashboard: server-rendered pages that call the scheduler as the signed-in user."""
