"""Evaluation: test suites, agents (scripted or learned), statistics and reports."""
