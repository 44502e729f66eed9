"""One module per check; each returns a typed result from audits.results and never prints."""
