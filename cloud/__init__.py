"""Talks to real AWS through boto3. Never imports ``hpjobs``: it gets request dicts and paths and
returns AWS response dicts and files."""
