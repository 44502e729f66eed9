"""The report package: one run's record (report.json, reporting.schema) and its renders.

Both tools write through it and neither compiles anything here. The pieces:

    schema/        the typed records, report.json's versioned form, the reader of v1
    rundir         reports/<UTC time>-<sha>[-dirty]/: report.json, then its renders; latest
    tables         one table model, rendered as console text or as markdown
    audit_tables, bench_table, extra_checks: the tables; console, markdown, csv_table,
                   plots: the renders
    baseline, regressions, publish: baselines and the comparison with one
    version_matrix, matrix_tables: several releases' reports side by side
    history, history_tables, history_plot: reports commit by commit (audits.history)
"""
