"""Fault drills on the real stack (issue 20): `make drill` runs the long ones
(`python -m tests.drills`), and tests/drills/test_drills.py a short bounded variant."""
