"""One module per check; each returns a typed result (reporting.schema.audit) and never prints."""
